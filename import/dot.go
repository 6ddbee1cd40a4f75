package importer

// Graphviz DOT → nodes and edges, parsed by gonum's DOT parser
// (gonum.org/v1/gonum/graph/formats/dot), walked here.
//
//   - Node ids are the DOT ids with quotes removed ("10.0.0.1",
//     "frontend-external"); a `node:port:compass` suffix is a record field,
//     not a TCP port, and is dropped. An id that breaks firebreak's id rules
//     (white space, commas, control characters, over 256 bytes) is mapped
//     deterministically: each run of such characters becomes "_", a long id
//     is cut and suffixed with a hash, and a clash with another id gets
//     "~2", "~3"… in order of appearance. Every mapping is noted.
//   - Every node attribute is kept as a label. The node kind comes from a
//     `kind` (or `type`, `role`) attribute naming a firebreak kind or a
//     common synonym (router → network, database → datastore…), else from
//     shape=cylinder (the usual database symbol) → datastore, else host:
//     DOT exports are mostly network diagrams. A `label` becomes the node's
//     name; an id or an ip/address attribute that is an IP becomes its
//     address.
//   - Edge chains (a -> b -> c) and subgraph endpoints (a -> {b c}) expand
//     to every pair; nodes may be declared implicitly by edges, before or
//     after their node statement; `node [..]`/`edge [..]` defaults apply to
//     what is declared after them in their (sub)graph. Edge attributes
//     `port`/`ports` (and a `label` made only of ports: "443/tcp", "tcp/53")
//     become the edge's ports; `dependency` and `group` are honoured.
//   - Direction: digraph edges mean from connects to to, dependency hard by
//     default (firebreak's default: it overstates rather than hides an
//     outage). An undirected graph is a link diagram: each edge becomes two
//     edges, one each way, with dependency none, because a link says both
//     ends can reach each other, not that either fails without the other.
//   - Parallel edges (several links between two devices) merge into one
//     edge with the ports unioned, and are noted with their count. Several
//     graphs in one file merge by node id. `cluster_*` subgraphs give their
//     nodes a `cluster` label. Self-loops are dropped (noted).
//
// The parser holds the whole file in memory: the file is bounded by
// Limits.MaxDoc, and a cheap lexical scan bounds subgraph nesting
// (Limits.MaxDepth) and edge-chain length before gonum's recursive checks
// see them. The scan also joins "a" + "b" concatenations, which gonum does
// not support.

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/firebreak/firebreak/graph"
	"gonum.org/v1/gonum/graph/formats/dot"
	"gonum.org/v1/gonum/graph/formats/dot/ast"
)

var dotFormat = Format{Name: "dot", Detect: detectDOT, Parse: parseDOT}

var dotHeadRe = regexp.MustCompile(`(?i)^(strict\s+)?(di)?graph(\s+("([^"\\]|\\.)*"|[^\s{"]+))?\s*\{`)

// detectDOT: after comments and preprocessor lines, [strict] (di)graph [ID] {.
func detectDOT(_ string, head []byte) bool {
	return dotHeadRe.Match(dotSkipComments(trimHead(head)))
}

// dotSkipComments drops leading comments and '#' lines.
func dotSkipComments(b []byte) []byte {
	for {
		b = bytes.TrimLeft(b, " \t\r\n")
		switch {
		case bytes.HasPrefix(b, []byte("//")), bytes.HasPrefix(b, []byte("#")):
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				return nil
			}
			b = b[i+1:]
		case bytes.HasPrefix(b, []byte("/*")):
			i := bytes.Index(b[2:], []byte("*/"))
			if i < 0 {
				return nil
			}
			b = b[i+4:]
		default:
			return b
		}
	}
}

// maxDOTPairs bounds the edges edge statements expand to ({a b} -> {c d}
// is four).
const maxDOTPairs = 5_000_000

// maxDOTChain bounds the edges of one edge statement (a -> b -> c …).
const maxDOTChain = 100_000

type dotNode struct {
	orig    string
	attrs   map[string]string
	cluster string
	order   int
}

type dotEdge struct {
	from, to string
	ports    []graph.PortRange
	dep      graph.Dependency
	group    string
	anyPort  bool
}

type dotLink struct {
	n          int
	undirected bool
}

type dotScope struct {
	node, edge map[string]string
	cluster    string
}

func (s dotScope) child() dotScope {
	c := dotScope{node: map[string]string{}, edge: map[string]string{}, cluster: s.cluster}
	for k, v := range s.node {
		c.node[k] = v
	}
	for k, v := range s.edge {
		c.edge[k] = v
	}
	return c
}

type dotParser struct {
	file  string
	frag  *Fragment
	nodes map[string]*dotNode
	edges map[graph.EdgeKey]*dotEdge
	links map[[2]string]*dotLink // parallel edges, by unordered pair for undirected graphs
	notes ynCapList
	multi bool
	ops   dotOps
	stmts int
	pairs int
}

