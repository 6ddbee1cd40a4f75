package importer

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/firebreak/firebreak/graph"
)

// Shared by the trace-derived formats (jaeger.go, otel.go): both turn
// observed calls between services into nodes and edges the same way.

// traceGraph collects the services and calls of one trace-derived file.
type traceGraph struct {
	src     string
	report  Report
	nodes   map[string]*graph.Node
	edges   map[graph.EdgeKey]*graph.Edge
	failed  map[graph.EdgeKey]uint64
	loops   map[string]uint64 // self-loops: calls by service
	renamed map[string]string // service name -> the id it was given
	noted   map[string]bool
}

func newTraceGraph(src string) *traceGraph {
	return &traceGraph{src: src, nodes: map[string]*graph.Node{}, edges: map[graph.EdgeKey]*graph.Edge{},
		failed: map[graph.EdgeKey]uint64{}, loops: map[string]uint64{}, renamed: map[string]string{}, noted: map[string]bool{}}
}

// node returns the id of the service called name, adding it with kind if new.
func (g *traceGraph) node(name string, kind graph.Kind) string {
	id := traceNodeID(name)
	if _, ok := g.nodes[id]; !ok {
		n := &graph.Node{ID: id, Kind: kind, Sources: []string{g.src}}
		if id != name {
			n.Name = traceDisplayName(name)
			g.renamed[name] = id
		}
		g.nodes[id] = n
	}
	return id
}

// edge returns the edge from -> to, adding it if new; of two dependency
// strengths the harder is kept.
func (g *traceGraph) edge(from, to string, dep graph.Dependency) *graph.Edge {
	k := graph.EdgeKey{From: from, To: to}
	e, ok := g.edges[k]
	if !ok {
		e = &graph.Edge{From: from, To: to, Dependency: dep, Sources: []string{g.src}}
		g.edges[k] = e
	}
	e.Dependency = min(e.Dependency, dep)
	return e
}

// observe adds calls seen between first and last (Unix seconds, 0 unknown).
func (g *traceGraph) observe(e *graph.Edge, calls uint64, first, last int64) {
	if calls == 0 && first == 0 && last == 0 {
		return
	}
	if e.Observed == nil {
		e.Observed = &graph.Observed{}
	}
	o := e.Observed
	o.Count = traceAdd(o.Count, calls)
	o.FirstSeen = minNonZero(o.FirstSeen, first)
	o.LastSeen = max(o.LastSeen, last)
}

func (g *traceGraph) fail(e *graph.Edge, n uint64) {
	if n > 0 {
		g.failed[e.Key()] = traceAdd(g.failed[e.Key()], n)
	}
}

func (g *traceGraph) selfLoop(name string, calls uint64) {
	g.loops[name] = traceAdd(g.loops[name], calls)
}

func (g *traceGraph) noteOnce(key, msg string) {
	if !g.noted[key] {
		g.noted[key] = true
		g.report.Notes = append(g.report.Notes, msg)
	}
}

// fragment returns the nodes and edges in order, with notes on what was
// left out or changed; failedWhat names where failed-call counts came from.
func (g *traceGraph) fragment(failedWhat string) *Fragment {
	f := &Fragment{Report: g.report}
	for _, id := range sortedKeys(g.nodes) {
		f.Nodes = append(f.Nodes, *g.nodes[id])
	}
	for _, e := range g.edges {
		f.Edges = append(f.Edges, *e)
	}
	m := graph.Model{Edges: f.Edges}
	m.Sort()
	f.Edges = m.Edges
	var items []string
	for _, name := range sortedKeys(g.loops) {
		items = append(items, fmt.Sprintf("%s (%d calls)", traceDisplayName(name), g.loops[name]))
	}
	if len(items) > 0 {
		f.Report.Notes = append(f.Report.Notes, "self-loops skipped (a service calling itself is not an edge): "+traceExamples(items))
	}
	items = items[:0]
	for _, e := range f.Edges {
		if n := g.failed[e.Key()]; n > 0 {
			items = append(items, fmt.Sprintf("%s (%d)", e.Key(), n))
		}
	}
	if len(items) > 0 {
		f.Report.Notes = append(f.Report.Notes, fmt.Sprintf("failed calls (%s), kept as dependencies: %s", failedWhat, traceExamples(items)))
	}
	items = items[:0]
	for _, name := range sortedKeys(g.renamed) {
		items = append(items, fmt.Sprintf("%q -> %s", traceDisplayName(name), g.renamed[name]))
	}
	if len(items) > 0 {
		f.Report.Notes = append(f.Report.Notes, "service names that are not valid node ids were renamed (the name is kept): "+traceExamples(items))
	}
	return f
}

