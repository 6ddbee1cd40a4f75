package simulate_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/firebreak/firebreak/graph"
	"github.com/firebreak/firebreak/internal/testutil"
	"github.com/firebreak/firebreak/simulate"
)

// The tests in this file hold the engine to DESIGN.md's simulation semantics
// on small graphs drawn beside each fixture.

func run(t *testing.T, ix *graph.Index, s simulate.Scenario) simulate.Report {
	t.Helper()
	r, err := simulate.New(ix, simulate.Options{}).Run(s)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return r.Report()
}

func hops(rep simulate.Report) map[string]int {
	out := map[string]int{}
	for _, r := range rep.Reached {
		out[r.Node] = r.Hops
	}
	return out
}

func journey(rep simulate.Report, id string) simulate.ReportJourney {
	for _, j := range rep.Journeys {
		if j.ID == id {
			return j
		}
	}
	return simulate.ReportJourney{}
}

func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %v\n want %v", what, got, want)
	}
}

// a → b → c → a (hard dependencies all round), d → a
const cycle = `
	apiVersion: firebreak/v1
	kind: Topology
	nodes:
	  - {id: a, kind: service}
	  - {id: b, kind: service}
	  - {id: c, kind: service}
	  - {id: d, kind: service}
	edges:
	  - {from: a, to: b}
	  - {from: b, to: c}
	  - {from: c, to: a}
	  - {from: d, to: a}
`

func TestCycleSpreadAndFailureTerminate(t *testing.T) {
	ix := testutil.Index(t, cycle)
	rep := run(t, ix, simulate.Scenario{Compromised: []string{"b"}})
	equal(t, "hops", hops(rep), map[string]int{"b": 0, "c": 1, "a": 2})
	equal(t, "path to a", rep.Reached[0].Path, []string{"b", "c", "a"})

	// Nothing failed: the cycle alone must not fail itself (least fixpoint).
	rep = run(t, ix, simulate.Scenario{})
	equal(t, "failed with no seeds", rep.Failed, []string{})

	// c fails → b (needs c) → a (needs b) → d (needs a); c is already down.
	rep = run(t, ix, simulate.Scenario{Failed: []string{"c"}})
	equal(t, "failed", rep.Failed, []string{"a", "b", "c", "d"})
}

// lb ──web group──▶ w1, w2, w3 (hard); lb → db (hard, no group)
const replicas = `
	apiVersion: firebreak/v1
	kind: Topology
	nodes:
	  - {id: lb, kind: lb}
	  - {id: w1, kind: host}
	  - {id: w2, kind: host}
	  - {id: w3, kind: host}
	  - {id: db, kind: datastore}
	edges:
	  - {from: lb, to: w1, group: web, ports: [443]}
	  - {from: lb, to: w2, group: web, ports: [443]}
	  - {from: lb, to: w3, group: web, ports: [443]}
	  - {from: lb, to: db, ports: [5432]}
`

func TestReplicaGroup(t *testing.T) {
	ix := testutil.Index(t, replicas)
	cases := []struct {
		name   string
		failed []string
		want   []string
	}{
		{"one replica down is fine", []string{"w1"}, []string{"w1"}},
		{"two of three down is fine", []string{"w1", "w3"}, []string{"w1", "w3"}},
		{"all replicas down breaks", []string{"w1", "w2", "w3"}, []string{"lb", "w1", "w2", "w3"}},
		{"ungrouped hard dependency breaks alone", []string{"db"}, []string{"db", "lb"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep := run(t, ix, simulate.Scenario{Failed: c.failed})
			equal(t, "failed", rep.Failed, c.want)
			equal(t, "degraded", rep.Degraded, []string{})
		})
	}
	// Blocking the last live member's edge counts as that member being down.
	rep := run(t, ix, simulate.Scenario{Failed: []string{"w1", "w2"}, Blocked: []simulate.EdgeRef{{From: "lb", To: "w3"}}})
	equal(t, "failed with block", rep.Failed, []string{"lb", "w1", "w2"})
}

