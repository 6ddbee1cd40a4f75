package importer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/firebreak/firebreak/graph"
)

// jaegerFormat reads the service dependency links a tracing backend derives
// from its spans: Jaeger's GET /api/dependencies ({"data": [...]} envelope),
// Zipkin's /api/v2/dependencies and the jaeger-ui fixtures (a bare array,
// optional errorCount), the daily Elasticsearch/OpenSearch document
// {"timestamp", "dependencies": [...]} (alone, as _bulk NDJSON or inside a
// search response), and gRPC-gateway output ({"dependencies": [...]} with
// callCount as a string).
//
// Every link parent -> child becomes a hard edge between two service nodes:
// a trace records a synchronous call the parent waited for. Ports are
// unknown (the edge allows any port). callCount goes into Observed.Count,
// summed over duplicate pairs and over daily documents; a document's
// timestamp bounds FirstSeen/LastSeen. Self-loops (a service calling itself)
// are not edges and are noted; an empty result (the spark-dependencies job
// never ran) is not an error and is noted.
var jaegerFormat = Format{Name: "jaeger", Detect: detectJaeger, Parse: parseJaeger}

// The members the scanner looks at, by slot; the first jScalars keep their
// value, the rest only whether they are present.
const (
	jParent = iota
	jChild
	jCallCount
	jErrorCount
	jTimestamp
	jMsg
	jCode
	jData
	jTotal
	jLimit
	jOffset
	jErrors
	jDependencies
	jScalars = jData
)

var jaegerSlots = map[string]int{"parent": jParent, "child": jChild, "callCount": jCallCount, "errorCount": jErrorCount,
	"timestamp": jTimestamp, "msg": jMsg, "code": jCode, "data": jData, "total": jTotal, "limit": jLimit,
	"offset": jOffset, "errors": jErrors, "dependencies": jDependencies}

// jaegerFrame is one open JSON container while scanning.
type jaegerFrame struct {
	obj       bool
	wantKey   bool         // object: the next token is a member name
	key       string       // object: the member whose value comes next
	under     string       // the member this container is the value of ("" at top level or in an array)
	container bool         // array: holds dependency links (top level, "data" or "dependencies")
	inArray   *jaegerFrame // object: the array it is an element of
	elems     int          // array: elements read
	line      int          // where it opens
	vals      [jScalars]any
	has       uint32 // object: bit per slot of the members present
	members   int    // object: members read
	depsFrom  int    // object: links read inside its "dependencies" array start here
	depsTo    int
	depsArray bool // object: its "dependencies" member is an array
}

func (f *jaegerFrame) present(slot int) bool { return f.has&(1<<slot) != 0 }

// jaegerRaw is one link object as read: parent, child, callCount and
// errorCount as tokens, its line, and its daily document's timestamp.
type jaegerRaw struct {
	vals [jTimestamp]any
	line int
	ts   any
}

// jaegerScan walks a stream of JSON values token by token: it keeps line
// numbers, bounds nesting, and finds links wherever the known shapes put
// them without decoding anything else; a link costs a few words.
type jaegerScan struct {
	dec      *json.Decoder
	data     []byte
	maxDepth int
	stack    []*jaegerFrame
	links    []jaegerRaw
	lineOff  int64
	line     int
	// recognized: a dependency container (or the query service's envelope)
	// was seen, so an empty result is a result.
	recognized bool
	daily      bool     // a {"timestamp", "dependencies": [...]} document was seen
	envelope   bool     // the query service's {"data", "total", "limit", "offset", "errors"}
	emptyData  bool     // its data is [] or null
	errMsgs    []string // the envelope's "errors"
}

func newJaegerScan(data []byte, maxDepth int) *jaegerScan {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return &jaegerScan{dec: dec, data: data, maxDepth: maxDepth, line: 1}
}

// lineAt returns the line of a byte offset; offsets only grow.
func (s *jaegerScan) lineAt(off int64) int {
	if off > int64(len(s.data)) {
		off = int64(len(s.data))
	}
	if off > s.lineOff {
		s.line += bytes.Count(s.data[s.lineOff:off], []byte{'\n'})
		s.lineOff = off
	}
	return s.line
}

