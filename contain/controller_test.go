package contain_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak/firebreak/contain"
	"github.com/firebreak/firebreak/graph"
	"github.com/firebreak/firebreak/internal/testutil"
)

// fakeHost is an in-memory firewall that behaves like the kernel where it
// matters here: an apply replaces the table whole, and elements disappear
// when their timeout runs out on the (fake) clock.
type fakeHost struct {
	mu      sync.Mutex
	name    string
	clock   *fakeClock
	table   *contain.Ruleset
	applied time.Time
	fail    error
	applies int
}

func (f *fakeHost) Apply(_ context.Context, rs contain.Ruleset) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.applies++
	if rs.Empty() {
		f.table = nil
		return nil
	}
	cp := rs
	f.table, f.applied = &cp, f.clock.now
	return nil
}

func (f *fakeHost) Live(context.Context) (contain.Ruleset, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.table == nil {
		return contain.Ruleset{}, false, nil
	}
	out := contain.Ruleset{Chains: f.table.Chains}
	for _, s := range f.table.Sets {
		ns := s
		ns.Elements = nil
		for _, e := range s.Elements {
			if e.Timeout == 0 || f.applied.Add(e.Timeout).After(f.clock.now) {
				ns.Elements = append(ns.Elements, e)
			}
		}
		out.Sets = append(out.Sets, ns)
	}
	return out, true, nil
}

func (f *fakeHost) String() string { return f.name }

type fakeClock struct{ now time.Time }

type rig struct {
	ctl    *contain.Controller
	hosts  map[string]*fakeHost
	clock  *fakeClock
	events []contain.Event
}

