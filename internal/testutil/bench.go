package testutil

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/firebreak/firebreak/graph"
)

// Benchmark estates: generated once per size per test binary. Mean
// out-degree 6 gives the ~6 edges per node the targets are stated for.
var (
	estateMu sync.Mutex
	estates  = map[int]*Estate{}
)

// Estate is a generated model with its compiled index.
type Estate struct {
	Model *graph.Model
	Index *graph.Index
}

// Sizes are the benchmark sizes, by name.
var Sizes = []struct {
	Name  string
	Nodes int
}{{"10k", 10_000}, {"100k", 100_000}, {"1M", 1_000_000}}

// GetEstate returns the generated estate of n nodes with 1,000 journeys.
func GetEstate(tb testing.TB, n int) *Estate {
	tb.Helper()
	estateMu.Lock()
	defer estateMu.Unlock()
	if e, ok := estates[n]; ok {
		return e
	}
	m, err := graph.Generate(graph.GenOptions{Nodes: n, Degree: 6, Journeys: 1000, Seed: 1})
	if err != nil {
		tb.Fatal(err)
	}
	ix, err := graph.Compile(m)
	if err != nil {
		tb.Fatal(err)
	}
	e := &Estate{Model: m, Index: ix}
	estates[n] = e
	return e
}

// Sources picks k nodes uniformly at random (seeded), the same for every
// benchmark, so engine and baseline walk the same blast radii.
func Sources(ix *graph.Index, k int) []int32 {
	rng := rand.New(rand.NewPCG(99, uint64(ix.Len())))
	out := make([]int32, k)
	for i := range out {
		out[i] = int32(rng.IntN(ix.Len()))
	}
	return out
}

// Median runs op b.N times and reports, besides Go's mean, the median time
// per operation as "p50-ns/op": the targets are medians, and one slow
// outlier (a GC) should not move them.
func Median(b *testing.B, op func(i int)) {
	b.Helper()
	d := make([]time.Duration, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t := time.Now()
		op(i)
		d[i] = time.Since(t)
	}
	b.StopTimer()
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	b.ReportMetric(float64(d[len(d)/2].Nanoseconds()), "p50-ns/op")
}

// SizeName formats a node count like the benchmark names.
func SizeName(n int) string {
	for _, s := range Sizes {
		if s.Nodes == n {
			return s.Name
		}
	}
	return fmt.Sprint(n)
}
