package simulate

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firebreak/firebreak/graph"
)

// MaxTrials bounds a Monte Carlo run (per-node histograms count in 16 bits).
const MaxTrials = 65535

// MCOptions configures a Monte Carlo run.
type MCOptions struct {
	Trials  int
	Seed    uint64
	Workers int // 0 means one per CPU
}

// MCNode is one node's outcome over all trials.
type MCNode struct {
	Node        int32
	Probability float64       // share of trials in which it was compromised
	Median      time.Duration // median earliest compromise time over those trials
}

// MCJourney is one journey's exposure over all trials.
type MCJourney struct {
	Journey  *graph.CJourney
	Exposure float64 // share of trials in which a node it names was compromised
}

// MCResult is the outcome of a Monte Carlo run. It depends only on the
// scenario, the trial count and the seed: not on the number of workers.
type MCResult struct {
	Trials   int
	Seed     uint64
	Nodes    []MCNode // every node compromised in some trial, by dense id
	Journeys []MCJourney
}

// Median times are exact while a node's arrival times take few distinct
// values (sums of a handful of dwell times: the usual case), kept as
// (time, count) pairs. Beyond that they fall back to log-spaced bins:
// binsPerDoubling per doubling of time, from one second to 2^maxDoublings
// seconds (about two years), the median interpolated inside its bin (±4.5%)
// and clamped to the node's exact minimum and maximum.
const (
	maxDistinct     = 16
	binsPerDoubling = 8
	maxDoublings    = 26
	numBins         = 1 + binsPerDoubling*maxDoublings
)

func binOf(t int64) int {
	if t < 1 {
		return 0
	}
	b := 1 + int(math.Log2(float64(t))*binsPerDoubling)
	return min(b, numBins-1)
}

func binBounds(b int) (lo, hi float64) {
	if b == 0 {
		return 0, 1
	}
	return math.Exp2(float64(b-1) / binsPerDoubling), math.Exp2(float64(b) / binsPerDoubling)
}

// mcAgg accumulates one worker's trials; aggregation is commutative so the
// merged result does not depend on which worker ran which trial.
type mcAgg struct {
	count    []uint32
	minT     []int64
	maxT     []int64
	histAt   []int32 // index into hists/exact, -1 if none yet
	hists    [][numBins]uint16
	exact    []distinct
	exposed  []uint32 // per journey
	journeys [][]int32
}

func newAgg(n, nj int, journeys [][]int32) *mcAgg {
	a := &mcAgg{count: make([]uint32, n), minT: make([]int64, n), maxT: make([]int64, n), histAt: make([]int32, n),
		exposed: make([]uint32, nj), journeys: journeys}
	for i := range a.histAt {
		a.histAt[i] = -1
	}
	return a
}

// distinct holds a node's arrival times exactly while they are few.
type distinct struct {
	n        uint8
	overflow bool
	t        [maxDistinct]int64
	c        [maxDistinct]uint32
}

func (d *distinct) add(t int64) bool {
	for i := uint8(0); i < d.n; i++ {
		if d.t[i] == t {
			d.c[i]++
			return true
		}
	}
	if d.n == maxDistinct {
		d.overflow = true
		return false
	}
	d.t[d.n], d.c[d.n] = t, 1
	d.n++
	return true
}

func (a *mcAgg) add(v int32, t int64) {
	if a.count[v] == 0 || t < a.minT[v] {
		a.minT[v] = t
	}
	if a.count[v] == 0 || t > a.maxT[v] {
		a.maxT[v] = t
	}
	a.count[v]++
	if a.histAt[v] < 0 {
		a.histAt[v] = int32(len(a.hists))
		a.hists = append(a.hists, [numBins]uint16{})
		a.exact = append(a.exact, distinct{})
	}
	at := a.histAt[v]
	a.hists[at][binOf(t)]++
	if !a.exact[at].overflow {
		a.exact[at].add(t)
	}
}

// splitmix64 is a small, fast generator; each trial seeds its own from the
// run's seed and the trial number, so trials are independent of scheduling.
type splitmix64 uint64

