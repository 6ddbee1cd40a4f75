package contain

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/firebreak/firebreak/graph"
)

// Event is one containment step as the audit log records it.
type Event struct {
	Action   string // contain.quarantine, contain.block, contain.confirm, contain.release
	Target   string // the node or edge
	Detail   any    // parameters and outcome, JSON-encoded by the recorder
	Reason   string
	Incident string
	Who      string
}

// Controller carries out containment on live hosts. For every change it
// plans the whole owned table of each affected host from all active actions,
// applies each table in one atomic batch, rolls the hosts back if any host
// fails, and records actions, host generations and the audit entry in one
// workspace transaction. It holds the workspace's write lock while it works,
// so two responders cannot interleave changes.
type Controller struct {
	Model    *graph.Model
	Revision int64
	Policy   Policy
	Store    *Store
	Open     func(target string) (Target, error)
	Now      func() time.Time
	Record   func(ctx context.Context, tx *sql.Tx, ev Event) error // the audit log; nil records nothing
	Who      string
	Incident string
}

// HostResult is what happened on one host.
type HostResult struct {
	Host       string
	Target     string
	Generation int64
	Err        error
}

// Outcome is the result of one containment command.
type Outcome struct {
	Record ActionRecord
	Hosts  []HostResult
	Reused bool // the same containment was already active: re-applied, not duplicated
}

// Quarantine isolates a node's host for ttl (provisional), keeping traffic
// with the keep peers and, always, the management allowlist.
func (c *Controller) Quarantine(ctx context.Context, node string, ttl time.Duration, keep []netip.Prefix, reason string) (Outcome, error) {
	a := Action{Kind: Quarantine, Node: node, Keep: keep}
	return c.add(ctx, a, ttl, reason, func(r ActionRecord) bool { return r.Kind == Quarantine && r.Node == node })
}

// Block drops traffic over one edge (on ports; all when empty) for ttl.
func (c *Controller) Block(ctx context.Context, from, to string, ports []graph.PortRange, ttl time.Duration, reason string) (Outcome, error) {
	a := Action{Kind: Block, From: from, To: to, Ports: ports}
	same := func(r ActionRecord) bool {
		return r.Kind == Block && r.From == from && r.To == to && fmt.Sprint(r.Ports) == fmt.Sprint(ports)
	}
	return c.add(ctx, a, ttl, reason, same)
}

// Preview plans a new action against the current state without applying or
// storing anything: the dry-run.
func (c *Controller) Preview(ctx context.Context, a Action, ttl time.Duration) ([]HostPlan, error) {
	now := c.Now()
	all, err := c.Store.List(ctx, c.Store.DB())
	if err != nil {
		return nil, err
	}
	if a.ID, err = c.Store.NextID(ctx, c.Store.DB()); err != nil {
		return nil, err
	}
	a.Deadline = now.Add(ttl)
	plans, err := Plan(c.Model, c.Policy, append(activeActions(all, now, nil), a), now)
	if err != nil {
		return nil, err
	}
	return touching(plans, a.ID), nil
}

