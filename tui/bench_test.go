package tui

import (
	"fmt"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/firebreak/firebreak/graph"
)

// Benchmarks on a 100k-node estate (a binary tree of hosts): the node list
// must stay responsive while filtering, and a frame must cost only the
// visible rows. Run with go test ./tui/ -bench . -run '^$'.

func bigModel(b *testing.B, n int) Model {
	b.Helper()
	gm := &graph.Model{}
	id := func(i int) string { return fmt.Sprintf("host-%06d", i) }
	for i := 0; i < n; i++ {
		gm.Nodes = append(gm.Nodes, graph.Node{ID: id(i), Kind: graph.KindHost, Labels: map[string]string{"zone": fmt.Sprint("z", i%7)}})
		for _, c := range []int{2*i + 1, 2*i + 2} {
			if c < n {
				gm.Edges = append(gm.Edges, graph.Edge{From: id(i), To: id(c), Dependency: graph.DepSoft})
			}
		}
	}
	gm.Sort()
	m := New(Session{Title: "bench", Model: gm}, Options{})
	if m.err != nil {
		b.Fatal(m.err)
	}
	next, _ := m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	return next.(Model)
}

func BenchmarkFilterKeystroke100k(b *testing.B) {
	m := update(b, bigModel(b, 100_000), keys("/host-01")...)
	add := tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{'2'}}
	del := tea.KeyMsg{Type: tea.KeyBackspace}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		next, _ := m.Update(add)
		next, _ = next.(Model).Update(del)
		m = next.(Model)
	}
}

func BenchmarkView100k(b *testing.B) {
	m := bigModel(b, 100_000)
	m = update(b, m, markMsg{node: "host-000000", toggle: markCompromised})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = m.View()
	}
}

func BenchmarkScrollAndView100k(b *testing.B) {
	m := bigModel(b, 100_000)
	down := tea.KeyMsg{Type: tea.KeyPgDown}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		next, _ := m.Update(down)
		m = next.(Model)
		_ = m.View()
	}
}

func BenchmarkSimulate100k(b *testing.B) {
	m := bigModel(b, 100_000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, cmd := m.Update(markMsg{node: "host-000000", toggle: markCompromised})
		_ = cmd()
	}
}
