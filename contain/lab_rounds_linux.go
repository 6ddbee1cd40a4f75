//go:build linux

package contain

import (
	"context"
	"sync"
	"time"
)

// labRunTTL is how long a round-based probe's state is kept after its last
// request: long enough for any probe, short enough that nothing observed
// outlives it (each probe has its own id; nothing carries over).
const labRunTTL = time.Minute

// labRun is one round-based probe as the responders see it: every node's
// verdict per phase and round, and the dependency edges that could not be
// connected (dialled once per probe: a dropped edge costs one timeout, not
// one per round).
type labRun struct {
	id      string
	mu      sync.Mutex
	touched time.Time
	rounds  map[labPhase]map[string][]labVerdict // node -> verdict of round 1, 2, …
	dead    map[labEdgeRef]bool
}

type labEdgeRef struct {
	from string
	dep  int
}

// run returns the state of probe id, creating it, and forgets probes idle
// for longer than labRunTTL.
func (s *LabServer) run(id string) *labRun {
	s.runsMu.Lock()
	defer s.runsMu.Unlock()
	now := time.Now()
	if s.runs == nil {
		s.runs = map[string]*labRun{}
	}
	r, ok := s.runs[id]
	if !ok {
		for k, old := range s.runs {
			old.mu.Lock()
			stale := now.Sub(old.touched) > labRunTTL
			old.mu.Unlock()
			if stale {
				delete(s.runs, k)
			}
		}
		r = &labRun{id: id, rounds: map[labPhase]map[string][]labVerdict{
			labPhaseDown: {}, labPhaseDegraded: {},
		}, dead: map[labEdgeRef]bool{}}
		s.runs[id] = r
	}
	r.mu.Lock()
	r.touched = now
	r.mu.Unlock()
	return r
}

// get is node id's verdict in round n of phase: round 0 is OK, and a node
// that has not computed round n (the prober could not reach it) keeps its
// latest. In the degraded phase a node that ended the down phase down
// stays down.
func (r *labRun) get(id string, ph labPhase, n int) labVerdict {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ph == labPhaseDegraded {
		if v := latest(r.rounds[labPhaseDown][id], labMaxRounds); v.Status == labDown {
			return v
		}
	}
	return latest(r.rounds[ph][id], n)
}

func latest(vs []labVerdict, n int) labVerdict {
	if n > len(vs) {
		n = len(vs)
	}
	if n <= 0 {
		return labVerdict{Status: labOK}
	}
	return vs[n-1]
}

func (r *labRun) set(id string, ph labPhase, n int, v labVerdict) {
	r.mu.Lock()
	defer r.mu.Unlock()
	vs := r.rounds[ph][id]
	for len(vs) < n-1 {
		vs = append(vs, latest(vs, len(vs)))
	}
	if len(vs) >= n {
		vs[n-1] = v
	} else {
		vs = append(vs, v)
	}
	r.rounds[ph][id] = vs
}

func (r *labRun) isDead(e labEdgeRef) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dead[e]
}

func (r *labRun) markDead(e labEdgeRef) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dead[e] = true
}

// round computes node n's verdict for round k of phase from its
// dependencies' verdicts of round k-1, read over real connections from n's
// namespace (its host's, which shares n's network stack, in-process):
//
//   - down phase: down if it was already, if its host is down, or if some
//     hard slot has every member unreachable or down; else ok;
//   - degraded phase: down if the down phase ended with it down; degraded
//     if it was already, if some soft slot has every member unreachable or
//     down, or if a reachable dependency (hard or soft) is degraded; else
//     ok.
func (s *LabServer) round(ctx context.Context, r *labRun, id string, n *labNode, ph labPhase, k int) labVerdict {
	prev := r.get(id, ph, k-1)
	if prev.Status != labOK {
		r.set(id, ph, k, prev) // sticky: keep the first reason
		return prev
	}
	ctx, cancel := context.WithTimeout(ctx, labProbeBudget)
	defer cancel()
	got := make([]labVerdict, len(n.deps))
	var wg sync.WaitGroup
	for i, d := range n.deps {
		e := labEdgeRef{id, i}
		if r.isDead(e) {
			got[i] = labUnreachable
			continue
		}
		wg.Go(func() {
			got[i] = askLabLine(ctx, n.netns, d.addr, labRoundLine("STATE", r.id, ph, k-1))
			if got[i].Unreachable {
				r.markDead(e)
			}
		})
	}
	wg.Wait()
	v := labVerdict{Status: labOK}
	switch ph {
	case labPhaseDown:
		if n.host != nil {
			if hv := r.get(n.host.id, labPhaseDown, k-1); hv.Status == labDown {
				v = labVerdict{Status: labDown, Reason: hv.chain(n.host.id)}
				break
			}
		}
		v = judge(n, got, true)
	case labPhaseDegraded:
		v = judge(n, got, false)
	}
	r.set(id, ph, k, v)
	return v
}

// judge applies the semantics to dependency verdicts: with hard, the down
// test (some hard slot all unreachable or down); without, the degraded
// test (some soft slot all down, or any dependency degraded).
func judge(n *labNode, got []labVerdict, hard bool) labVerdict {
	slotDown := func(sl labSlot) bool {
		for _, m := range sl.members {
			if got[m].Status != labDown {
				return false
			}
		}
		return true
	}
	if hard {
		for _, sl := range n.slots {
			if !sl.soft && slotDown(sl) {
				d := sl.members[0]
				return labVerdict{Status: labDown, Reason: got[d].chain(n.deps[d].to)}
			}
		}
		return labVerdict{Status: labOK}
	}
	for _, sl := range n.slots {
		if sl.soft && slotDown(sl) {
			d := sl.members[0]
			return labVerdict{Status: labDegraded, Reason: got[d].chain(n.deps[d].to)}
		}
	}
	for i, v := range got {
		if v.Status == labDegraded {
			return labVerdict{Status: labDegraded, Reason: v.chain(n.deps[i].to)}
		}
	}
	return labVerdict{Status: labOK}
}
