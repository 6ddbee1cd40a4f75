package simulate_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/firebreak/firebreak/graph"
	"github.com/firebreak/firebreak/internal/testutil"
	"github.com/firebreak/firebreak/simulate"
)

// The benchmarks of issue 3's targets, on generated estates of 10k, 100k and
// 1M nodes (mean out-degree ~6, 1,000 journeys). Compare BlastRadius with
// graph's BenchmarkBareCSRBFS, which walks the same sources.

func sizes(b *testing.B, fn func(b *testing.B, e *testutil.Estate)) {
	for _, size := range testutil.Sizes {
		b.Run(size.Name, func(b *testing.B) { fn(b, testutil.GetEstate(b, size.Nodes)) })
	}
}

func mustRun(b *testing.B, e *simulate.Engine, s simulate.Scenario) *simulate.Result {
	r, err := e.Run(s)
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// BenchmarkBlastRadius: single-source compromise spread (hops and attack
// paths' parents), from 64 fixed random sources in turn. Engine.BlastRadius
// is the spread alone; BenchmarkFullSimulate adds failure and journeys.
func BenchmarkBlastRadius(b *testing.B) {
	sizes(b, func(b *testing.B, es *testutil.Estate) {
		e := simulate.New(es.Index, simulate.Options{})
		var scen []simulate.Scenario
		for _, s := range testutil.Sources(es.Index, 64) {
			scen = append(scen, simulate.Scenario{Compromised: []string{es.Index.ID(s)}})
		}
		mustRun(b, e, scen[0]) // allocate the scratch space outside the timing
		reached := 0
		testutil.Median(b, func(i int) {
			r, err := e.BlastRadius(scen[i%len(scen)])
			if err != nil {
				b.Fatal(err)
			}
			reached += len(r.Reached)
		})
		b.ReportMetric(float64(reached)/float64(b.N), "nodes-reached/op")
	})
}

// failureSeeds are data-tier nodes of the first platform cells: what every
// application depends on, so failure fans out widely.
func failureSeeds(m *graph.Model) []string {
	var out []string
	for _, n := range m.Nodes {
		if n.Kind == graph.KindDatastore && len(out) < 8 {
			out = append(out, n.ID)
		}
	}
	return out
}

// BenchmarkFailure: failure and degradation propagation from eight failed
// platform datastores.
func BenchmarkFailure(b *testing.B) {
	sizes(b, func(b *testing.B, es *testutil.Estate) {
		e := simulate.New(es.Index, simulate.Options{})
		s := simulate.Scenario{Failed: failureSeeds(es.Model)}
		r := mustRun(b, e, s)
		testutil.Median(b, func(int) { mustRun(b, e, s) })
		b.ReportMetric(float64(len(r.Failed)), "failed")
		b.ReportMetric(float64(len(r.Degraded)), "degraded")
	})
}

// BenchmarkFullSimulate: compromise + failure + evaluation of 1,000 journeys.
func BenchmarkFullSimulate(b *testing.B) {
	sizes(b, func(b *testing.B, es *testutil.Estate) {
		e := simulate.New(es.Index, simulate.Options{})
		src := testutil.Sources(es.Index, 1)[0]
		s := simulate.Scenario{Compromised: []string{es.Index.ID(src)}, Failed: failureSeeds(es.Model)}
		r := mustRun(b, e, s)
		testutil.Median(b, func(int) { mustRun(b, e, s) })
		b.ReportMetric(float64(len(r.Journeys)), "journeys")
		b.ReportMetric(float64(r.Impact.Broken+r.Impact.Degraded), "journeys-affected")
	})
}

// BenchmarkMonteCarlo: 1,000 seeded trials of probabilistic, timed spread,
// on every core. The 1M run is left out: its target is set at 100k.
func BenchmarkMonteCarlo(b *testing.B) {
	for _, size := range testutil.Sizes[:2] {
		b.Run(size.Name, func(b *testing.B) {
			es := testutil.GetEstate(b, size.Nodes)
			e := simulate.New(es.Index, simulate.Options{})
			src := testutil.Sources(es.Index, 1)[0]
			s := simulate.Scenario{Compromised: []string{es.Index.ID(src)}}
			var nodes int
			testutil.Median(b, func(int) {
				r, err := e.MonteCarlo(context.Background(), s, simulate.MCOptions{Trials: 1000, Seed: 7})
				if err != nil {
					b.Fatal(err)
				}
				nodes = len(r.Nodes)
			})
			b.ReportMetric(float64(nodes), "nodes-ever-reached")
		})
	}
}

var (
	wsOnce sync.Once
	wsPath string
	wsErr  error
)

// BenchmarkOpenToFirstResult1M: open a workspace holding the 1M-node estate
// (imported once, outside the timing), load the cached index, and run a first
// simulation, as `firebreak simulate` does.
func BenchmarkOpenToFirstResult1M(b *testing.B) {
	es := testutil.GetEstate(b, 1_000_000)
	wsOnce.Do(func() {
		dir, err := os.MkdirTemp("", "firebreak-bench-")
		if err != nil {
			wsErr = err
			return
		}
		wsPath = filepath.Join(dir, "ws.db")
		ws, err := graph.Open(wsPath)
		if err != nil {
			wsErr = err
			return
		}
		_, wsErr = ws.Import(context.Background(), es.Model, es.Index, graph.RevisionMeta{})
		ws.Close()
	})
	if wsErr != nil {
		b.Fatal(wsErr)
	}
	src := es.Index.ID(testutil.Sources(es.Index, 1)[0])
	var mem int64
	testutil.Median(b, func(int) {
		ctx := context.Background()
		ws, err := graph.OpenExisting(wsPath)
		if err != nil {
			b.Fatal(err)
		}
		rev, err := ws.Latest(ctx)
		if err != nil {
			b.Fatal(err)
		}
		ix, err := ws.Index(ctx, rev)
		if err != nil {
			b.Fatal(err)
		}
		ws.Close()
		mustRun(b, simulate.New(ix, simulate.Options{}), simulate.Scenario{Compromised: []string{src}})
		mem = ix.MemoryBytes()
	})
	b.ReportMetric(float64(mem)/1e6, "index-MB")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if wsPath != "" {
		os.RemoveAll(filepath.Dir(wsPath))
	}
	os.Exit(code)
}