// web → api (hard) → reco (soft); api → cache group {c1, c2} (soft)
const soft = `
	apiVersion: firebreak/v1
	kind: Topology
	nodes:
	  - {id: web, kind: service}
	  - {id: api, kind: service}
	  - {id: reco, kind: service}
	  - {id: c1, kind: datastore}
	  - {id: c2, kind: datastore}
	  - {id: admin, kind: host}
	edges:
	  - {from: web, to: api}
	  - {from: api, to: reco, dependency: soft}
	  - {from: api, to: c1, dependency: soft, group: cache}
	  - {from: api, to: c2, dependency: soft, group: cache}
	  - {from: admin, to: web, dependency: none}
`

func TestSoftDependencyDegrades(t *testing.T) {
	ix := testutil.Index(t, soft)
	rep := run(t, ix, simulate.Scenario{Failed: []string{"reco"}})
	equal(t, "failed", rep.Failed, []string{"reco"})
	// api loses a soft dependency; web depends (hard) on a degraded node;
	// admin only reaches web (dependency none) and stays healthy.
	equal(t, "degraded", rep.Degraded, []string{"api", "web"})

	rep = run(t, ix, simulate.Scenario{Failed: []string{"c1"}})
	equal(t, "one cache replica down", rep.Degraded, []string{})
	rep = run(t, ix, simulate.Scenario{Failed: []string{"c1", "c2"}})
	equal(t, "both cache replicas down", rep.Degraded, []string{"api", "web"})

	// A degraded node that then fails hard is failed, not degraded.
	rep = run(t, ix, simulate.Scenario{Failed: []string{"reco", "api"}})
	equal(t, "failed", rep.Failed, []string{"api", "reco", "web"})
	equal(t, "degraded", rep.Degraded, []string{})
}

// laptop ─ssh→ h1 ; svc-a, svc-b run on h1 ; svc-a → db ; svc-c runs on svc-b (a container in a VM)
const coResident = `
	apiVersion: firebreak/v1
	kind: Topology
	nodes:
	  - {id: laptop, kind: host}
	  - {id: h1, kind: host}
	  - {id: svc-a, kind: service, runs_on: h1}
	  - {id: svc-b, kind: service, runs_on: h1}
	  - {id: svc-c, kind: service, runs_on: svc-b}
	  - {id: db, kind: datastore, crown_jewel: true}
	  - {id: other, kind: service}
	edges:
	  - {from: laptop, to: h1, ports: [22], dependency: none}
	  - {from: svc-a, to: db, ports: [5432]}
	  - {from: other, to: svc-c}
`

func TestRunsOnCoCompromise(t *testing.T) {
	ix := testutil.Index(t, coResident)
	rep := run(t, ix, simulate.Scenario{Compromised: []string{"laptop"}})
	equal(t, "hops", hops(rep), map[string]int{"laptop": 0, "h1": 1, "svc-a": 1, "svc-b": 1, "svc-c": 1, "db": 2})
	equal(t, "crown jewels", rep.CrownJewelsReached, []string{"db"})
	for _, r := range rep.Reached {
		if r.Node == "db" {
			equal(t, "path to db", r.Path, []string{"laptop", "h1", "svc-a", "db"})
		}
	}
	// A service's compromise does not imply its host's by default...
	rep = run(t, ix, simulate.Scenario{Compromised: []string{"svc-b"}})
	equal(t, "service only", hops(rep), map[string]int{"svc-b": 0, "svc-c": 0})
	// ...unless configured.
	r, err := simulate.New(ix, simulate.Options{ServiceCompromisesHost: true}).Run(simulate.Scenario{Compromised: []string{"svc-b"}})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "service escapes to host", hops(r.Report()), map[string]int{"svc-b": 0, "svc-c": 0, "h1": 0, "svc-a": 0, "db": 1})

	// A failed host takes down everything on it, transitively.
	rep = run(t, ix, simulate.Scenario{Failed: []string{"h1"}})
	equal(t, "failed", rep.Failed, []string{"h1", "other", "svc-a", "svc-b", "svc-c"})
}

// a → b → c ; x → b (hard) ; b → d (none)
const chain = `
	apiVersion: firebreak/v1
	kind: Topology
	nodes:
	  - {id: a, kind: host}
	  - {id: b, kind: host}
	  - {id: c, kind: host}
	  - {id: d, kind: host}
	  - {id: x, kind: service}
	  - {id: s, kind: service, runs_on: b}
	edges:
	  - {from: a, to: b, dependency: none}
	  - {from: b, to: c, dependency: none}
	  - {from: b, to: d, dependency: none}
	  - {from: x, to: b}
	  - {from: x, to: s, ports: [8080], dependency: none}
`

