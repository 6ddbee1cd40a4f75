package simulate_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/firebreak/firebreak/graph"
	"github.com/firebreak/firebreak/internal/testutil"
	"github.com/firebreak/firebreak/simulate"
)

const propertyRounds = 400

func compile(t *testing.T, m *graph.Model) *graph.Index {
	t.Helper()
	if err := graph.Validate(m); err != nil {
		t.Fatalf("random model invalid: %v", err)
	}
	ix, err := graph.Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

// The index-based engine agrees with the naive reference on reach sets, hop
// counts, failure and degradation sets, and journey status and exposure.
func TestEngineAgreesWithReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < propertyRounds; round++ {
		m := randomModel(rng, round%2 == 0)
		ix := compile(t, m)
		s := randomScenario(rng, m)
		res, err := simulate.New(ix, simulate.Options{}).Run(s)
		if err != nil {
			t.Fatal(err)
		}
		rep := res.Report()
		want := refRun(m, s)
		got := map[string]int{}
		for _, r := range rep.Reached {
			got[r.Node] = r.Hops
			checkPath(t, m, r, s)
		}
		ctx := fmt.Sprintf("round %d, scenario %+v", round, s)
		if !reflect.DeepEqual(got, want.hops) {
			t.Fatalf("%s: hops\n got  %v\n want %v", ctx, got, want.hops)
		}
		if !reflect.DeepEqual(rep.Failed, keys(want.failed)) {
			t.Fatalf("%s: failed\n got  %v\n want %v", ctx, rep.Failed, keys(want.failed))
		}
		if !reflect.DeepEqual(rep.Degraded, keys(want.degraded)) {
			t.Fatalf("%s: degraded\n got  %v\n want %v", ctx, rep.Degraded, keys(want.degraded))
		}
		for _, j := range rep.Journeys {
			if j.Status != want.status[j.ID] || j.Exposed != want.exposed[j.ID] {
				t.Fatalf("%s: journey %s: got %s/%v want %s/%v", ctx, j.ID, j.Status, j.Exposed, want.status[j.ID], want.exposed[j.ID])
			}
		}
	}
}

// checkPath verifies a reported attack path: it starts at a seed, ends at the
// node, each step is a usable edge or a runs_on co-residency, and its edge
// count is the hop count. Without runs_on, it is also the shortest path whose
// ids compare smallest.
func checkPath(t *testing.T, m *graph.Model, r simulate.ReportReached, s simulate.Scenario) {
	t.Helper()
	p := r.Path
	if len(p) == 0 || p[len(p)-1] != r.Node {
		t.Fatalf("path %v does not end at %s", p, r.Node)
	}
	isSeed := false
	for _, c := range s.Compromised {
		isSeed = isSeed || c == p[0]
	}
	if !isSeed {
		t.Fatalf("path %v does not start at a seed %v", p, s.Compromised)
	}
	edges := 0
	for i := 1; i < len(p); i++ {
		if n, _ := m.NodeByID(p[i]); n.RunsOn == p[i-1] {
			continue
		}
		if _, ok := m.EdgeByKey(graph.EdgeKey{From: p[i-1], To: p[i]}); !ok {
			t.Fatalf("path %v: no edge %s→%s", p, p[i-1], p[i])
		}
		edges++
	}
	if edges != r.Hops {
		t.Fatalf("path %v has %d edges, hops %d", p, edges, r.Hops)
	}
}