// run scans every top-level value; stop, if set, ends the scan early.
func (s *jaegerScan) run(stop func() bool) error {
	for stop == nil || !stop() {
		tok, err := s.dec.Token()
		if errors.Is(err, io.EOF) && len(s.stack) == 0 {
			return nil
		}
		if err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				return fmt.Errorf("%d: %w: %v", s.lineAt(se.Offset), graph.ErrInvalid, err)
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("%d: %w: unexpected end of JSON", s.lineAt(int64(len(s.data))), graph.ErrInvalid)
			}
			return fmt.Errorf("%d: %w: %v", s.lineAt(s.dec.InputOffset()), graph.ErrInvalid, err)
		}
		if err := s.token(tok); err != nil {
			return err
		}
	}
	return nil
}

func (s *jaegerScan) top() *jaegerFrame {
	if len(s.stack) == 0 {
		return nil
	}
	return s.stack[len(s.stack)-1]
}

func (s *jaegerScan) token(tok any) error {
	top := s.top()
	if top != nil && top.obj && top.wantKey {
		if d, ok := tok.(json.Delim); ok && d == '}' {
			s.closeObject()
			return nil
		}
		key, _ := tok.(string)
		top.key, top.wantKey = key, false
		return nil
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{', '[':
			return s.open(v == '{')
		case ']':
			s.closeArray()
		}
	default:
		if top == nil {
			return nil // a scalar at top level says nothing
		}
		if top.obj {
			if slot, ok := jaegerSlots[top.key]; ok && slot < jScalars {
				top.vals[slot] = v
			}
			s.member(top)
			if top.key == "data" && v == nil && len(s.stack) == 1 {
				s.emptyData = true // {"data": null, ...}: nothing computed
			}
		}
		s.valueDone()
	}
	return nil
}

func (s *jaegerScan) open(obj bool) error {
	if len(s.stack) >= s.maxDepth {
		return fmt.Errorf("%d: %w: JSON nested deeper than %d", s.lineAt(s.dec.InputOffset()), ErrTooLarge, s.maxDepth)
	}
	f := &jaegerFrame{obj: obj, wantKey: obj, line: s.lineAt(s.dec.InputOffset())}
	if parent := s.top(); parent != nil {
		if parent.obj {
			f.under = parent.key
			s.member(parent)
			if f.under == "dependencies" && !obj {
				parent.depsFrom = len(s.links)
			}
		} else if obj {
			f.inArray = parent
		}
	}
	if !obj {
		f.container = len(s.stack) == 0 || f.under == "data" || f.under == "dependencies"
	}
	s.stack = append(s.stack, f)
	return nil
}

func (s *jaegerScan) closeObject() {
	f := s.top()
	s.stack = s.stack[:len(s.stack)-1]
	if f.inArray != nil && f.inArray.container && (f.present(jParent) || f.present(jChild)) {
		r := jaegerRaw{line: f.line}
		copy(r.vals[:], f.vals[:])
		s.links = append(s.links, r)
	}
	if f.depsArray && f.present(jTimestamp) {
		// The daily document; alone, it is recognised only with nothing
		// but those two members (an empty day says little else).
		s.daily = s.daily || f.members == 2
		for i := f.depsFrom; i < f.depsTo; i++ {
			s.links[i].ts = f.vals[jTimestamp]
		}
	}
	if f.inArray != nil && f.inArray.under == "errors" && len(s.stack) == 2 {
		msg, _ := f.vals[jMsg].(string)
		s.errMsgs = append(s.errMsgs, strings.TrimSpace(fmt.Sprint(f.vals[jCode], " ", msg)))
	}
	if len(s.stack) == 0 && f.present(jData) && (f.present(jTotal) || f.present(jLimit) || f.present(jOffset) || f.present(jErrors)) {
		s.envelope = true // the query service's envelope
		s.recognized = s.recognized || s.emptyData
	}
	s.valueDone()
}

func (s *jaegerScan) closeArray() {
	f := s.top()
	s.stack = s.stack[:len(s.stack)-1]
	if f.container {
		s.recognized = true
	}
	if parent := s.top(); parent != nil && parent.obj {
		switch {
		case f.under == "dependencies":
			parent.depsTo, parent.depsArray = len(s.links), true
		case f.under == "data" && len(s.stack) == 1 && f.elems == 0:
			s.emptyData = true
		}
	}
	s.valueDone()
}

// member records that object f has its current member.
func (s *jaegerScan) member(f *jaegerFrame) {
	f.members++
	if slot, ok := jaegerSlots[f.key]; ok {
		f.has |= 1 << slot
	}
}

// valueDone records that the container on top received a whole value.
func (s *jaegerScan) valueDone() {
	if top := s.top(); top != nil {
		if top.obj {
			top.wantKey = true
		} else {
			top.elems++
		}
	}
}

// detectJaeger recognises the shapes above from the head of a file: a link
// object (string parent and child) in a top-level array or under "data" or
// "dependencies", a daily document, or the query service's envelope around
// an empty result. Other JSON is left to other formats.
func detectJaeger(_ string, head []byte) bool {
	h := trimHead(head)
	if len(h) == 0 || (h[0] != '{' && h[0] != '[') {
		return false
	}
	s := newJaegerScan(h, DefaultLimits.MaxDepth)
	checked := 0
	found := func() bool {
		for ; checked < len(s.links); checked++ {
			p, ok1 := s.links[checked].vals[jParent].(string)
			c, ok2 := s.links[checked].vals[jChild].(string)
			if ok1 && ok2 && p != "" && c != "" {
				return true
			}
		}
		return s.daily
	}
	_ = s.run(found) // a head is usually cut mid-value: judge what was read
	return found() || (s.envelope && s.emptyData)
}

func parseJaeger(ctx context.Context, in Input, c *Context) (*Fragment, error) {
	data, err := readAll(in, c.Limits.MaxDoc)
	if err != nil {
		return nil, err
	}
	s := newJaegerScan(data, c.Limits.MaxDepth)
	if err := s.run(func() bool { return ctx.Err() != nil }); err != nil {
		return nil, fmt.Errorf("%s:%w", in.Name, err) // err starts with its line
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(s.links) == 0 && len(s.errMsgs) > 0 {
		return nil, fmt.Errorf("%s: %w: the response reports errors and no links: %s", in.Name, graph.ErrInvalid, strings.Join(s.errMsgs, "; "))
	}
	if len(s.links) == 0 && !s.recognized && !s.daily {
		return nil, fmt.Errorf("%s: %w: no dependency links: want a JSON array of {parent, child, callCount}, {\"data\": [...]} or {\"timestamp\", \"dependencies\": [...]}", in.Name, graph.ErrInvalid)
	}
	g := newTraceGraph(Provenance("jaeger", in.Name))
	rep := &g.report
	for _, l := range s.links {
		rep.Records++
		parent, ok1 := l.vals[jParent].(string)
		child, ok2 := l.vals[jChild].(string)
		if !ok1 || !ok2 || parent == "" || child == "" {
			rep.Skip(in.Name, l.line, "a link needs parent and child service names")
			continue
		}
		calls, ok := traceCount(l.vals[jCallCount])
		if !ok {
			rep.Skip(in.Name, l.line, fmt.Sprintf("callCount %v is not a non-negative integer", l.vals[jCallCount]))
			continue
		}
		errs, ok := traceCount(l.vals[jErrorCount])
		if !ok {
			rep.Skip(in.Name, l.line, fmt.Sprintf("errorCount %v is not a non-negative integer", l.vals[jErrorCount]))
			continue
		}
		ts, tsOK := traceTimestamp(l.ts)
		if !tsOK {
			g.noteOnce("timestamp", fmt.Sprintf("timestamp %v of a daily document is not RFC 3339 or epoch time; ignored", l.ts))
		}
		if parent == child {
			g.node(parent, graph.KindService)
			g.selfLoop(parent, calls)
			continue
		}
		e := g.edge(g.node(parent, graph.KindService), g.node(child, graph.KindService), graph.DepHard)
		g.observe(e, calls, ts, ts)
		g.fail(e, errs)
	}
	if c.Strict && rep.Skipped > 0 {
		return nil, fmt.Errorf("%s: %w: %d malformed links (first: %s)", in.Name, graph.ErrInvalid, rep.Skipped, rep.Examples[0])
	}
	if len(s.links) == 0 {
		rep.Notes = append(rep.Notes, "no dependency links: the result is empty (with Cassandra, Elasticsearch or OpenSearch storage, the spark-dependencies job may not have run for this window)")
	}
	if len(s.errMsgs) > 0 {
		rep.Notes = append(rep.Notes, "the response also reports errors: "+strings.Join(s.errMsgs, "; "))
	}
	return g.fragment("errorCount"), nil
}

// The helpers below are shared with otel.go: both formats turn observed calls
// between services into nodes and edges the same way.

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
