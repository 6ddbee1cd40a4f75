package graph_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	dgraph "github.com/dominikbraun/graph"

	"github.com/firebreak/firebreak/graph"
	"github.com/firebreak/firebreak/internal/testutil"
)

// BenchmarkCompile measures compiling a model into the index, and reports the
// index's memory.
func BenchmarkCompile(b *testing.B) {
	for _, size := range testutil.Sizes {
		b.Run(size.Name, func(b *testing.B) {
			m := testutil.GetEstate(b, size.Nodes).Model
			var ix *graph.Index
			testutil.Median(b, func(int) {
				var err error
				if ix, err = graph.Compile(m); err != nil {
					b.Fatal(err)
				}
			})
			b.ReportMetric(float64(ix.MemoryBytes())/1e6, "index-MB")
			b.ReportMetric(float64(ix.EdgeCount()), "edges")
		})
	}
}

// BenchmarkDominikBFS is the reference the compiled index replaces:
// dominikbraun/graph's BFS, which copies the adjacency map on every call.
// Only 10k and 100k: at 1M one query takes seconds.
func BenchmarkDominikBFS(b *testing.B) {
	for _, size := range testutil.Sizes[:2] {
		b.Run(size.Name, func(b *testing.B) {
			e := testutil.GetEstate(b, size.Nodes)
			g := dgraph.New(dgraph.StringHash, dgraph.Directed())
			for _, n := range e.Model.Nodes {
				_ = g.AddVertex(n.ID)
			}
			for _, ed := range e.Model.Edges {
				_ = g.AddEdge(ed.From, ed.To)
			}
			sources := testutil.Sources(e.Index, 64)
			testutil.Median(b, func(i int) {
				n := 0
				_ = dgraph.BFS(g, e.Index.ID(sources[i%len(sources)]), func(string) bool { n++; return false })
			})
		})
	}
}

// BenchmarkImport1M imports the 1M-node estate from its native JSON files into
// a new workspace: parse, validate, compile, store (one transaction).
func BenchmarkImport1M(b *testing.B) {
	e := testutil.GetEstate(b, 1_000_000)
	dir := b.TempDir()
	topo, jrn := filepath.Join(dir, "topology.json"), filepath.Join(dir, "journeys.json")
	for path, write := range map[string]func(*os.File) error{
		topo: func(f *os.File) error { return graph.WriteTopologyStream(f, e.Model, "") },
		jrn:  func(f *os.File) error { return graph.WriteJourneysStream(f, e.Model, "") },
	} {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := write(f); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var docs []*graph.Document
		for _, p := range []string{topo, jrn} {
			data, err := os.ReadFile(p)
			if err != nil {
				b.Fatal(err)
			}
			d, err := graph.ParseNative(p, data)
			if err != nil {
				b.Fatal(err)
			}
			docs = append(docs, d)
		}
		m, err := graph.Build(docs...)
		if err != nil {
			b.Fatal(err)
		}
		ix, err := graph.Compile(m)
		if err != nil {
			b.Fatal(err)
		}
		ws, err := graph.Open(filepath.Join(b.TempDir(), "ws.db"))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ws.Import(context.Background(), m, ix, graph.RevisionMeta{}); err != nil {
			b.Fatal(err)
		}
		ws.Close()
	}
}

// BenchmarkBareCSRBFS is the floor the simulation is measured against: a
// breadth-first search straight over the index's CSR arrays from the same
// sources as simulate's BenchmarkBlastRadius, with nothing but a visited stamp.
func BenchmarkBareCSRBFS(b *testing.B) {
	for _, size := range testutil.Sizes {
		b.Run(size.Name, func(b *testing.B) {
			ix := testutil.GetEstate(b, size.Nodes).Index
			sources := testutil.Sources(ix, 64)
			seen := make([]uint32, ix.Len())
			queue := make([]int32, 0, 1024)
			var epoch uint32
			reached := 0
			testutil.Median(b, func(i int) {
				epoch++
				queue = append(queue[:0], sources[i%len(sources)])
				seen[queue[0]] = epoch
				for h := 0; h < len(queue); h++ {
					for _, v := range ix.OutTargets(queue[h]) {
						if seen[v] != epoch {
							seen[v] = epoch
							queue = append(queue, v)
						}
					}
				}
				reached += len(queue)
			})
			b.ReportMetric(float64(reached)/float64(b.N), "nodes-reached/op")
		})
	}
}