// traceExamples lists the first few items and how many more there are.
func traceExamples(items []string) string {
	const n = 5
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}

// traceMaxID is graph's bound on the length of an id.
const traceMaxID = 256

// traceNodeID maps a service name to a node id, deterministically: a name
// that is already a valid id (the usual case) is the id, so traces merge
// with other sources naming the same service; otherwise white space,
// control characters, commas and invalid UTF-8 become "_", the result is
// cut to a bounded length, and a hash of the whole name is appended so two
// names never share an id ("my svc" -> "my_svc~5f2b9c1e").
func traceNodeID(name string) string {
	if traceValidID(name) {
		return name
	}
	var b strings.Builder
	prevBad := false
	for _, r := range name {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == ',' || r == utf8.RuneError {
			if !prevBad {
				b.WriteByte('_')
			}
			prevBad = true
			continue
		}
		prevBad = false
		if b.Len()+utf8.RuneLen(r) > traceMaxID-16 {
			break
		}
		b.WriteRune(r)
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	return fmt.Sprintf("%s~%08x", b.String(), h.Sum32())
}

func traceValidID(id string) bool {
	if id == "" || len(id) > traceMaxID || !utf8.ValidString(id) {
		return false
	}
	for _, r := range id {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == ',' || r == utf8.RuneError {
			return false
		}
	}
	return true
}

// traceDisplayName makes a service name safe to show: valid UTF-8, no
// control characters, bounded.
func traceDisplayName(name string) string {
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(name, "\uFFFD"))
	if len(name) > 2*traceMaxID {
		cut := 2 * traceMaxID
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		name = name[:cut] + "…"
	}
	return name
}

// traceAdd adds counts, saturating instead of wrapping.
func traceAdd(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

// traceCount reads a count written as a JSON or YAML number or as a string
// (protobuf JSON writes 64-bit integers as strings); absent is 0.
func traceCount(v any) (uint64, bool) {
	var s string
	switch x := v.(type) {
	case nil:
		return 0, true
	case json.Number:
		s = string(x)
	case string:
		s = strings.TrimSpace(x)
	case int:
		return uint64(x), x >= 0
	case int64:
		return uint64(x), x >= 0
	case uint64:
		return x, true
	case float64:
		s = strconv.FormatFloat(x, 'g', -1, 64)
	default:
		return 0, false
	}
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f != math.Trunc(f) || f >= math.MaxUint64 {
		return 0, false
	}
	return uint64(f), true
}

// traceTimestamp reads a time as RFC 3339 or as epoch seconds, milliseconds,
// microseconds or nanoseconds (told apart by size); it returns Unix
// seconds, 0 when absent.
func traceTimestamp(v any) (int64, bool) {
	var s string
	switch x := v.(type) {
	case nil:
		return 0, true
	case string:
		s = strings.TrimSpace(x)
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return max(t.Unix(), 0), true
		}
	case json.Number:
		s = string(x)
	default:
		s = fmt.Sprint(x)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) || f > 1e20 {
		return 0, false
	}
	for f >= 1e11 { // later than year 5138 in seconds: a finer unit
		f /= 1000
	}
	return int64(f), true
}