// Adding a quarantine never grows the blast radius.
func TestQuarantineNeverGrowsBlastRadius(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := 0; round < propertyRounds; round++ {
		m := randomModel(rng, true)
		e := simulate.New(compile(t, m), simulate.Options{})
		s := randomScenario(rng, m)
		before, err := e.Run(s)
		if err != nil {
			t.Fatal(err)
		}
		s.Quarantined = append(s.Quarantined, m.Nodes[rng.IntN(len(m.Nodes))].ID)
		after, err := e.Run(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range after.Reached {
			if !before.Compromised(r.Node) {
				t.Fatalf("round %d: quarantining %v reached new node %s", round, s.Quarantined, after.Index().ID(r.Node))
			}
		}
	}
}

// allCertain sets every class's probability to 1 with distinct dwell times.
func allCertain() simulate.Options {
	cs := simulate.DefaultClasses()
	for i := range cs {
		cs[i].Probability = 1
	}
	other := simulate.DefaultOtherClass()
	other.Probability = 1
	return simulate.Options{Classes: cs, Other: other}
}

// Monte Carlo with every probability 1 equals the deterministic timed run:
// the same nodes with probability 1, medians equal to earliest times, the same
// journeys exposed.
func TestMonteCarloCertainEqualsDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for round := 0; round < propertyRounds/4; round++ {
		m := randomModel(rng, true)
		e := simulate.New(compile(t, m), allCertain())
		s := randomScenario(rng, m)
		s.CompromisedOffline = false
		if round%3 == 0 {
			s.At = time.Duration(rng.IntN(4)) * 30 * time.Minute
		}
		det, err := e.Run(simulate.Scenario{Compromised: s.Compromised, Quarantined: s.Quarantined, Blocked: s.Blocked, At: s.At, Timed: true})
		if err != nil {
			t.Fatal(err)
		}
		mc, err := e.MonteCarlo(context.Background(), s, simulate.MCOptions{Trials: 5, Seed: uint64(round)})
		if err != nil {
			t.Fatal(err)
		}
		if len(mc.Nodes) != len(det.Reached) {
			t.Fatalf("round %d: monte carlo reached %d nodes, deterministic %d", round, len(mc.Nodes), len(det.Reached))
		}
		for _, n := range mc.Nodes {
			want, ok := det.Time(n.Node)
			if !ok || n.Probability != 1 || n.Median != want {
				t.Fatalf("round %d: node %s: p=%v median=%v, deterministic %v (reached %v)", round, det.Index().ID(n.Node), n.Probability, n.Median, want, ok)
			}
		}
		rep := det.Report()
		for i, j := range mc.Journeys {
			if want := map[bool]float64{true: 1, false: 0}[rep.Journeys[i].Exposed]; j.Exposure != want {
				t.Fatalf("round %d: journey %s exposure %v, deterministic exposed %v", round, j.Journey.ID, j.Exposure, rep.Journeys[i].Exposed)
			}
		}
	}
}

// The same seed gives the same answer, whatever the number of workers; a
// different seed gives a different one.
func TestMonteCarloReproducible(t *testing.T) {
	m, err := graph.Generate(graph.GenOptions{Nodes: 3000, Degree: 8, Journeys: 30, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	e := simulate.New(compile(t, m), simulate.Options{})
	s := simulate.Scenario{Compromised: []string{m.Nodes[400].ID}}
	run := func(seed uint64, workers int) *simulate.MCResult {
		r, err := e.MonteCarlo(context.Background(), s, simulate.MCOptions{Trials: 300, Seed: seed, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a, b, c := run(42, 1), run(42, 4), run(43, 2)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different worker counts: different results")
	}
	if reflect.DeepEqual(a.Nodes, c.Nodes) {
		t.Fatal("different seeds gave identical per-node results")
	}
	var partial bool
	for _, n := range a.Nodes {
		if n.Probability < 0 || n.Probability > 1 {
			t.Fatalf("probability %v", n.Probability)
		}
		partial = partial || (n.Probability > 0 && n.Probability < 1)
	}
	if !partial {
		t.Error("no node has a probability strictly between 0 and 1: the trials are not random")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.MonteCarlo(ctx, s, simulate.MCOptions{Trials: 1000, Seed: 1}); err == nil {
		t.Error("a cancelled context did not stop the run")
	}
	if _, err := e.MonteCarlo(context.Background(), s, simulate.MCOptions{Trials: 0}); err == nil {
		t.Error("zero trials accepted")
	}
}

// A small graph whose outcome distribution is known: b is reached at 10m when
// a→b (SSH, p=0.6) succeeds, else at 2h10m through c (web p=0.15, then SSH
// p=0.6). So P(b) = 0.6 + 0.4·0.15·0.6 = 0.636 and its median is exactly 10m.
func TestMonteCarloKnownDistribution(t *testing.T) {
	ix := testutil.Index(t, `
		apiVersion: firebreak/v1
		kind: Topology
		nodes:
		  - {id: a, kind: host}
		  - {id: b, kind: host}
		  - {id: c, kind: host}
		edges:
		  - {from: a, to: b, ports: [22]}
		  - {from: a, to: c, ports: [443]}
		  - {from: c, to: b, ports: [22]}
	`)
	r, err := simulate.New(ix, simulate.Options{}).MonteCarlo(context.Background(),
		simulate.Scenario{Compromised: []string{"a"}}, simulate.MCOptions{Trials: 20000, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]simulate.MCNode{}
	for _, n := range r.Nodes {
		got[ix.ID(n.Node)] = n
	}
	if b := got["b"]; math.Abs(b.Probability-0.636) > 0.015 || b.Median != 10*time.Minute {
		t.Errorf("b: p=%v median=%v, want p≈0.636 median 10m", b.Probability, b.Median)
	}
	if c := got["c"]; math.Abs(c.Probability-0.15) > 0.015 || c.Median != 2*time.Hour {
		t.Errorf("c: p=%v median=%v, want p≈0.15 median 2h", c.Probability, c.Median)
	}
	if a := got["a"]; a.Probability != 1 || a.Median != 0 {
		t.Errorf("seed a: %+v", a)
	}
}
