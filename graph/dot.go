package graph

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"

	dgraph "github.com/dominikbraun/graph"
	"github.com/dominikbraun/graph/draw"
)

// dotShapes draws each kind the way network diagrams usually do.
var dotShapes = map[Kind]string{
	KindHost: "box", KindService: "ellipse", KindDatastore: "cylinder", KindGateway: "hexagon",
	KindLB: "diamond", KindClient: "house", KindSaaS: "component", KindNetwork: "octagon",
}

// WriteDOT writes the model as a Graphviz digraph: one statement per node
// (shape by kind, crown jewels in red) and per edge (ports as the label; soft
// dependencies dashed, reachability-only dotted). dominikbraun/graph renders
// it; its statement order follows map iteration, so the statements are
// sorted afterwards to keep the output deterministic.
func WriteDOT(w io.Writer, m *Model) error {
	g := dgraph.New(dgraph.StringHash, dgraph.Directed())
	for _, n := range m.Nodes {
		attrs := []func(*dgraph.VertexProperties){
			dgraph.VertexAttribute("shape", dotShapes[n.Kind]),
			dgraph.VertexAttribute("label", dotEscape(n.ID+`\n`+string(n.Kind))),
		}
		if n.CrownJewel {
			attrs = append(attrs, dgraph.VertexAttribute("color", "red"), dgraph.VertexAttribute("penwidth", "2"))
		}
		if err := g.AddVertex(dotEscape(n.ID), attrs...); err != nil {
			return fmt.Errorf("dot: node %q: %w", n.ID, err)
		}
	}
	for _, e := range m.Edges {
		attrs := []func(*dgraph.EdgeProperties){dgraph.EdgeAttribute("label", dotEscape(strings.Join(portStrings(e.Ports), ",")))}
		switch e.Dependency {
		case DepSoft:
			attrs = append(attrs, dgraph.EdgeAttribute("style", "dashed"))
		case DepNone:
			attrs = append(attrs, dgraph.EdgeAttribute("style", "dotted"))
		}
		if err := g.AddEdge(dotEscape(e.From), dotEscape(e.To), attrs...); err != nil {
			return fmt.Errorf("dot: edge %s: %w", e.Key(), err)
		}
	}
	var buf bytes.Buffer
	if err := draw.DOT(g, &buf, draw.GraphAttribute("rankdir", "LR")); err != nil {
		return fmt.Errorf("dot: %w", err)
	}
	var head, nodes, edges []string
	for _, line := range strings.Split(buf.String(), "\n") {
		t := strings.TrimSpace(line)
		switch {
		case t == "" || t == "}":
		case strings.HasPrefix(t, "strict ") || !strings.HasPrefix(t, `"`):
			head = append(head, t)
		case strings.Contains(t, `" -> "`):
			edges = append(edges, t)
		default:
			nodes = append(nodes, t)
		}
	}
	sort.Strings(nodes)
	sort.Strings(edges)
	var out strings.Builder
	out.WriteString(head[0] + "\n")
	for _, l := range append(append(head[1:], nodes...), edges...) {
		out.WriteString("\t" + l + "\n")
	}
	out.WriteString("}\n")
	_, err := io.WriteString(w, out.String())
	return err
}

// dotEscape makes s safe inside a DOT double-quoted string, which the
// library's template does not do.
func dotEscape(s string) string { return strings.ReplaceAll(s, `"`, `\"`) }
