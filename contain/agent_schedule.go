package contain

// The agent runs each provisional element's deadline itself: when the
// earliest passes it re-applies the ruleset without what expired, so the
// host's table is tidy even with no operator process alive. (The kernel has
// already stopped matching the expired elements; this only cleans up.)

import (
	"context"
	"time"
)

// schedule is the last ruleset applied and when: element timeouts count
// from at, so each element's absolute deadline is at + Timeout.
type schedule struct {
	rs Ruleset
	at time.Time
}

// schedule replaces the revert schedule with rs, applied at at. The caller
// holds a.mu.
func (a *Agent) schedule(rs Ruleset, at time.Time) {
	a.seq++
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
	a.sched = nil
	d, ok := nextExpiry(rs)
	if !ok || a.closed {
		return
	}
	a.sched = &schedule{rs: rs, at: at}
	a.arm(at.Add(d).Sub(a.clock()))
}

// arm starts the timer for the current schedule. The caller holds a.mu.
func (a *Agent) arm(d time.Duration) {
	seq := a.seq
	a.timer = time.AfterFunc(max(d, 0), func() { a.revert(seq) })
}

// revert runs when the earliest deadline of schedule seq has passed: it
// re-applies the last ruleset without its expired elements.
func (a *Agent) revert(seq uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed || seq != a.seq || a.sched == nil {
		return // replaced by a newer apply, or shut down
	}
	now := a.clock()
	rs, changed := expire(a.sched.rs, now.Sub(a.sched.at))
	if !changed {
		// The timer ran early by the agent's clock: wait for the deadline.
		d, _ := nextExpiry(a.sched.rs)
		a.arm(a.sched.at.Add(d).Sub(now))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), agentApplyTimeout)
	defer cancel()
	if err := a.target.Apply(ctx, rs); err != nil {
		a.log.Error("revert of expired elements failed; retrying (the kernel has already expired them)", "target", a.target.String(), "generation", a.gen, "err", err, "retry_in", revertRetry)
		a.arm(revertRetry)
		return
	}
	if rs.Empty() {
		a.log.Info("reverted: every provisional element expired, table removed", "generation", a.gen)
	} else {
		a.log.Info("reverted expired elements", "generation", a.gen, "sets", len(rs.Sets), "chains", len(rs.Chains))
	}
	a.schedule(rs, now)
}

// nextExpiry returns the shortest element timeout of rs.
func nextExpiry(rs Ruleset) (time.Duration, bool) {
	var d time.Duration
	for _, s := range rs.Sets {
		for _, e := range s.Elements {
			if e.Timeout > 0 && (d == 0 || e.Timeout < d) {
				d = e.Timeout
			}
		}
	}
	return d, d > 0
}

// expire returns rs as it stands elapsed after it was applied: elements whose
// timeout has run out are gone and the others' timeouts are the time left;
// sets emptied that way are gone with every rule that refers to them; a
// chain whose last drop rule went is gone (a policy-accept chain of accepts
// decides nothing), and when no chain is left the whole table is (the empty
// Ruleset). changed is false when nothing has expired yet; rs is not
// modified.
func expire(rs Ruleset, elapsed time.Duration) (out Ruleset, changed bool) {
	gone := map[string]bool{}
	for _, s := range rs.Sets {
		kept := make([]Element, 0, len(s.Elements))
		for _, e := range s.Elements {
			if e.Timeout > 0 {
				// nftables counts element timeouts in milliseconds.
				left := (e.Timeout - elapsed).Truncate(time.Millisecond)
				if left <= 0 {
					changed = true
					continue
				}
				e.Timeout = left
			}
			kept = append(kept, e)
		}
		if len(s.Elements) > 0 && len(kept) == 0 {
			gone[s.Name] = true
			continue
		}
		s.Elements = kept
		out.Sets = append(out.Sets, s)
	}
	if !changed {
		return rs, false
	}
	for _, c := range rs.Chains {
		rules := make([]Rule, 0, len(c.Rules))
		hadDrop, hasDrop := false, false
		for _, r := range c.Rules {
			hadDrop = hadDrop || r.Verdict == Drop
			if gone[r.SrcSet] || gone[r.DstSet] || gone[r.SPort] || gone[r.DPort] {
				continue
			}
			hasDrop = hasDrop || r.Verdict == Drop
			rules = append(rules, r)
		}
		if len(rules) == 0 || (hadDrop && !hasDrop) {
			continue
		}
		c.Rules = rules
		out.Chains = append(out.Chains, c)
	}
	if len(out.Chains) == 0 {
		return Ruleset{}, true
	}
	return out, true
}
