package simulate

import "github.com/firebreak/firebreak/graph"

// Reason says why a node failed or degraded.
type Reason uint8

// Reasons. Seeds carry the first four; propagated states the rest.
const (
	ReasonFailed      Reason = iota + 1 // named with --fail
	ReasonQuarantined                   // quarantined (or its host is)
	ReasonOffline                       // compromised and taken offline
	ReasonBlocked                       // a dependency group lost its last member to a blocked edge
	ReasonHost                          // runs on a failed host
	ReasonHardDep                       // a hard dependency group is all down
	ReasonSoftDep                       // a soft dependency group is all down (degraded)
	ReasonDegradedDep                   // a dependency is degraded (degraded)
)

func (r Reason) String() string {
	switch r {
	case ReasonFailed:
		return "failed"
	case ReasonQuarantined:
		return "quarantined"
	case ReasonOffline:
		return "compromised, offline"
	case ReasonBlocked:
		return "edge blocked"
	case ReasonHost:
		return "host down"
	case ReasonHardDep:
		return "hard dependency down"
	case ReasonSoftDep:
		return "soft dependency down"
	case ReasonDegradedDep:
		return "dependency degraded"
	}
	return "unknown"
}

// Cause records a failed or degraded node and what made it so: By is the node
// it depends on (or its host, or the blocked edge's target), -1 for seeds.
type Cause struct {
	Node   int32
	By     int32
	Reason Reason
}

// fail computes the least fixpoint of failure, then of degradation.
//
// A node fails when some hard dependency slot (a replica group, or a single
// ungrouped edge) has lost every member to failure or blocking. Each edge is
// counted once, when its target fails, so the work is linear in the edges
// around failed nodes and cycles terminate.
func (e *Engine) fail(sc *scratch, sd seeds, r *Result, offline bool) {
	ix := e.ix
	q := sc.queue[:0]
	var down func(d, by int32, why Reason)
	down = func(d, by int32, why Reason) {
		if sc.isFailed(d) {
			return
		}
		sc.failed[d] = sc.epoch
		sc.cause[d] = by
		sc.reason[d] = why
		q = append(q, d)
		r.Failed = append(r.Failed, Cause{Node: d, By: by, Reason: why})
		for _, res := range ix.Residents(d) {
			down(res, d, ReasonHost)
		}
	}
	for _, d := range sd.failed {
		down(d, -1, ReasonFailed)
	}
	for _, d := range sd.quarantined {
		down(d, -1, ReasonQuarantined)
	}
	if offline {
		for _, rc := range r.Reached {
			down(rc.Node, -1, ReasonOffline)
		}
	}
	var softDown []Cause
	for _, b := range sd.blocked {
		s := ix.EdgeSlot(b)
		if s < 0 {
			continue
		}
		if sc.slotDown(ix, s) {
			from, to := ix.Source(b), ix.Target(b)
			if ix.SlotSoft(s) {
				softDown = append(softDown, Cause{Node: from, By: to, Reason: ReasonBlocked})
			} else {
				down(from, to, ReasonBlocked)
			}
		}
	}
	hasBlocked := sc.blocked.any()
	for head := 0; head < len(q); head++ {
		v := q[head]
		lo, hi := ix.In(v)
		for ri := lo; ri < hi; ri++ {
			u := ix.RevSource(ri)
			if sc.isFailed(u) {
				continue
			}
			s := ix.RevSlot(ri)
			if s < 0 || (hasBlocked && isBlocked(ix, sc, u, v)) {
				continue // reachability only, or already counted as blocked
			}
			if sc.slotDown(ix, s) {
				if ix.SlotSoft(s) {
					softDown = append(softDown, Cause{Node: u, By: v, Reason: ReasonSoftDep})
				} else {
					down(u, v, ReasonHardDep)
				}
			}
		}
	}
	e.degrade(sc, r, q[:0], softDown)
}

// degrade marks nodes that have not failed but lost a whole soft dependency
// group, then everything that depends (hard or soft, over an unblocked edge)
// on a degraded node.
func (e *Engine) degrade(sc *scratch, r *Result, q []int32, softDown []Cause) {
	ix := e.ix
	mark := func(d, by int32, why Reason) {
		if sc.isFailed(d) || sc.isDegraded(d) {
			return
		}
		sc.degr[d] = sc.epoch
		sc.cause[d] = by
		sc.reason[d] = why
		q = append(q, d)
		r.Degraded = append(r.Degraded, Cause{Node: d, By: by, Reason: why})
	}
	for _, c := range softDown {
		mark(c.Node, c.By, c.Reason)
	}
	hasBlocked := sc.blocked.any()
	for head := 0; head < len(q); head++ {
		v := q[head]
		lo, hi := ix.In(v)
		for ri := lo; ri < hi; ri++ {
			u := ix.RevSource(ri)
			if ix.RevSlot(ri) < 0 || (hasBlocked && isBlocked(ix, sc, u, v)) {
				continue
			}
			mark(u, v, ReasonDegradedDep)
		}
	}
	sc.queue = q
}

// isBlocked reports whether edge u->v is blocked. Reverse entries carry no
// forward position, so this looks the edge up; it only runs when the scenario
// blocks something.
func isBlocked(ix *graph.Index, sc *scratch, u, v int32) bool {
	e, ok := ix.FindEdge(u, v)
	return ok && sc.blocked.has(int32(e))
}
