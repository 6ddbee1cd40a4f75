// Package testutil holds helpers shared by tests: building small models from
// native YAML written inline, with the graph drawn beside it.
package testutil

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/exp/golden"

	"github.com/firebreak/firebreak/graph"
)

// Model parses a native Topology (and optional Journeys) document written
// inline in a test and builds the model, failing the test on any error.
// Indentation common to all lines is removed, so fixtures can sit indented.
func Model(t testing.TB, topology string, journeys ...string) *graph.Model {
	t.Helper()
	var docs []*graph.Document
	parse := func(name, text string) {
		d, err := graph.ParseNative(name, []byte(Dedent(text)))
		if err != nil {
			t.Fatalf("fixture %s: %v", name, err)
		}
		docs = append(docs, d)
	}
	parse("topology.yaml", topology)
	for _, j := range journeys {
		parse("journeys.yaml", j)
	}
	m, err := graph.Build(docs...)
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return m
}

// Index builds and compiles a model.
func Index(t testing.TB, topology string, journeys ...string) *graph.Index {
	t.Helper()
	ix, err := graph.Compile(Model(t, topology, journeys...))
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return ix
}

// Dedent removes the indentation shared by every non-blank line.
func Dedent(s string) string {
	lines := strings.Split(strings.TrimLeft(strings.TrimRight(s, " \t\n"), "\n"), "\n")
	min := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, " \t"))
		if min < 0 || n < min {
			min = n
		}
	}
	for i, l := range lines {
		if len(l) >= min && min > 0 {
			lines[i] = l[min:]
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// Golden compares out with testdata/<TestName>.golden. Run the tests with
// -update to rewrite the files, then review the diff. Every test package
// imports testutil, so `go test ./... -update` has the flag everywhere.
func Golden(t testing.TB, out []byte) {
	t.Helper()
	golden.RequireEqual(t, out)
}
