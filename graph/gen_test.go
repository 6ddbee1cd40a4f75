package graph_test

import (
	"reflect"
	"testing"

	"github.com/firebreak/firebreak/graph"
)

func TestGenerateIsValidCanonicalAndReproducible(t *testing.T) {
	for _, n := range []int{64, 300, 5000} {
		m, err := graph.Generate(graph.GenOptions{Nodes: n, Degree: 8, Journeys: 20, Seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Nodes) != n {
			t.Fatalf("asked %d nodes, got %d", n, len(m.Nodes))
		}
		if err := graph.Validate(m); err != nil {
			t.Fatalf("%d nodes: %v", n, err)
		}
		// Canonical order: compiling succeeds only on sorted, duplicate-free input.
		if _, err := graph.Compile(m); err != nil {
			t.Fatalf("%d nodes: %v", n, err)
		}
		if n >= 5000 {
			deg := float64(len(m.Edges)) / float64(len(m.Nodes))
			if deg < 6 || deg > 10 {
				t.Errorf("mean out-degree %.2f, want 6–10", deg)
			}
		}
		again, _ := graph.Generate(graph.GenOptions{Nodes: n, Degree: 8, Journeys: 20, Seed: 7})
		if !reflect.DeepEqual(m.TopologyDoc(""), again.TopologyDoc("")) || !reflect.DeepEqual(m.JourneysDoc(""), again.JourneysDoc("")) {
			t.Fatalf("%d nodes: same seed, different estate", n)
		}
	}
	other, _ := graph.Generate(graph.GenOptions{Nodes: 300, Degree: 8, Seed: 8})
	m, _ := graph.Generate(graph.GenOptions{Nodes: 300, Degree: 8, Seed: 7})
	if reflect.DeepEqual(m.TopologyDoc(""), other.TopologyDoc("")) {
		t.Error("different seeds, same estate")
	}
}
