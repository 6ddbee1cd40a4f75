package simulate

import (
	"testing"

	"github.com/firebreak/firebreak/graph"
	"github.com/firebreak/firebreak/internal/testutil"
)

// BenchmarkJourneys isolates journey evaluation: 1,000 journeys judged
// against a failure and compromise already propagated in the scratch space.
func BenchmarkJourneys(b *testing.B) {
	for _, size := range testutil.Sizes {
		b.Run(size.Name, func(b *testing.B) {
			es := testutil.GetEstate(b, size.Nodes)
			e := New(es.Index, Options{})
			var failed []string
			for _, n := range es.Model.Nodes {
				if n.Kind == graph.KindDatastore && len(failed) < 8 {
					failed = append(failed, n.ID)
				}
			}
			s := Scenario{Compromised: []string{es.Index.ID(testutil.Sources(es.Index, 1)[0])}, Failed: failed}
			sd, err := e.resolve(s)
			if err != nil {
				b.Fatal(err)
			}
			sc := newScratch(es.Index)
			sc.begin()
			r := &Result{ix: es.Index, scenario: s, seeds: sd}
			e.applyMasks(sc, sd)
			e.spread(sc, sd, s, r)
			e.fail(sc, sd, r, false)
			testutil.Median(b, func(int) {
				r.Impact = Impact{}
				e.journeys(sc, r)
			})
			b.ReportMetric(float64(len(r.Journeys)), "journeys")
			b.ReportMetric(float64(r.Impact.Broken+r.Impact.Degraded+r.Impact.Exposed), "affected")
		})
	}
}