func (c *Controller) add(ctx context.Context, a Action, ttl time.Duration, reason string, same func(ActionRecord) bool) (Outcome, error) {
	if ttl <= 0 {
		return Outcome{}, fmt.Errorf("%w: containment needs a positive TTL (it reverts by itself unless confirmed)", graph.ErrInvalid)
	}
	tx, err := c.Store.Begin(ctx)
	if err != nil {
		return Outcome{}, err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	now := c.Now()
	all, err := c.Store.List(ctx, tx)
	if err != nil {
		return Outcome{}, err
	}
	for _, r := range all {
		if r.Active(now) && same(r) {
			hosts, err := c.apply(ctx, all, nil, r.Hosts, now)
			out := Outcome{Record: r, Hosts: hosts, Reused: true}
			if err != nil {
				return out, err
			}
			if err := c.saveHosts(ctx, tx, hosts, all, now); err != nil {
				return out, err
			}
			return out, tx.Commit()
		}
	}
	rec := ActionRecord{Action: a, Incident: c.Incident, Reason: reason, Who: c.Who, Created: now, Updated: now,
		Stored: StateProvisional, Revision: c.Revision}
	rec.Deadline = now.Add(ttl)
	if err := c.Store.Insert(ctx, tx, &rec); err != nil {
		return Outcome{}, err
	}
	// Plan first, so a bad action (unknown node, lockout, no target) fails
	// before any host is touched.
	plans, err := Plan(c.Model, c.Policy, append(activeActions(all, now, nil), rec.Action), now)
	if err != nil {
		return Outcome{}, err
	}
	mine := touching(plans, rec.ID)
	for _, p := range mine {
		rec.Hosts = append(rec.Hosts, p.Host)
		if p.Target == "" {
			return Outcome{}, fmt.Errorf("%s: host %q: %w (set its enforce field)", kindVerb(a), p.Host, ErrNoTarget)
		}
	}
	all = append(all, rec)
	hosts, err := c.apply(ctx, all, nil, rec.Hosts, now)
	out := Outcome{Record: rec, Hosts: hosts}
	if err != nil {
		// Put the hosts that took the change back as they were, and keep a
		// record of the failed attempt.
		c.rollback(ctx, all[:len(all)-1], hosts, now)
		rec.Stored, rec.Error, rec.Updated = StateFailed, err.Error(), c.Now()
		out.Record = rec
		if uerr := c.Store.Update(ctx, tx, rec); uerr == nil {
			_ = c.audit(ctx, tx, "contain."+a.Kind.String(), rec, reason, map[string]any{"action": rec.ID, "error": err.Error()})
			_ = tx.Commit()
		}
		return out, err
	}
	if err := c.saveHosts(ctx, tx, hosts, all, now); err != nil {
		return out, err
	}
	detail := map[string]any{"action": rec.ID, "hosts": rec.Hosts, "deadline": fmtTime(rec.Deadline), "ttl": ttl.String()}
	if a.Kind == Block {
		if cut, err := BlockedEdges(c.Model, a.From, a.To, a.Ports); err == nil {
			detail["edges_cut"] = cut
		}
	}
	if err := c.audit(ctx, tx, "contain."+a.Kind.String(), rec, reason, detail); err != nil {
		return out, err
	}
	if err := c.Store.Update(ctx, tx, rec); err != nil {
		return out, err
	}
	return out, tx.Commit()
}

// Confirm makes a provisional action permanent until released.
func (c *Controller) Confirm(ctx context.Context, id int64, reason string) (Outcome, error) {
	return c.change(ctx, id, reason, "contain.confirm", func(r *ActionRecord, now time.Time) error {
		if !r.Active(now) {
			return fmt.Errorf("action %d is %s: %w; apply it again", r.ID, r.StateAt(now), ErrFinished)
		}
		r.Stored, r.Deadline = StateConfirmed, time.Time{}
		return nil
	})
}

// Release removes an action, restoring its hosts' tables to what the other
// active actions need (no table at all when none remain).
func (c *Controller) Release(ctx context.Context, id int64, reason string) (Outcome, error) {
	return c.change(ctx, id, reason, "contain.release", func(r *ActionRecord, now time.Time) error {
		switch r.Stored {
		case StateReleased, StateFailed:
			return fmt.Errorf("action %d is %s: %w", r.ID, r.Stored, ErrFinished)
		}
		r.Stored = StateReleased
		return nil
	})
}

func (c *Controller) change(ctx context.Context, id int64, reason, verb string, mutate func(*ActionRecord, time.Time) error) (Outcome, error) {
	tx, err := c.Store.Begin(ctx)
	if err != nil {
		return Outcome{}, err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	now := c.Now()
	all, err := c.Store.List(ctx, tx)
	if err != nil {
		return Outcome{}, err
	}
	i := sort.Search(len(all), func(i int) bool { return all[i].ID >= id })
	if i == len(all) || all[i].ID != id {
		return Outcome{}, fmt.Errorf("action %d: %w", id, ErrNoAction)
	}
	before := append([]ActionRecord(nil), all...)
	rec := &all[i]
	if err := mutate(rec, now); err != nil {
		return Outcome{Record: *rec}, err
	}
	rec.Updated = now
	hosts, err := c.apply(ctx, all, nil, rec.Hosts, now)
	out := Outcome{Record: *rec, Hosts: hosts}
	if err != nil {
		// Leave every host as it was: a provisional action that could not be
		// confirmed still reverts on time, which is the safe outcome.
		c.rollback(ctx, before, hosts, now)
		return out, err
	}
	if err := c.saveHosts(ctx, tx, hosts, all, now); err != nil {
		return out, err
	}
	if err := c.Store.Update(ctx, tx, *rec); err != nil {
		return out, err
	}
	if err := c.audit(ctx, tx, verb, *rec, reason, map[string]any{"action": rec.ID, "hosts": rec.Hosts, "state": rec.Stored}); err != nil {
		return out, err
	}
	return out, tx.Commit()
}

// activeActions returns the actions still shaping tables at now, with
// changed (when not nil) substituted for its stored version.
func activeActions(all []ActionRecord, now time.Time, changed *ActionRecord) []Action {
	var out []Action
	for _, r := range all {
		if changed != nil && r.ID == changed.ID {
			r = *changed
		}
		if r.Active(now) {
			out = append(out, r.Action)
		}
	}
	return out
}

// touching keeps the plans an action contributes to.
func touching(plans []HostPlan, id int64) []HostPlan {
	var out []HostPlan
	for _, p := range plans {
		for _, a := range p.Actions {
			if a == id {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// desiredFor returns, per host, the table the active actions need; hosts
// with nothing left get an empty ruleset (the table is removed).
func (c *Controller) desiredFor(all []ActionRecord, hosts []string, now time.Time) (map[string]HostPlan, error) {
	plans, err := Plan(c.Model, c.Policy, activeActions(all, now, nil), now)
	if err != nil {
		return nil, err
	}
	out := map[string]HostPlan{}
	for _, h := range hosts {
		out[h] = HostPlan{Host: h}
		if n, ok := c.Model.NodeByID(h); ok {
			out[h] = HostPlan{Host: h, Target: n.Enforce}
		}
	}
	for _, p := range plans {
		if _, ok := out[p.Host]; ok {
			out[p.Host] = p
		}
	}
	return out, nil
}

// apply writes the desired table to each host in parallel. It returns every
// host's result and an error naming the hosts that failed.
func (c *Controller) apply(ctx context.Context, all []ActionRecord, _ []HostResult, hosts []string, now time.Time) ([]HostResult, error) {
	desired, err := c.desiredFor(all, hosts, now)
	if err != nil {
		return nil, err
	}
	results := make([]HostResult, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Add(1)
		go func(i int, p HostPlan) {
			defer wg.Done()
			results[i] = HostResult{Host: p.Host, Target: p.Target}
			t, err := c.Open(p.Target)
			if err == nil {
				err = t.Apply(ctx, p.Ruleset)
			}
			results[i].Err = err
		}(i, desired[h])
	}
	wg.Wait()
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("host %s (%s): %w", r.Host, r.Target, r.Err))
		}
	}
	return results, errors.Join(errs...)
}

// rollback re-applies the previous desired table on the hosts that took a
// change which then failed elsewhere.
func (c *Controller) rollback(ctx context.Context, before []ActionRecord, results []HostResult, now time.Time) {
	var ok []string
	for i := range results {
		if results[i].Err == nil {
			ok = append(ok, results[i].Host)
		}
	}
	if len(ok) == 0 {
		return
	}
	back, err := c.apply(ctx, before, nil, ok, now)
	for _, b := range back {
		for i := range results {
			if results[i].Host == b.Host && b.Err != nil {
				results[i].Err = fmt.Errorf("rolled back: %w", b.Err)
			}
		}
	}
	_ = err
}

// saveHosts bumps each applied host's generation and stores its table.
func (c *Controller) saveHosts(ctx context.Context, tx *sql.Tx, results []HostResult, all []ActionRecord, now time.Time) error {
	hosts := make([]string, 0, len(results))
	for _, r := range results {
		hosts = append(hosts, r.Host)
	}
	desired, err := c.desiredFor(all, hosts, now)
	if err != nil {
		return err
	}
	for i, r := range results {
		prev, _, err := c.Store.Host(ctx, tx, r.Host)
		if err != nil {
			return err
		}
		h := HostRecord{Host: r.Host, Target: r.Target, Generation: prev.Generation + 1, Applied: now, Desired: desired[r.Host].Ruleset}
		if err := c.Store.PutHost(ctx, tx, h); err != nil {
			return err
		}
		results[i].Generation = h.Generation
	}
	return nil
}

func (c *Controller) audit(ctx context.Context, tx *sql.Tx, verb string, r ActionRecord, reason string, detail any) error {
	if c.Record == nil {
		return nil
	}
	target := r.Node
	if r.Kind == Block {
		target = r.From + ":" + r.To
	}
	return c.Record(ctx, tx, Event{Action: verb, Target: target, Detail: detail, Reason: reason, Incident: c.Incident, Who: c.Who})
}

func kindVerb(a Action) string {
	if a.Kind == Block {
		return "block " + a.From + ":" + a.To
	}
	return "quarantine " + a.Node
}

// HostStatus compares one host's live table with what firebreak expects there.
type HostStatus struct {
	Host       string
	Target     string
	Generation int64
	Applied    time.Time
	InSync     bool
	Drift      string // what differs, when not in sync
	Err        error  // the host could not be read
}

// Status reads every host firebreak manages and reports drift: a live table
// that is neither what the active actions need nor what the kernel leaves
// once provisional elements have expired.
func (c *Controller) Status(ctx context.Context) ([]ActionRecord, []HostStatus, error) {
	now := c.Now()
	all, err := c.Store.List(ctx, c.Store.DB())
	if err != nil {
		return nil, nil, err
	}
	for i := range all {
		if all[i].StateAt(now) == StateProvisional {
			all[i].Remaining = all[i].Deadline.Sub(now).Truncate(time.Second)
		}
	}
	hosts, err := c.Store.Hosts(ctx, c.Store.DB())
	if err != nil {
		return nil, nil, err
	}
	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i] = h.Host
	}
	want, err := c.desiredFor(all, names, now)
	if err != nil {
		return all, nil, err
	}
	expired, err := c.expiredView(all, names, now)
	if err != nil {
		return all, nil, err
	}
	out := make([]HostStatus, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Add(1)
		go func(i int, h HostRecord) {
			defer wg.Done()
			st := HostStatus{Host: h.Host, Target: h.Target, Generation: h.Generation, Applied: h.Applied}
			t, err := c.Open(h.Target)
			var live Ruleset
			var present bool
			if err == nil {
				live, present, err = t.Live(ctx)
			}
			if err != nil {
				st.Err = err
				out[i] = st
				return
			}
			if !present {
				live = Ruleset{}
			}
			ok1, diff := Same(want[h.Host].Ruleset, live)
			ok2, _ := Same(expired[h.Host].Ruleset, live)
			st.InSync = ok1 || ok2
			if !st.InSync {
				st.Drift = diff
				if !present {
					st.Drift = "the firebreak table is missing"
				}
			}
			out[i] = st
		}(i, h)
	}
	wg.Wait()
	return all, out, nil
}

// expiredView is what the kernel holds once provisional elements expire and
// nobody has tidied the table yet: the reverted actions' sets and rules are
// still there, empty.
func (c *Controller) expiredView(all []ActionRecord, hosts []string, now time.Time) (map[string]HostPlan, error) {
	var acts []Action
	for _, r := range all {
		switch r.StateAt(now) {
		case StateProvisional, StateConfirmed, StateReverted:
			acts = append(acts, r.Action)
		}
	}
	plans, err := planWith(c.Model, c.Policy, acts, now, true)
	if err != nil {
		return nil, err
	}
	out := map[string]HostPlan{}
	for _, h := range hosts {
		out[h] = HostPlan{Host: h}
	}
	for _, p := range plans {
		if _, ok := out[p.Host]; ok {
			out[p.Host] = p
		}
	}
	return out, nil
}
