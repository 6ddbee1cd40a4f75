package simulate_test

import (
	"testing"
	"time"

	"github.com/firebreak/firebreak/internal/testutil"
	"github.com/firebreak/firebreak/simulate"
)

// Shortest is not earliest: a→db takes one hop over a slow web port (2 h),
// a→b→db two hops over SSH (10 min each).
//
//	a ──443 (2h)──────────▶ db
//	a ──22 (10m)──▶ b ──22 (10m)──▶ db ──5432 (45m)──▶ vault
const timedTopo = `
	apiVersion: firebreak/v1
	kind: Topology
	nodes:
	  - {id: a, kind: host}
	  - {id: b, kind: host}
	  - {id: db, kind: host, crown_jewel: true}
	  - {id: vault, kind: datastore, crown_jewel: true}
	  - {id: svc, kind: service, runs_on: b}
	edges:
	  - {from: a, to: db, ports: [443], dependency: none}
	  - {from: a, to: b, ports: [22], dependency: none}
	  - {from: b, to: db, ports: [22], dependency: none}
	  - {from: db, to: vault, ports: [5432]}
`

func timedRun(t *testing.T, s simulate.Scenario) *simulate.Result {
	t.Helper()
	r, err := simulate.New(testutil.Index(t, timedTopo), simulate.Options{}).Run(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestEarliestTimeAndPaths(t *testing.T) {
	r := timedRun(t, simulate.Scenario{Compromised: []string{"a"}, Timed: true})
	ix := r.Index()
	id := func(s string) int32 { d, _ := ix.Lookup(s); return d }
	for node, want := range map[string]time.Duration{"a": 0, "b": 10 * time.Minute, "svc": 10 * time.Minute, "db": 20 * time.Minute, "vault": 65 * time.Minute} {
		if got, ok := r.Time(id(node)); !ok || got != want {
			t.Errorf("time(%s) = %v %v, want %v", node, got, ok, want)
		}
	}
	names := func(p []int32) []string {
		var out []string
		for _, d := range p {
			out = append(out, ix.ID(d))
		}
		return out
	}
	equal(t, "shortest path to db", names(r.Path(id("db"))), []string{"a", "db"})
	equal(t, "earliest path to db", names(r.EarliestPath(id("db"))), []string{"a", "b", "db"})
	rep := r.Report()
	equal(t, "explanations", rep.Explanations, []simulate.ReportExplanation{
		{Node: "db", Hops: 1, ShortestPath: []string{"a", "db"}, EarliestPath: []string{"a", "b", "db"}, EarliestSeconds: 1200},
		{Node: "vault", Hops: 2, ShortestPath: []string{"a", "db", "vault"}, EarliestPath: []string{"a", "b", "db", "vault"}, EarliestSeconds: 3900},
	})
}

func TestBlastRadiusAtHorizon(t *testing.T) {
	cases := []struct {
		at   time.Duration
		want map[string]int
	}{
		{5 * time.Minute, map[string]int{"a": 0}},
		{10 * time.Minute, map[string]int{"a": 0, "b": 1, "svc": 1}},
		// By 30 min db is reached, but only through b: its hop count within
		// the horizon is 2, not the 1 of the slow direct edge.
		{30 * time.Minute, map[string]int{"a": 0, "b": 1, "svc": 1, "db": 2}},
		{2 * time.Hour, map[string]int{"a": 0, "b": 1, "svc": 1, "db": 1, "vault": 2}},
	}
	for _, c := range cases {
		rep := timedRun(t, simulate.Scenario{Compromised: []string{"a"}, At: c.at}).Report()
		equal(t, "at "+c.at.String(), hops(rep), c.want)
	}
}

func TestLateralOnly(t *testing.T) {
	rep := timedRun(t, simulate.Scenario{Compromised: []string{"a"}, LateralOnly: true}).Report()
	// Only SSH is lateral: db is reached over b, the database port is not
	// followed, the web port is not either.
	equal(t, "lateral only", hops(rep), map[string]int{"a": 0, "b": 1, "svc": 1, "db": 2})
}

func TestNegativeHorizonRejected(t *testing.T) {
	_, err := simulate.New(testutil.Index(t, timedTopo), simulate.Options{}).Run(simulate.Scenario{At: -time.Second})
	if err == nil {
		t.Fatal("negative horizon accepted")
	}
}

func TestFormatSeconds(t *testing.T) {
	for in, want := range map[int64]string{0: "0s", 45: "45s", 600: "10m", 4800: "1h20m", 7200: "2h", 97200: "1d3h", 3661: "1h1m1s"} {
		if got := simulate.FormatSeconds(in); got != want {
			t.Errorf("%d → %q, want %q", in, got, want)
		}
	}
}