func newRig(t *testing.T) *rig {
	t.Helper()
	ws, err := graph.Open(filepath.Join(t.TempDir(), "ws.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	store, err := contain.OpenStore(context.Background(), ws)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{clock: &fakeClock{now: now}, hosts: map[string]*fakeHost{}}
	for _, target := range []string{"netns:h1", "agent:https://10.0.2.2:7443"} {
		r.hosts[target] = &fakeHost{name: target, clock: r.clock}
	}
	r.ctl = &contain.Controller{
		Model: testutil.Model(t, estate), Revision: 1, Policy: policy, Store: store,
		Open: func(target string) (contain.Target, error) {
			if h, ok := r.hosts[target]; ok {
				return h, nil
			}
			return nil, contain.ErrNoTarget
		},
		Now: func() time.Time { return r.clock.now },
		Record: func(_ context.Context, _ *sql.Tx, ev contain.Event) error {
			r.events = append(r.events, ev)
			return nil
		},
		Who: "alice", Incident: "INC-7",
	}
	return r
}

func rendered(t *testing.T, h *fakeHost) string {
	t.Helper()
	rs, ok, _ := h.Live(context.Background())
	if !ok {
		return ""
	}
	var b strings.Builder
	contain.Render(&b, rs)
	return b.String()
}

func TestQuarantineConfirmRelease(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	h1 := r.hosts["netns:h1"]
	out, err := r.ctl.Quarantine(ctx, "h1", 5*time.Minute, nil, "beaconing to a known C2")
	if err != nil {
		t.Fatal(err)
	}
	if out.Record.ID != 1 || out.Record.StateAt(now) != contain.StateProvisional || len(out.Hosts) != 1 || out.Hosts[0].Generation != 1 {
		t.Fatalf("outcome %+v", out)
	}
	if !strings.Contains(rendered(t, h1), "0.0.0.0/0 timeout 5m") {
		t.Fatalf("h1 table:\n%s", rendered(t, h1))
	}
	// Idempotent: the same quarantine again re-applies, no second action.
	again, err := r.ctl.Quarantine(ctx, "h1", 5*time.Minute, nil, "")
	if err != nil || !again.Reused || again.Record.ID != 1 {
		t.Fatalf("re-apply: %+v %v", again, err)
	}
	if _, err := r.ctl.Confirm(ctx, 1, "confirmed by IC"); err != nil {
		t.Fatal(err)
	}
	r.clock.now = now.Add(time.Hour) // long past the TTL: a confirmed action stays
	if txt := rendered(t, h1); !strings.Contains(txt, "elements = { 0.0.0.0/0 }") {
		t.Fatalf("confirmed table lost its gate:\n%s", txt)
	}
	if _, err := r.ctl.Release(ctx, 1, "host reimaged"); err != nil {
		t.Fatal(err)
	}
	if txt := rendered(t, h1); txt != "" {
		t.Fatalf("release left a table:\n%s", txt)
	}
	if _, err := r.ctl.Release(ctx, 1, ""); !errors.Is(err, contain.ErrFinished) {
		t.Errorf("second release: %v", err)
	}
	var verbs []string
	for _, e := range r.events {
		verbs = append(verbs, e.Action+" "+e.Target+" by "+e.Who+" for "+e.Incident)
	}
	want := []string{"contain.quarantine h1 by alice for INC-7", "contain.confirm h1 by alice for INC-7", "contain.release h1 by alice for INC-7"}
	if strings.Join(verbs, "|") != strings.Join(want, "|") {
		t.Errorf("audit events %v", verbs)
	}
}

// Without a confirm, the provisional action reverts: the kernel (here the
// fake) drops its elements at the deadline, status says reverted and sees
// no drift, and it can no longer be confirmed.
func TestProvisionalRevertsAndStatus(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	if _, err := r.ctl.Quarantine(ctx, "h1", 2*time.Minute, nil, ""); err != nil {
		t.Fatal(err)
	}
	recs, hosts, err := r.ctl.Status(ctx)
	if err != nil || len(hosts) != 1 || !hosts[0].InSync || recs[0].Remaining != 2*time.Minute {
		t.Fatalf("status: %+v %+v %v", recs, hosts, err)
	}
	r.clock.now = now.Add(3 * time.Minute)
	recs, hosts, err = r.ctl.Status(ctx)
	if err != nil || recs[0].StateAt(r.clock.now) != contain.StateReverted || !hosts[0].InSync {
		t.Fatalf("after the deadline: %+v %+v %v", recs, hosts, err)
	}
	if _, err := r.ctl.Confirm(ctx, 1, ""); !errors.Is(err, contain.ErrFinished) {
		t.Errorf("confirming a reverted action: %v", err)
	}
	// Someone edits the table by hand: drift.
	r.hosts["netns:h1"].table.Chains = r.hosts["netns:h1"].table.Chains[:1]
	_, hosts, _ = r.ctl.Status(ctx)
	if hosts[0].InSync || hosts[0].Drift == "" {
		t.Errorf("hand edit not reported as drift: %+v", hosts[0])
	}
}

// A block touches two hosts. When one fails, the other is put back as it
// was, the action is recorded as failed, and nothing claims success.
func TestPartialFailureRollsBack(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	h1, h2 := r.hosts["netns:h1"], r.hosts["agent:https://10.0.2.2:7443"]
	if _, err := r.ctl.Quarantine(ctx, "h1", 10*time.Minute, nil, ""); err != nil {
		t.Fatal(err)
	}
	before := rendered(t, h1)
	h2.fail = errors.New("agent unreachable")
	out, err := r.ctl.Block(ctx, "h1", "h2", []graph.PortRange{{Proto: graph.ProtoTCP, Lo: 443, Hi: 443}}, 5*time.Minute, "")
	if err == nil || !strings.Contains(err.Error(), "agent unreachable") {
		t.Fatalf("want the failing host's error, got %v", err)
	}
	if out.Record.Stored != contain.StateFailed {
		t.Errorf("action state %s", out.Record.Stored)
	}
	if got := rendered(t, h1); got != before {
		t.Errorf("h1 not rolled back:\n%s\nwant\n%s", got, before)
	}
	recs, _, _ := r.ctl.Status(ctx)
	if len(recs) != 2 || recs[1].Stored != contain.StateFailed || recs[1].Error == "" {
		t.Errorf("failed action not recorded: %+v", recs)
	}
}

func TestRefusesUnsafeOrUnreachable(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	if _, err := r.ctl.Block(ctx, "bastion", "h1", nil, time.Minute, ""); !errors.Is(err, contain.ErrLockout) {
		t.Errorf("management block: %v", err)
	}
	if _, err := r.ctl.Quarantine(ctx, "bastion", time.Minute, nil, ""); !errors.Is(err, contain.ErrNoTarget) {
		t.Errorf("host without enforce: %v", err)
	}
	if _, err := r.ctl.Quarantine(ctx, "h1", 0, nil, ""); !errors.Is(err, graph.ErrInvalid) {
		t.Errorf("zero TTL: %v", err)
	}
	for _, h := range r.hosts {
		if h.applies != 0 {
			t.Errorf("%s was touched by a refused action", h.name)
		}
	}
}
