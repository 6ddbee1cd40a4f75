package simulate

import "time"

// Reach is one node reached by the compromise: its hop count and the node it
// was reached from (-1 for a seed). Following parents gives the attack path.
// In a timed run, Time is the earliest compromise time in seconds and TParent
// the predecessor on the earliest path.
type Reach struct {
	Node    int32
	Hops    int32
	Parent  int32
	Time    int64
	TParent int32
}

// spread runs the breadth-first compromise spread. Seeds are enqueued in id
// order and neighbours are visited in id order (CSR lists are sorted), so the
// queue is always in lexicographic order of the paths that reach its nodes:
// the first node to discover another is the parent on the smallest shortest
// path, which is the path DESIGN.md asks for.
//
// With a horizon, only nodes compromised by then (found by earliest) count,
// and an edge is crossed only if the attacker, arriving at its source at the
// earliest time, can cross it before the horizon: every hop of a reported
// path is possible in time (the path as a whole is the shortest such, not
// necessarily one whose dwell times all add up within the horizon).
func (e *Engine) spread(sc *scratch, sd seeds, s Scenario, r *Result) {
	ix := e.ix
	q := sc.queue[:0]
	reached := sc.reachBuf[:0]
	horizon := s.At > 0
	limit := int64(s.At / time.Second)
	var reach func(d, hops, parent int32)
	reach = func(d, hops, parent int32) {
		if sc.isReached(d) || (horizon && sc.timeEpoch[d] != sc.epoch) {
			return
		}
		sc.reached[d] = sc.epoch
		sc.hops[d] = hops
		sc.parent[d] = parent
		q = append(q, d)
		rc := Reach{Node: d, Hops: hops, Parent: parent, Time: -1, TParent: -1}
		if r.timed {
			rc.Time, rc.TParent = sc.time[d], sc.tparent[d]
		}
		reached = append(reached, rc)
		// Co-residents share the host's compromise and its hop count.
		for _, res := range ix.Residents(d) {
			reach(res, hops, d)
		}
		if e.opts.ServiceCompromisesHost {
			if h := ix.RunsOn(d); h >= 0 {
				reach(h, hops, d)
			}
		}
	}
	for _, s := range sd.compromised {
		reach(s, 0, -1)
	}
	hasBlocked := sc.blocked.any()
	hasQuar := sc.quar.any()
	for head := 0; head < len(q); head++ {
		u := q[head]
		if hasQuar && sc.quar.has(u) {
			continue // a quarantined node has no edges left to spread over
		}
		lo, hi := ix.Out(u)
		next := sc.hops[u] + 1
		for ei := lo; ei < hi; ei++ {
			v := ix.Target(ei)
			if sc.isReached(v) {
				continue
			}
			if hasBlocked && sc.blocked.has(int32(ei)) {
				continue
			}
			if hasQuar && sc.quar.has(v) {
				continue
			}
			c := &e.classes[ix.PortSet(ei)]
			if (s.LateralOnly && !c.lateral) || (horizon && sc.time[u]+c.dwell > limit) {
				continue
			}
			reach(v, next, u)
		}
	}
	sc.queue = q
	sc.reachBuf = reached
	r.Reached = append([]Reach(nil), reached...) // exact size, owned by the result
}

// Path returns the attack path to node d, seed first, or nil if d was not
// reached.
func (r *Result) Path(d int32) []int32 {
	return r.walkBack(d, func(rc Reach) int32 { return rc.Parent })
}

// walkBack follows parent links from d to its seed and returns the path seed
// first, or nil if d was not reached.
func (r *Result) walkBack(d int32, parent func(Reach) int32) []int32 {
	r.indexReached()
	i, ok := r.reachedAt[d]
	if !ok {
		return nil
	}
	var rev []int32
	for {
		rc := r.Reached[i]
		rev = append(rev, rc.Node)
		p := parent(rc)
		if p < 0 {
			break
		}
		i = r.reachedAt[p]
	}
	for a, b := 0, len(rev)-1; a < b; a, b = a+1, b-1 {
		rev[a], rev[b] = rev[b], rev[a]
	}
	return rev
}

func (r *Result) indexReached() {
	r.once.Do(func() {
		r.reachedAt = make(map[int32]int, len(r.Reached))
		for i, rc := range r.Reached {
			r.reachedAt[rc.Node] = i
		}
	})
}

// Compromised reports whether node d was reached.
func (r *Result) Compromised(d int32) bool {
	r.indexReached()
	_, ok := r.reachedAt[d]
	return ok
}