func parseDOT(ctx context.Context, in Input, c *Context) (frag *Fragment, err error) {
	defer ynRecover(in.Name, &err)
	lim := ynLimits(c)
	data, err := readAll(in, lim.MaxDoc)
	if err != nil {
		return nil, err
	}
	data, ops, err := dotScan(in.Name, data, lim.MaxDepth)
	if err != nil {
		return nil, err
	}
	f, err := dot.ParseBytes(data)
	if err != nil {
		return nil, dotError(in.Name, err, ops)
	}
	if len(f.Graphs) == 0 {
		return nil, ynErr(in.Name, 1, "no graph in this DOT file")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := &dotParser{file: in.Name, frag: &Fragment{}, nodes: map[string]*dotNode{}, edges: map[graph.EdgeKey]*dotEdge{},
		links: map[[2]string]*dotLink{}, notes: ynCapList{max: 40}, multi: len(f.Graphs) > 1, ops: ops}
	for _, g := range f.Graphs {
		sc := dotScope{node: map[string]string{}, edge: map[string]string{}}
		for _, st := range g.Stmts {
			if err := p.stmt(g, st, sc); err != nil {
				return nil, err
			}
		}
	}
	if p.multi {
		p.notes.add("%d graphs in this file: merged by node id", len(f.Graphs))
	}
	return p.finish(), nil
}

var dotErrPos = regexp.MustCompile(`^(\d+):(\d+): (?:error: )?`)

// dotError rewrites a gonum parse error as file:line.
func dotError(file string, err error, ops dotOps) error {
	msg := err.Error()
	line := 0
	if strings.Contains(msg, "contains directed edge") {
		line = ops.directed
	}
	if m := dotErrPos.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = fmt.Sprintf("column %s: %s", m[2], msg[len(m[0]):])
	}
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return ynErr(file, line, "not valid DOT: %s", msg)
}

// stmt walks one statement; it returns the node ids a subgraph holds when
// used as an edge endpoint.
func (p *dotParser) stmt(g *ast.Graph, st ast.Stmt, sc dotScope) error {
	switch s := st.(type) {
	case *ast.NodeStmt:
		p.stmts++
		p.node(s.Node.ID, sc, s.Attrs)
	case *ast.EdgeStmt:
		p.stmts++
		return p.edgeStmt(g, s, sc)
	case *ast.AttrStmt:
		dst := map[ast.Kind]map[string]string{ast.NodeKind: sc.node, ast.EdgeKind: sc.edge}[s.Kind]
		for _, a := range s.Attrs {
			if dst != nil {
				dst[dotUnquote(a.Key)] = dotUnquote(a.Val)
			}
		}
	case *ast.Subgraph:
		_, err := p.subgraph(g, s, sc)
		return err
	}
	return nil
}