func TestQuarantineRemovesEdgesAndFailsNode(t *testing.T) {
	ix := testutil.Index(t, chain)
	before := run(t, ix, simulate.Scenario{Compromised: []string{"a"}})
	equal(t, "before", hops(before), map[string]int{"a": 0, "b": 1, "s": 1, "c": 2, "d": 2})

	after := run(t, ix, simulate.Scenario{Compromised: []string{"a"}, Quarantined: []string{"b"}})
	equal(t, "after", hops(after), map[string]int{"a": 0})
	// b fails, and so does s (it runs on b) and x (hard dependency on b).
	equal(t, "failed", after.Failed, []string{"b", "s", "x"})

	// Quarantining a compromised node keeps it compromised but stops spread.
	q := run(t, ix, simulate.Scenario{Compromised: []string{"b"}, Quarantined: []string{"b"}})
	equal(t, "contained seed", hops(q), map[string]int{"b": 0, "s": 0})

	// Blocking an edge removes just that edge.
	blk := run(t, ix, simulate.Scenario{Compromised: []string{"a"}, Blocked: []simulate.EdgeRef{{From: "b", To: "c"}}})
	equal(t, "blocked", hops(blk), map[string]int{"a": 0, "b": 1, "s": 1, "d": 2})
	equal(t, "blocked seeds", blk.Seeds.Blocked, []string{"b:c"})
}

// Two shortest paths to d: a→b→d and a→c→d; the one with smaller ids wins,
// whatever order the edges were written in.
const diamond = `
	apiVersion: firebreak/v1
	kind: Topology
	nodes:
	  - {id: d, kind: host}
	  - {id: c, kind: host}
	  - {id: b, kind: host}
	  - {id: a, kind: host}
	  - {id: e, kind: host}
	edges:
	  - {from: c, to: d}
	  - {from: a, to: c}
	  - {from: a, to: b}
	  - {from: b, to: d}
	  - {from: d, to: e}
`

func TestSmallestShortestPath(t *testing.T) {
	rep := run(t, testutil.Index(t, diamond), simulate.Scenario{Compromised: []string{"a"}})
	paths := map[string][]string{}
	for _, r := range rep.Reached {
		paths[r.Node] = r.Path
	}
	equal(t, "path to d", paths["d"], []string{"a", "b", "d"})
	equal(t, "path to e", paths["e"], []string{"a", "b", "d", "e"})
}

const shopTopology = `
	apiVersion: firebreak/v1
	kind: Topology
	nodes:
	  - {id: web1, kind: host}
	  - {id: web2, kind: host}
	  - {id: api, kind: service}
	  - {id: pay, kind: service}
	  - {id: reco, kind: service}
	  - {id: mail, kind: service}
	edges:
	  - {from: api, to: pay}
	  - {from: api, to: reco, dependency: soft}
	  - {from: web1, to: api}
	  - {from: web2, to: api}
`

const shopJourneys = `
	apiVersion: firebreak/v1
	kind: Journeys
	journeys:
	  - id: browse
	    weight: {customers_per_hour: 100, revenue_per_hour: 10}
	    steps:
	      - {name: page, any_of: [[web1, web2]]}
	  - id: buy
	    weight: {customers_per_hour: 20, revenue_per_hour: 500}
	    steps:
	      - {name: page, any_of: [[web1, web2]]}
	      - {name: pay, requires: [api]}
	  - id: newsletter
	    weight: {customers_per_hour: 5, revenue_per_hour: 1}
	    steps:
	      - {requires: [mail]}
`

