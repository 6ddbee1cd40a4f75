package simulate

import "time"

// earliest computes each node's earliest compromise time: Dijkstra from the
// seeds over the edges' dwell times (co-residents at no extra cost), stopping
// at the scenario's horizon. spread then limits the blast radius to the nodes
// found here when a horizon is set.
func (e *Engine) earliest(sc *scratch, sd seeds, s Scenario, r *Result) {
	r.timed = true
	e.dijkstra(sc, sd, s, nil, nil)
}

// dijkstra settles nodes in order of their earliest compromise time from the
// seeds, recording times and earliest-path parents in the scratch space and
// calling visit (if not nil) for each settled node. Each node settles once,
// so each of its edges is tried once: with rng set (a Monte Carlo trial) that
// is where the edge's success is drawn.
func (e *Engine) dijkstra(sc *scratch, sd seeds, s Scenario, rng *splitmix64, visit func(u int32, t int64)) {
	horizon := int64(-1)
	if s.At > 0 {
		horizon = int64(s.At / time.Second)
	}
	h := sc.heap[:0]
	relax := func(v int32, t int64, parent int32) {
		if horizon >= 0 && t > horizon {
			return
		}
		if sc.timeEpoch[v] == sc.epoch && sc.time[v] <= t {
			return
		}
		sc.timeEpoch[v] = sc.epoch
		sc.time[v] = t
		sc.tparent[v] = parent
		h = h.push(heapItem{t: t, node: v})
	}
	for _, d := range sd.compromised {
		relax(d, 0, -1)
	}
	hasBlocked, hasQuar := sc.blocked.any(), sc.quar.any()
	for len(h) > 0 {
		var it heapItem
		h, it = h.pop()
		u := it.node
		if sc.settled[u] == sc.epoch || it.t != sc.time[u] {
			continue // a stale entry: u was reached sooner
		}
		sc.settled[u] = sc.epoch
		if visit != nil {
			visit(u, it.t)
		}
		for _, res := range e.ix.Residents(u) {
			relax(res, it.t, u)
		}
		if e.opts.ServiceCompromisesHost {
			if host := e.ix.RunsOn(u); host >= 0 {
				relax(host, it.t, u)
			}
		}
		if hasQuar && sc.quar.has(u) {
			continue
		}
		lo, hi := e.ix.Out(u)
		for ei := lo; ei < hi; ei++ {
			v := e.ix.Target(ei)
			if sc.settled[v] == sc.epoch || (hasBlocked && sc.blocked.has(int32(ei))) || (hasQuar && sc.quar.has(v)) {
				continue
			}
			c := &e.classes[e.ix.PortSet(ei)]
			if (s.LateralOnly && !c.lateral) || (rng != nil && !c.success(rng.next())) {
				continue
			}
			relax(v, it.t+c.dwell, u)
		}
	}
	sc.heap = h
}

// heapItem orders nodes by time, then id, so runs are deterministic.
type heapItem struct {
	t    int64
	node int32
}

func (a heapItem) less(b heapItem) bool { return a.t < b.t || (a.t == b.t && a.node < b.node) }

// minHeap is a binary heap over a slice; value methods return the slice so
// callers keep its capacity between runs.
type minHeap []heapItem

func (h minHeap) push(x heapItem) minHeap {
	h = append(h, x)
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !h[i].less(h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	return h
}

func (h minHeap) pop() (minHeap, heapItem) {
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h) && h[l].less(h[m]) {
			m = l
		}
		if r < len(h) && h[r].less(h[m]) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	return h, top
}

// Time returns node d's earliest compromise time, if the run was timed and d
// was reached.
func (r *Result) Time(d int32) (time.Duration, bool) {
	r.indexReached()
	i, ok := r.reachedAt[d]
	if !ok || !r.timed {
		return 0, false
	}
	return time.Duration(r.Reached[i].Time) * time.Second, true
}

// EarliestPath returns the path by which node d is compromised soonest, seed
// first, or nil if the run was not timed or d was not reached.
func (r *Result) EarliestPath(d int32) []int32 {
	if !r.timed {
		return nil
	}
	return r.walkBack(d, func(rc Reach) int32 { return rc.TParent })
}