func (p *dotParser) subgraph(g *ast.Graph, s *ast.Subgraph, sc dotScope) ([]string, error) {
	inner := sc.child()
	id := dotUnquote(s.ID)
	if strings.HasPrefix(id, "cluster") {
		inner.cluster = strings.TrimLeft(strings.TrimPrefix(id, "cluster"), "_-")
		for _, st := range s.Stmts {
			if a, ok := st.(*ast.Attr); ok && dotUnquote(a.Key) == "label" && dotUnquote(a.Val) != "" {
				inner.cluster = dotUnquote(a.Val)
			}
		}
		if inner.cluster == "" {
			inner.cluster = id
		}
	}
	var ids []string
	seen := map[string]bool{}
	collect := func(id string) {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	for _, st := range s.Stmts {
		switch x := st.(type) {
		case *ast.NodeStmt:
			collect(dotUnquote(x.Node.ID))
		case *ast.EdgeStmt:
			for _, v := range dotVertices(x) {
				if n, ok := v.(*ast.Node); ok {
					collect(dotUnquote(n.ID))
				}
			}
		}
		if sub, ok := st.(*ast.Subgraph); ok {
			got, err := p.subgraph(g, sub, inner)
			if err != nil {
				return nil, err
			}
			for _, id := range got {
				collect(id)
			}
			continue
		}
		if es, ok := st.(*ast.EdgeStmt); ok {
			for _, v := range dotVertices(es) {
				if sub, ok := v.(*ast.Subgraph); ok {
					got := dotSubgraphIDs(sub)
					for _, id := range got {
						collect(id)
					}
				}
			}
		}
		if err := p.stmt(g, st, inner); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// dotSubgraphIDs lists the node ids a subgraph mentions (nested ones too),
// without recursion.
func dotSubgraphIDs(s *ast.Subgraph) []string {
	var ids []string
	seen := map[string]bool{}
	stack := []*ast.Subgraph{s}
	for len(stack) > 0 {
		cur := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, st := range cur.Stmts {
			var vs []ast.Vertex
			switch x := st.(type) {
			case *ast.NodeStmt:
				vs = []ast.Vertex{x.Node}
			case *ast.EdgeStmt:
				vs = dotVertices(x)
			case *ast.Subgraph:
				vs = []ast.Vertex{x}
			}
			for _, v := range vs {
				switch y := v.(type) {
				case *ast.Node:
					if id := dotUnquote(y.ID); !seen[id] {
						seen[id] = true
						ids = append(ids, id)
					}
				case *ast.Subgraph:
					stack = append(stack, y)
				}
			}
		}
	}
	return ids
}

// dotVertices lists an edge statement's endpoints in order.
func dotVertices(s *ast.EdgeStmt) []ast.Vertex {
	vs := []ast.Vertex{s.From}
	for e := s.To; e != nil; e = e.To {
		vs = append(vs, e.Vertex)
	}
	return vs
}

// node declares (or updates) a node.
func (p *dotParser) node(rawID string, sc dotScope, attrs []*ast.Attr) *dotNode {
	id := dotUnquote(rawID)
	n, ok := p.nodes[id]
	if !ok {
		n = &dotNode{orig: id, attrs: map[string]string{}, cluster: sc.cluster, order: len(p.nodes)}
		for k, v := range sc.node {
			n.attrs[k] = v
		}
		p.nodes[id] = n
	}
	for _, a := range attrs {
		n.attrs[dotUnquote(a.Key)] = dotUnquote(a.Val)
	}
	if n.cluster == "" {
		n.cluster = sc.cluster
	}
	return n
}

func (p *dotParser) edgeStmt(g *ast.Graph, s *ast.EdgeStmt, sc dotScope) error {
	attrs := map[string]string{}
	for k, v := range sc.edge {
		attrs[k] = v
	}
	for _, a := range s.Attrs {
		attrs[dotUnquote(a.Key)] = dotUnquote(a.Val)
	}
	endpoint := func(v ast.Vertex) ([]string, error) {
		switch x := v.(type) {
		case *ast.Node:
			return []string{p.node(x.ID, sc, nil).orig}, nil
		case *ast.Subgraph:
			return p.subgraph(g, x, sc)
		}
		return nil, nil
	}
	prev, err := endpoint(s.From)
	if err != nil {
		return err
	}
	for e := s.To; e != nil; e = e.To {
		next, err := endpoint(e.Vertex)
		if err != nil {
			return err
		}
		if g.Directed && !e.Directed {
			return ynErr(p.file, p.ops.undirected, "not valid DOT: digraph %q uses -- (only graph may; use ->)", dotUnquote(g.ID))
		}
		if p.pairs += len(prev) * len(next); p.pairs > maxDOTPairs {
			return fmt.Errorf("%s: %w: the edge statements expand to more than %d edges", p.file, ErrTooLarge, maxDOTPairs)
		}
		for _, a := range prev {
			for _, b := range next {
				p.edge(a, b, g.Directed, attrs)
			}
		}
		prev = next
	}
	return nil
}

func (p *dotParser) edge(a, b string, directed bool, attrs map[string]string) {
	if a == b {
		p.notes.add("self-loop %s dropped (an edge needs two nodes)", a)
		return
	}
	pair := [2]string{a, b}
	if !directed && b < a {
		pair = [2]string{b, a}
	}
	if p.links[pair] == nil {
		p.links[pair] = &dotLink{undirected: !directed}
	}
	p.links[pair].n++
	dep := graph.DepHard
	if !directed {
		dep = graph.DepNone
	}
	if d := attrs["dependency"]; d != "" {
		if pd, err := graph.ParseDependency(d); err == nil {
			dep = pd
		} else {
			p.notes.add("edge %s -> %s: dependency %q is not hard, soft or none; kept %s", a, b, d, dep)
		}
	}
	ports, anyPort := p.edgePorts(a, b, attrs)
	add := func(from, to string) {
		k := graph.EdgeKey{From: from, To: to}
		e, ok := p.edges[k]
		if !ok {
			p.edges[k] = &dotEdge{from: from, to: to, ports: ports, dep: dep, group: attrs["group"], anyPort: anyPort}
			return
		}
		e.dep = min(e.dep, dep)
		e.anyPort = e.anyPort || anyPort
		e.ports = unionPorts(e.ports, ports)
		if e.group == "" {
			e.group = attrs["group"]
		}
	}
	add(a, b)
	if !directed {
		add(b, a)
	}
}

// edgePorts reads port/ports attributes, or a label made only of ports.
// anyPort is true when the edge names no port.
func (p *dotParser) edgePorts(a, b string, attrs map[string]string) ([]graph.PortRange, bool) {
	for _, key := range []string{"ports", "port"} {
		if v, ok := attrs[key]; ok {
			ports, ok := dotPorts(v)
			if !ok {
				p.notes.add("edge %s -> %s: %s=%q is not a port list; the edge allows any port", a, b, key, v)
				return nil, true
			}
			return ports, false
		}
	}
	if v, ok := attrs["label"]; ok {
		if ports, ok := dotPorts(v); ok {
			return ports, false
		}
	}
	return nil, true
}
