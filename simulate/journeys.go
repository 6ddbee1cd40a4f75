package simulate

import (
	"fmt"
	"strings"
	"sync"

	"github.com/firebreak/firebreak/graph"
)

// Status is a journey's outcome.
type Status uint8

// Journey statuses, in increasing severity.
const (
	StatusOK Status = iota
	StatusDegraded
	StatusBroken
)

func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusDegraded:
		return "degraded"
	case StatusBroken:
		return "broken"
	}
	return "unknown"
}

// JourneyResult is one journey's outcome. Cause explains it; it is
// formatted on demand, so a run over thousands of journeys pays only for the
// explanations someone reads.
type JourneyResult struct {
	Journey *graph.CJourney
	Status  Status
	Exposed bool

	res         *Result
	step        int     // the step that set Status
	culprit     culprit // what made that step fail or degrade
	exposedBy   int32   // a compromised node the journey names, or -1
	exposedStep int
}

// Impact sums the weights of affected journeys: those broken, degraded or
// exposed.
type Impact struct {
	Broken, Degraded, Exposed int
	CustomersPerHour          float64
	RevenuePerHour            float64
}

// Result is the outcome of one scenario.
type Result struct {
	ix       *graph.Index
	scenario Scenario
	seeds    seeds
	timed    bool

	Reached  []Reach // breadth-first order
	Failed   []Cause // in the order they failed
	Degraded []Cause
	Journeys []JourneyResult // in index (id) order
	Impact   Impact

	once      sync.Once
	reachedAt map[int32]int
	causeAt   map[int32]Cause
	causeOnce sync.Once
}

// Index returns the index the result refers to.
func (r *Result) Index() *graph.Index { return r.ix }

// Scenario returns the scenario that produced the result.
func (r *Result) Scenario() Scenario { return r.scenario }

// journeys evaluates every journey against the failed, degraded and
// compromised sets while the run's scratch is still live.
func (e *Engine) journeys(sc *scratch, r *Result) {
	js := e.ix.Journeys()
	r.Journeys = make([]JourneyResult, len(js))
	for i := range js {
		j := &js[i]
		jr := JourneyResult{Journey: j, res: r, exposedBy: -1}
		for si := range j.Steps {
			st := &j.Steps[si]
			status, c := stepStatus(sc, st)
			if status > jr.Status {
				jr.Status, jr.step, jr.culprit = status, si, c
			}
			if jr.exposedBy < 0 {
				if d := stepCompromised(sc, st); d >= 0 {
					jr.exposedBy, jr.exposedStep = d, si
				}
			}
		}
		jr.Exposed = jr.exposedBy >= 0
		switch jr.Status {
		case StatusBroken:
			r.Impact.Broken++
		case StatusDegraded:
			r.Impact.Degraded++
		}
		if jr.Exposed {
			r.Impact.Exposed++
		}
		if jr.Status != StatusOK || jr.Exposed {
			r.Impact.CustomersPerHour += j.CustomersPerHour
			r.Impact.RevenuePerHour += j.RevenuePerHour
		}
		r.Journeys[i] = jr
	}
}

// Cause says why the journey is broken, degraded or exposed, following the
// chain of failures back to its seed: `step 3 "pay" down: payment-api ←
// payment-db ← db-host-2 (quarantined)`. It is empty for an ok journey.
func (jr JourneyResult) Cause() string {
	var parts []string
	if jr.Status != StatusOK {
		parts = append(parts, jr.res.stepCause(jr.Journey, jr.step, jr.Status, jr.culprit))
	}
	if jr.Exposed {
		parts = append(parts, fmt.Sprintf("exposed: %s reaches compromised %s", stepName(jr.Journey, jr.exposedStep), jr.res.ix.ID(jr.exposedBy)))
	}
	return strings.Join(parts, "; ")
}

// culprit identifies what made a step fail or degrade: a required node, or
// (alt >= 0) a whole any_of list.
type culprit struct {
	node int32
	alt  int
}

func stepStatus(sc *scratch, st *graph.CStep) (Status, culprit) {
	for _, d := range st.Requires {
		if sc.isFailed(d) {
			return StatusBroken, culprit{d, -1}
		}
	}
	for ai, alt := range st.AnyOf {
		allDown := true
		for _, d := range alt {
			if !sc.isFailed(d) {
				allDown = false
				break
			}
		}
		if allDown {
			return StatusBroken, culprit{alt[0], ai}
		}
	}
	for _, d := range st.Requires {
		if sc.isDegraded(d) {
			return StatusDegraded, culprit{d, -1}
		}
	}
	for ai, alt := range st.AnyOf {
		healthy := false
		var first int32 = -1
		for _, d := range alt {
			if !sc.isFailed(d) && !sc.isDegraded(d) {
				healthy = true
				break
			}
			if first < 0 && sc.isDegraded(d) {
				first = d
			}
		}
		if !healthy {
			return StatusDegraded, culprit{first, ai}
		}
	}
	return StatusOK, culprit{-1, -1}
}

func stepCompromised(sc *scratch, st *graph.CStep) int32 {
	for _, d := range st.Requires {
		if sc.isReached(d) {
			return d
		}
	}
	for _, alt := range st.AnyOf {
		for _, d := range alt {
			if sc.isReached(d) {
				return d
			}
		}
	}
	return -1
}

func stepName(j *graph.CJourney, si int) string {
	if n := j.Steps[si].Name; n != "" {
		return fmt.Sprintf("step %d %q", si+1, n)
	}
	return fmt.Sprintf("step %d", si+1)
}

// stepCause writes why a step is broken or degraded.
func (r *Result) stepCause(j *graph.CJourney, si int, st Status, c culprit) string {
	word := "down"
	if st == StatusDegraded {
		word = "degraded"
	}
	if c.alt >= 0 {
		return fmt.Sprintf("%s %s: all of %s %s; %s", stepName(j, si), word,
			describe(r.ix, j.Steps[si].AnyOf[c.alt]), word, r.chain(c.node))
	}
	return fmt.Sprintf("%s %s: %s", stepName(j, si), word, r.chain(c.node))
}

// maxChain bounds cause chains in messages.
const maxChain = 6

// chain renders "a ← b ← c (reason)" from d back to its seed. Every node on
// it failed or degraded in this run, so it has a recorded cause.
func (r *Result) chain(d int32) string {
	var b strings.Builder
	cur := d
	for i := 0; ; i++ {
		b.WriteString(r.ix.ID(cur))
		c, ok := r.CauseOf(cur)
		switch {
		case !ok:
			return b.String()
		case c.Reason == ReasonBlocked:
			fmt.Fprintf(&b, " (edge %s:%s blocked)", r.ix.ID(cur), r.ix.ID(c.By))
			return b.String()
		case c.By < 0:
			fmt.Fprintf(&b, " (%s)", c.Reason)
			return b.String()
		case i == maxChain:
			b.WriteString(" ← …")
			return b.String()
		}
		b.WriteString(" ← ")
		cur = c.By
	}
}