func (s *splitmix64) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// MonteCarlo runs o.Trials seeded trials of probabilistic spread: in each,
// every edge the attacker tries succeeds with its port class's probability
// (independently, once per trial) and takes its class's dwell time. It
// honours the scenario's containment, lateral-only filter and horizon, and
// stops early with ctx's error if ctx is cancelled.
func (e *Engine) MonteCarlo(ctx context.Context, s Scenario, o MCOptions) (*MCResult, error) {
	if o.Trials < 1 || o.Trials > MaxTrials {
		return nil, fmt.Errorf("%w: trials must be 1..%d, got %d", graph.ErrInvalid, MaxTrials, o.Trials)
	}
	if s.At < 0 {
		return nil, fmt.Errorf("%w: --at %v is negative", graph.ErrInvalid, s.At)
	}
	sd, err := e.resolve(s)
	if err != nil {
		return nil, err
	}
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, o.Trials)
	js := e.ix.Journeys()
	jnodes := make([][]int32, len(js))
	for i := range js {
		for _, st := range js[i].Steps {
			jnodes[i] = append(jnodes[i], st.Nodes()...)
		}
	}
	var next atomic.Int64
	aggs := make([]*mcAgg, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			sc := e.pool.Get().(*scratch)
			defer e.pool.Put(sc)
			agg := newAgg(e.ix.Len(), len(js), jnodes)
			aggs[w] = agg
			sc.begin()
			e.applyMasks(sc, sd)
			defer sc.end()
			for {
				t := next.Add(1) - 1
				if t >= int64(o.Trials) {
					return
				}
				if t%16 == 0 && ctx.Err() != nil {
					errs[w] = ctx.Err()
					return
				}
				sc.begin()
				rng := splitmix64(o.Seed ^ uint64(t)*0xd1b54a32d192ed03)
				e.trial(sc, sd, s, &rng, agg)
			}
		}(w)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return mergeAggs(e.ix, o, aggs), nil
}

// trial is one probabilistic spread: the timed spread, with each edge's
// success drawn when its source settles.
func (e *Engine) trial(sc *scratch, sd seeds, s Scenario, rng *splitmix64, agg *mcAgg) {
	e.dijkstra(sc, sd, s, rng, agg.add)
	for j, nodes := range agg.journeys {
		for _, d := range nodes {
			if sc.settled[d] == sc.epoch {
				agg.exposed[j]++
				break
			}
		}
	}
}

func mergeAggs(ix *graph.Index, o MCOptions, aggs []*mcAgg) *MCResult {
	res := &MCResult{Trials: o.Trials, Seed: o.Seed}
	js := ix.Journeys()
	for j := range js {
		var n uint32
		for _, a := range aggs {
			n += a.exposed[j]
		}
		res.Journeys = append(res.Journeys, MCJourney{Journey: &js[j], Exposure: float64(n) / float64(o.Trials)})
	}
	var hist [numBins]uint32
	var exact map[int64]uint32
	for v := 0; v < ix.Len(); v++ {
		var count uint32
		lo, hi := int64(math.MaxInt64), int64(-1)
		clear(hist[:])
		exact = map[int64]uint32{}
		isExact := true
		for _, a := range aggs {
			if a.count[v] == 0 {
				continue
			}
			count += a.count[v]
			lo, hi = min(lo, a.minT[v]), max(hi, a.maxT[v])
			at := a.histAt[v]
			for b, c := range a.hists[at] {
				hist[b] += uint32(c)
			}
			d := &a.exact[at]
			isExact = isExact && !d.overflow
			for i := uint8(0); isExact && i < d.n; i++ {
				exact[d.t[i]] += d.c[i]
			}
		}
		if count == 0 {
			continue
		}
		// The choice depends only on the union of all trials (a worker that
		// overflowed saw more than maxDistinct values, so the union has more
		// too), so the answer does not depend on how trials were split.
		var med int64
		if isExact && len(exact) <= maxDistinct {
			med = medianExact(exact, count)
		} else {
			med = median(&hist, count, lo, hi)
		}
		res.Nodes = append(res.Nodes, MCNode{
			Node:        int32(v),
			Probability: float64(count) / float64(o.Trials),
			Median:      time.Duration(med) * time.Second,
		})
	}
	return res
}

// medianExact returns the lower median of count samples held as value counts.
func medianExact(values map[int64]uint32, count uint32) int64 {
	ts := make([]int64, 0, len(values))
	for t := range values {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	k := (count + 1) / 2
	var cum uint32
	for _, t := range ts {
		cum += values[t]
		if cum >= k {
			return t
		}
	}
	return ts[len(ts)-1]
}

// median returns the lower median of count samples binned in hist,
// interpolated geometrically inside its bin and clamped to [lo, hi].
func median(hist *[numBins]uint32, count uint32, lo, hi int64) int64 {
	if lo == hi {
		return lo
	}
	k := (count + 1) / 2
	var cum uint32
	for b, c := range hist {
		if c == 0 || cum+c < k {
			cum += c
			continue
		}
		blo, bhi := binBounds(b)
		frac := (float64(k-cum) - 0.5) / float64(c)
		var v float64
		if b == 0 {
			v = blo + frac*(bhi-blo)
		} else {
			v = blo * math.Pow(bhi/blo, frac)
		}
		return min(max(int64(math.Round(v)), lo), hi)
	}
	return hi
}