func TestJourneyStatus(t *testing.T) {
	ix := testutil.Index(t, shopTopology, shopJourneys)

	rep := run(t, ix, simulate.Scenario{Failed: []string{"web1"}})
	equal(t, "one web down: browse", journey(rep, "browse").Status, "ok")

	rep = run(t, ix, simulate.Scenario{Failed: []string{"web1", "web2"}})
	b := journey(rep, "browse")
	equal(t, "all web down: browse", b.Status, "broken")
	equal(t, "cause", b.Cause, `step 1 "page" down: all of web1, web2 down; web1 (failed)`)

	rep = run(t, ix, simulate.Scenario{Quarantined: []string{"pay"}})
	buy := journey(rep, "buy")
	equal(t, "buy", buy.Status, "broken")
	// The web tier itself needs api, so the first step already breaks.
	equal(t, "buy cause", buy.Cause, `step 1 "page" down: all of web1, web2 down; web1 ← api ← pay (quarantined)`)
	equal(t, "browse breaks too: the web tier needs api", journey(rep, "browse").Status, "broken")

	rep = run(t, ix, simulate.Scenario{Failed: []string{"reco"}})
	buy = journey(rep, "buy")
	equal(t, "buy degraded", buy.Status, "degraded")
	equal(t, "degraded cause", buy.Cause, `step 1 "page" degraded: all of web1, web2 degraded; web1 ← api ← reco (failed)`)
	// web1/web2 depend hard on the degraded api, so the page step is degraded too.
	equal(t, "browse degraded", journey(rep, "browse").Status, "degraded")

	// Exposure: a journey touching a compromised node is exposed even when
	// it works; broken and exposed at once is possible.
	rep = run(t, ix, simulate.Scenario{Compromised: []string{"mail"}})
	n := journey(rep, "newsletter")
	equal(t, "exposed", [2]any{n.Status, n.Exposed}, [2]any{"ok", true})
	equal(t, "exposed cause", n.Cause, "exposed: step 1 reaches compromised mail")

	rep = run(t, ix, simulate.Scenario{Compromised: []string{"mail"}, Failed: []string{"mail"}})
	n = journey(rep, "newsletter")
	equal(t, "broken and exposed", [2]any{n.Status, n.Exposed}, [2]any{"broken", true})

	// Impact sums the weights of affected journeys.
	rep = run(t, ix, simulate.Scenario{Failed: []string{"pay"}, Compromised: []string{"mail"}})
	equal(t, "impact", rep.Impact, simulate.ReportImpact{
		JourneysBroken: 2, JourneysExposed: 1, CustomersPerHour: 125, RevenuePerHour: 511,
	})
}

func TestCompromisedOffline(t *testing.T) {
	ix := testutil.Index(t, shopTopology, shopJourneys)
	rep := run(t, ix, simulate.Scenario{Compromised: []string{"pay"}, CompromisedOffline: true})
	equal(t, "failed", rep.Failed, []string{"api", "pay", "web1", "web2"})
	rep = run(t, ix, simulate.Scenario{Compromised: []string{"pay"}})
	equal(t, "online", rep.Failed, []string{})
}

func TestUnknownIDs(t *testing.T) {
	ix := testutil.Index(t, shopTopology)
	_, err := simulate.New(ix, simulate.Options{}).Run(simulate.Scenario{
		Compromised: []string{"nope"},
		Blocked:     []simulate.EdgeRef{{From: "web1", To: "pay"}},
	})
	if !errors.Is(err, simulate.ErrUnknownNode) || !errors.Is(err, simulate.ErrUnknownEdge) || !errors.Is(err, graph.ErrInvalid) {
		t.Fatalf("want unknown node and edge errors, got %v", err)
	}
	for _, want := range []string{`"nope"`, "web1:pay"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestParseEdgeRef(t *testing.T) {
	known := map[string]bool{"a": true, "a:b": true, "b:1": true, "b": true, "1": true, "c": true}
	is := func(s string) bool { return known[s] }
	if r, err := simulate.ParseEdgeRef("a:c", is); err != nil || r != (simulate.EdgeRef{From: "a", To: "c"}) {
		t.Errorf("a:c → %v, %v", r, err)
	}
	if r, err := simulate.ParseEdgeRef("c:b:1", is); err != nil || r != (simulate.EdgeRef{From: "c", To: "b:1"}) {
		t.Errorf("c:b:1 → %v, %v", r, err)
	}
	if _, err := simulate.ParseEdgeRef("b:1:c", is); err != nil {
		t.Errorf("b:1:c: %v", err)
	}
	if _, err := simulate.ParseEdgeRef("a:b:1", is); err == nil {
		t.Error("a:b:1 splits as a→b:1 and a:b→1: want an ambiguity error")
	}
	if _, err := simulate.ParseEdgeRef("x:y", is); !errors.Is(err, simulate.ErrUnknownEdge) {
		t.Errorf("x:y: %v", err)
	}
}
