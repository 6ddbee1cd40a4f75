package importer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"gopkg.in/yaml.v3"

	"github.com/firebreak/firebreak/graph"
)

// otelFormat reads the service graph the OpenTelemetry Collector's
// servicegraph connector (or Tempo's metrics-generator) derives from spans,
// as a Prometheus (or OpenMetrics) text scrape, or as OTLP metrics in JSON
// (one document or the file exporter's one per line) or YAML.
//
// Metrics are matched by suffix, so a namespace prefix and a missing _total
// do not matter. Each (client, server) pair becomes an edge between service
// nodes. Its call count is the sum of traces_service_graph_request_total
// over the pair's series (failed and not, every extra dimension), or, when
// a file has no such counter for the pair, the count of a latency histogram
// (…_server[_seconds], …_client[_seconds], …_messaging_system[_seconds]): the
// histograms count the same calls, so they are never added to the counter.
// Failed calls (failed="true" series, or …_request_failed_total) are noted;
// the edge is still a dependency. Counters are cumulative: a raw scrape gives
// totals since the collector started, and a cumulative series exported
// several times counts once, at its latest value; delta points are summed.
//
// connection_type "" is a synchronous call (hard dependency); "database"
// makes the server a datastore (unless it is also a client in the file: a
// database calls nobody); "messaging_system" is a producer -> consumer edge
// that the producer does not wait on (soft). "virtual_node" marks the
// connector's placeholders: client="user" is a call from outside (an entry
// point: no node for the outside, the server is kept and noted) and
// server="unknown" a call whose server span never arrived (skipped and
// noted: one "unknown" node would join unrelated services). Other virtual
// peers (named from peer.service, db.name…) are real, uninstrumented
// services and keep their edges. A service really named "user" or
// "unknown" keeps its edges, as the connector marks placeholders only with
// virtual_node. Extra dimensions client_X / server_X become label X of the
// client / server node (several values are joined with ",").
var otelFormat = Format{Name: "otel", Detect: detectOTel, Parse: parseOTel}

var (
	otelPromLine = regexp.MustCompile(`(?m)^(?:# (?:HELP|TYPE) )?(?:[a-zA-Z_:][a-zA-Z0-9_:]*)?traces_service_graph_[a-zA-Z0-9_:]*(?:[{ \t]|$)`)
	otelYAMLRoot = regexp.MustCompile(`(?m)^(?:resourceMetrics|resource_metrics):`)
	otelJSONRoot = regexp.MustCompile(`^\{\s*"(?:resourceMetrics|resource_metrics)"\s*:`)
)

// detectOTel claims Prometheus text naming a servicegraph metric, and OTLP
// JSON or YAML metrics (resourceMetrics) whose head names one.
func detectOTel(_ string, head []byte) bool {
	h := trimHead(head)
	if !bytes.Contains(h, []byte("traces_service_graph_")) {
		return false
	}
	return otelJSONRoot.Match(h) || otelYAMLRoot.Match(h) || (h[0] != '{' && h[0] != '[' && otelPromLine.Match(h))
}

// otelRole is what a servicegraph metric counts.
type otelRole uint8

const (
	otelOther     otelRole = iota
	otelRequests           // request_total: every call
	otelFailed             // request_failed_total: failed calls
	otelServer             // latency histograms: their count is a call count
	otelClient             //
	otelMessaging          //
	otelUnpaired           // spans the connector could not pair
	otelDropped            // spans it dropped
)

var otelSuffixes = []struct {
	suffix string
	role   otelRole
}{
	{"request", otelRequests}, {"request_failed", otelFailed},
	{"request_server_seconds", otelServer}, {"request_server", otelServer},
	{"request_client_seconds", otelClient}, {"request_client", otelClient},
	{"request_messaging_system_seconds", otelMessaging}, {"request_messaging_system", otelMessaging},
	{"unpaired_spans", otelUnpaired}, {"dropped_spans", otelDropped},
}

// otelRoleOf matches a metric name by suffix: any namespace prefix, with or
// without _total; the _count of a histogram read as plain samples counts too.
func otelRoleOf(name string) otelRole {
	const stem = "traces_service_graph_"
	i := strings.LastIndex(name, stem)
	if i < 0 || (i > 0 && name[i-1] != '_' && name[i-1] != ':') {
		return otelOther
	}
	rest := strings.TrimSuffix(name[i+len(stem):], "_total")
	hist := strings.HasSuffix(rest, "_count")
	rest = strings.TrimSuffix(rest, "_count")
	for _, s := range otelSuffixes {
		if rest == s.suffix {
			if hist && s.role != otelServer && s.role != otelClient && s.role != otelMessaging {
				return otelOther
			}
			return s.role
		}
	}
	return otelOther
}

// otelPoint is one series' value as read.
type otelPoint struct {
	role       otelRole
	attrs      map[string]string
	value      float64
	series     string // identity of a cumulative series
	cumulative bool
	time       int64 // Unix seconds, 0 unknown
	line       int
}

func parseOTel(ctx context.Context, in Input, c *Context) (*Fragment, error) {
	data, err := readAll(in, c.Limits.MaxDoc)
	if err != nil {
		return nil, err
	}
	g := newTraceGraph(Provenance("otel", in.Name))
	var points []otelPoint
	h := trimHead(data)
	switch {
	case len(h) > 0 && (h[0] == '{' || h[0] == '['):
		points, err = otelReadJSON(data, in.Name, c.Limits)
	case otelYAMLRoot.Match(data):
		points, err = otelReadYAML(data, in.Name, c.Limits)
	default:
		points, err = otelReadProm(data, in.Name, c.Limits.MaxLine)
	}
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	otelBuild(g, in.Name, points)
	if c.Strict && g.report.Skipped > 0 {
		return nil, fmt.Errorf("%s: %w: %d malformed series (first: %s)", in.Name, graph.ErrInvalid, g.report.Skipped, g.report.Examples[0])
	}
	return g.fragment("failed series"), nil
}

// otelReadProm reads a Prometheus text scrape, or OpenMetrics (it ends with
// "# EOF"), through expfmt's text parser, after otelPromLines keeps only the
// servicegraph lines.
func otelReadProm(data []byte, file string, maxLine int) ([]otelPoint, error) {
	text, err := otelPromLines(data, maxLine)
	if err != nil {
		return nil, fmt.Errorf("%s:%w", file, err)
	}
	dec := expfmt.NewDecoder(bytes.NewReader(text), expfmt.FmtText+"; escaping=allow-utf-8")
	var out []otelPoint
	for {
		var mf dto.MetricFamily
		err := dec.Decode(&mf)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w: not Prometheus text, OpenMetrics or OTLP metrics: %v", file, graph.ErrInvalid, err)
		}
		role := otelRoleOf(mf.GetName())
		if role == otelOther {
			continue
		}
		for _, m := range mf.GetMetric() {
			attrs := map[string]string{}
			for _, l := range m.GetLabel() {
				attrs[l.GetName()] = l.GetValue()
			}
			var v float64
			switch {
			case m.Histogram != nil:
				v = float64(m.Histogram.GetSampleCount()) + m.Histogram.GetSampleCountFloat()
			case m.Summary != nil:
				v = float64(m.Summary.GetSampleCount())
			case m.Counter != nil:
				v = m.Counter.GetValue()
			case m.Gauge != nil:
				v = m.Gauge.GetValue()
			default:
				v = m.GetUntyped().GetValue()
			}
			series := fmt.Sprint(role, "\x00", mf.GetName(), "\x00", otelKey(attrs))
			out = append(out, otelPoint{role: role, attrs: attrs, value: v, series: series, cumulative: true, time: max(m.GetTimestampMs()/1000, 0)})
		}
	}
}

// otelPromLines keeps the servicegraph lines of a scrape and blanks the
// others (so line numbers hold), so that metrics the importer does not read
// cannot fail it. OpenMetrics is reduced to the classic text format, whose
// parser is fast (expfmt's OpenMetrics parser takes seconds per thousand
// lines): exemplars are cut, timestamps turn from seconds into
// milliseconds, and TYPE lines of types the classic format lacks are
// dropped. Names and labels are still parsed by expfmt.
func otelPromLines(data []byte, maxLine int) ([]byte, error) {
	lines := strings.Split(string(data), "\n")
	last := len(lines) - 1
	for last > 0 && strings.TrimSpace(lines[last]) == "" {
		last--
	}
	openMetrics := strings.TrimSpace(lines[last]) == "# EOF"
	const stem = "traces_service_graph_"
	var b strings.Builder
	for i, line := range lines {
		line = strings.TrimSuffix(line, "\r")
		if len(line) > maxLine {
			return nil, fmt.Errorf("%d: %w: line longer than %d bytes", i+1, ErrTooLarge, maxLine)
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "#" && (f[1] == "TYPE" || f[1] == "HELP") {
			classic := f[1] == "HELP" || len(f) == 4 && otelClassicTypes[f[3]]
			if strings.Contains(f[2], stem) && classic {
				b.WriteString(line)
			}
			continue
		}
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		end := strings.IndexAny(line, "{ \t")
		if end < 0 || !strings.Contains(line[:end], stem) && line[end] != '{' {
			continue
		}
		if line[end] == '{' {
			if end = otelLabelsEnd(line, end); end < 0 && strings.Contains(line, stem) {
				b.WriteString(line) // unterminated: expfmt says what is wrong
				continue
			} else if end < 0 || !strings.Contains(line[:end], stem) {
				continue
			}
		}
		if !openMetrics {
			b.WriteString(line)
			continue
		}
		rest, _, _ := strings.Cut(line[end:], "#") // an exemplar follows " # "
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		b.WriteString(line[:end] + " " + f[0])
		if len(f) > 1 {
			if sec, err := strconv.ParseFloat(f[1], 64); err == nil && sec >= 0 && sec < 1e15 {
				b.WriteString(" " + strconv.FormatInt(int64(sec*1000), 10))
			}
		}
	}
	return []byte(b.String()), nil
}

var otelClassicTypes = map[string]bool{"counter": true, "gauge": true, "histogram": true, "summary": true, "untyped": true}

// otelLabelsEnd returns the index just past the label set opening at
// line[open], or -1: a quote-aware scan for the closing brace.
func otelLabelsEnd(line string, open int) int {
	quoted := false
	for j := open + 1; j < len(line); j++ {
		switch c := line[j]; {
		case quoted && c == '\\':
			j++
		case c == '"':
			quoted = !quoted
		case !quoted && c == '}':
			return j + 1
		}
	}
	return -1
}

// otelYAML walks OTLP metrics documents (YAML, or JSON turned into the same
// node tree) along the known paths only.
type otelYAML struct {
	file     string
	lineBase int // JSON documents: the line each starts on
	maxDepth int
	budget   int // node visits left: bounds what YAML aliases can expand to
	roots    int // documents with resourceMetrics
	points   []otelPoint
}

func otelReadYAML(data []byte, file string, lim Limits) ([]otelPoint, error) {
	r := &otelYAML{file: file, maxDepth: lim.MaxDepth}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w: %v", file, graph.ErrInvalid, err)
		}
		if err := r.doc(&doc); err != nil {
			return nil, err
		}
	}
	return r.result()
}

// otelReadJSON reads one OTLP JSON document or many (the file exporter
// writes one per line).
func otelReadJSON(data []byte, file string, lim Limits) ([]otelPoint, error) {
	r := &otelYAML{file: file, maxDepth: lim.MaxDepth}
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			break
		}
		end := min(int(dec.InputOffset()), len(data))
		if err != nil {
			var se *json.SyntaxError
			switch {
			case errors.As(err, &se):
				end = min(int(se.Offset), len(data))
			case errors.Is(err, io.ErrUnexpectedEOF):
				end = len(data)
			}
			return nil, fmt.Errorf("%s:%d: %w: %v", file, 1+bytes.Count(data[:end], []byte{'\n'}), graph.ErrInvalid, err)
		}
		r.lineBase = 1 + bytes.Count(data[:max(end-len(raw), 0)], []byte{'\n'})
		var v any
		vd := json.NewDecoder(bytes.NewReader(raw))
		vd.UseNumber()
		if err := vd.Decode(&v); err != nil {
			return nil, fmt.Errorf("%s:%d: %w: %v", file, r.lineBase, graph.ErrInvalid, err)
		}
		if err := r.doc(otelJSONNode(v)); err != nil {
			return nil, err
		}
	}
	return r.result()
}

func (r *otelYAML) result() ([]otelPoint, error) {
	if r.roots == 0 {
		return nil, fmt.Errorf("%s: %w: no resourceMetrics: not OTLP metrics", r.file, graph.ErrInvalid)
	}
	return r.points, nil
}

// otelJSONNode turns decoded JSON into a YAML node tree.
func otelJSONNode(v any) *yaml.Node {
	switch x := v.(type) {
	case map[string]any:
		n := &yaml.Node{Kind: yaml.MappingNode}
		for _, k := range sortedKeys(x) {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, otelJSONNode(x[k]))
		}
		return n
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		for _, e := range x {
			n.Content = append(n.Content, otelJSONNode(e))
		}
		return n
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Value: fmt.Sprint(v)}
}

// otelSize checks the nesting of a tree and counts its nodes.
func otelSize(n *yaml.Node, depth, maxDepth int, count *int) bool {
	*count++
	if depth > maxDepth {
		return false
	}
	for _, c := range n.Content {
		if !otelSize(c, depth+1, maxDepth, count) {
			return false
		}
	}
	return true
}

func (r *otelYAML) doc(doc *yaml.Node) error {
	nodes := 0
	if !otelSize(doc, 0, r.maxDepth+2, &nodes) {
		return fmt.Errorf("%s:%d: %w: nested deeper than %d", r.file, r.lineBase+doc.Line, ErrTooLarge, r.maxDepth)
	}
	r.budget = 4*nodes + 1024
	rms := r.get(doc, "resourceMetrics")
	if rms == nil {
		return nil
	}
	r.roots++
	for _, rm := range r.items(rms) {
		res := otelKey(r.attrs(r.get(r.get(rm, "resource"), "attributes")))
		sms := r.get(rm, "scopeMetrics")
		if sms == nil {
			sms = r.get(rm, "instrumentationLibraryMetrics") // OTLP before 0.15
		}
		for _, sm := range r.items(sms) {
			for _, m := range r.items(r.get(sm, "metrics")) {
				r.metric(m, res)
			}
		}
	}
	if r.budget < 0 {
		return fmt.Errorf("%s: %w: YAML aliases expand beyond the document", r.file, ErrTooLarge)
	}
	return nil
}

func (r *otelYAML) metric(m *yaml.Node, res string) {
	name := r.str(r.get(m, "name"))
	role := otelRoleOf(name)
	if role == otelOther {
		return
	}
	for _, kind := range []string{"sum", "gauge", "histogram", "exponentialHistogram", "summary"} {
		body := r.get(m, kind)
		if body == nil {
			continue
		}
		temporality := r.str(r.get(body, "aggregationTemporality"))
		cumulative := temporality != "1" && !strings.HasSuffix(temporality, "DELTA")
		for _, dp := range r.items(r.get(body, "dataPoints")) {
			attrs := r.attrs(r.get(dp, "attributes"))
			raw := r.get(dp, "count")
			if kind == "sum" || kind == "gauge" {
				if raw = r.get(dp, "asInt"); raw == nil {
					raw = r.get(dp, "asDouble")
				}
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(r.str(raw)), 64)
			if err != nil {
				v = math.NaN()
			}
			ns, _ := strconv.ParseInt(r.str(r.get(dp, "timeUnixNano")), 10, 64)
			series := fmt.Sprint(role, "\x00", name, "\x00", res, "\x00", otelKey(attrs), "\x00", r.str(r.get(dp, "startTimeUnixNano")))
			r.points = append(r.points, otelPoint{role: role, attrs: attrs, value: v, series: series,
				cumulative: cumulative, time: max(ns/1e9, 0), line: r.lineBase + dp.Line})
		}
	}
}

// resolve follows aliases and document nodes, spending the visit budget.
func (r *otelYAML) resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && i < 16 && (n.Kind == yaml.AliasNode || n.Kind == yaml.DocumentNode); i++ {
		if n.Kind == yaml.AliasNode {
			n = n.Alias
		} else if len(n.Content) > 0 {
			n = n.Content[0]
		} else {
			return nil
		}
	}
	r.budget--
	if r.budget < 0 {
		return nil
	}
	return n
}

// get looks a member up by name, accepting OTLP JSON's camelCase and
// protobuf's snake_case spellings.
func (r *otelYAML) get(n *yaml.Node, key string) *yaml.Node {
	n = r.resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	want := strings.ToLower(key)
	for i := 0; i+1 < len(n.Content); i += 2 {
		if strings.ToLower(strings.ReplaceAll(n.Content[i].Value, "_", "")) == want {
			return n.Content[i+1]
		}
	}
	return nil
}

func (r *otelYAML) items(n *yaml.Node) []*yaml.Node {
	if n = r.resolve(n); n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

func (r *otelYAML) str(n *yaml.Node) string {
	if n = r.resolve(n); n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return ""
	}
	return n.Value
}

// attrs reads OTLP attributes [{key, value: {stringValue|boolValue|intValue|
// doubleValue: …}}] as strings; lists and maps are left out.
func (r *otelYAML) attrs(n *yaml.Node) map[string]string {
	out := map[string]string{}
	for _, kv := range r.items(n) {
		key := r.str(r.get(kv, "key"))
		val := r.resolve(r.get(kv, "value"))
		switch {
		case key == "" || val == nil:
		case val.Kind == yaml.ScalarNode:
			out[key] = r.str(val)
		case val.Kind == yaml.MappingNode && len(val.Content) == 2 && val.Content[1].Kind == yaml.ScalarNode:
			out[key] = r.str(val.Content[1])
		case val.Kind == yaml.MappingNode && len(val.Content) == 0:
			out[key] = ""
		}
	}
	return out
}

// otelKey writes attributes in a canonical order, to identify a series.
func otelKey(attrs map[string]string) string {
	var b strings.Builder
	for _, k := range sortedKeys(attrs) {
		fmt.Fprintf(&b, "%q=%q,", k, attrs[k])
	}
	return b.String()
}

// otelPair accumulates the series of one client -> server pair.
type otelPair struct {
	client, server string
	virtual        bool // connection_type="virtual_node"
	req, reqFailed uint64
	failedTotal    uint64
	hasReq         bool
	hasFailedLabel bool
	hist, histFail [3]uint64 // server, client, messaging histograms
	hasHist        [3]bool
	types          map[string]bool
	first, last    int64
}

// calls is the pair's call count and failed-call count: the counter when
// there is one, else the largest latency histogram's count.
func (a *otelPair) calls() (calls, failed uint64, fromHist bool) {
	if a.hasReq {
		return a.req, max(a.reqFailed, a.failedTotal), false
	}
	best := -1
	for i := range a.hist {
		if a.hasHist[i] && (best < 0 || a.hist[i] > a.hist[best]) {
			best = i
		}
	}
	if best < 0 {
		return a.failedTotal, a.failedTotal, false
	}
	return a.hist[best], max(a.histFail[0], a.histFail[1], a.histFail[2], a.failedTotal), true
}

// otelBuild checks the points, keeps the latest value of each cumulative
// series, and turns the pairs into nodes and edges.
func otelBuild(g *traceGraph, file string, points []otelPoint) {
	rep := &g.report
	var kept []otelPoint
	latest := map[string]int{}
	cumulative := false
	for _, p := range points {
		rep.Records++
		spans := p.role == otelUnpaired || p.role == otelDropped
		switch {
		case math.IsNaN(p.value) || math.IsInf(p.value, 0) || p.value < 0:
			otelSkip(rep, file, p.line, "the value is missing or not a non-negative number")
			continue
		case !spans && (p.attrs["client"] == "" || p.attrs["server"] == ""):
			otelSkip(rep, file, p.line, "a servicegraph series needs client and server labels")
			continue
		}
		if p.cumulative {
			cumulative = true
			if i, ok := latest[p.series]; ok {
				if p.time > kept[i].time || (p.time == kept[i].time && p.value > kept[i].value) {
					kept[i] = p
				}
				continue
			}
			latest[p.series] = len(kept)
		}
		kept = append(kept, p)
	}
	pairs := map[string]*otelPair{}
	dims := map[string]map[string]map[string]bool{} // service -> label -> values
	var unpaired, dropped uint64
	for _, p := range kept {
		n := uint64(math.MaxUint64)
		if p.value < math.MaxUint64 {
			n = uint64(math.Round(p.value))
		}
		switch p.role {
		case otelUnpaired:
			unpaired = traceAdd(unpaired, n)
			continue
		case otelDropped:
			dropped = traceAdd(dropped, n)
			continue
		}
		client, server, ct := p.attrs["client"], p.attrs["server"], p.attrs["connection_type"]
		virtual := ct == "virtual_node"
		key := otelKey(map[string]string{"c": client, "s": server, "v": strconv.FormatBool(virtual)})
		a := pairs[key]
		if a == nil {
			a = &otelPair{client: client, server: server, virtual: virtual, types: map[string]bool{}}
			pairs[key] = a
		}
		a.types[ct] = true
		failedLabel, hasFailed := p.attrs["failed"]
		failed := hasFailed && strings.EqualFold(failedLabel, "true")
		switch p.role {
		case otelRequests:
			a.hasReq = true
			a.req = traceAdd(a.req, n)
			a.hasFailedLabel = a.hasFailedLabel || hasFailed
			if failed {
				a.reqFailed = traceAdd(a.reqFailed, n)
			}
		case otelFailed:
			a.failedTotal = traceAdd(a.failedTotal, n)
		default:
			i := p.role - otelServer
			a.hasHist[i] = true
			a.hist[i] = traceAdd(a.hist[i], n)
			if failed {
				a.histFail[i] = traceAdd(a.histFail[i], n)
			}
		}
		if n > 0 && p.time > 0 {
			a.first, a.last = minNonZero(a.first, p.time), max(a.last, p.time)
		}
		for k, v := range p.attrs {
			for prefix, who := range map[string]string{"client_": client, "server_": server} {
				if label, ok := strings.CutPrefix(k, prefix); ok && label != "" && v != "" && !(virtual && (who == "user" && prefix == "client_" || who == "unknown" && prefix == "server_")) {
					if dims[who] == nil {
						dims[who] = map[string]map[string]bool{}
					}
					if dims[who][label] == nil {
						dims[who][label] = map[string]bool{}
					}
					dims[who][label][v] = true
				}
			}
		}
	}
	otelEdges(g, pairs, dims)
	if len(kept) == 0 {
		rep.Notes = append(rep.Notes, "no servicegraph series (traces_service_graph_request_total or its latency histograms)")
	}
	if cumulative && len(g.edges) > 0 {
		rep.Notes = append(rep.Notes, "call counts are cumulative totals as exported (since the collector started), not rates")
	}
	if unpaired > 0 || dropped > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("the connector could not pair %d spans and dropped %d: some calls may be missing", unpaired, dropped))
	}
}

// otelEdges decides node kinds and dependency strengths and writes the graph.
func otelEdges(g *traceGraph, pairs map[string]*otelPair, dims map[string]map[string]map[string]bool) {
	clients, databases := map[string]bool{}, map[string]bool{}
	for _, a := range pairs {
		if !(a.virtual && a.client == "user") {
			clients[a.client] = true
		}
		if a.types["database"] {
			databases[a.server] = true
		}
	}
	kind := func(name string) graph.Kind {
		if databases[name] && !clients[name] {
			return graph.KindDatastore
		}
		return graph.KindService
	}
	var entries, unknown, peers, fromHist, both []string
	for _, key := range sortedKeys(pairs) {
		a := pairs[key]
		calls, failed, hist := a.calls()
		switch {
		case a.virtual && a.client == "user" && a.server == "unknown":
			continue
		case a.virtual && a.client == "user":
			g.node(a.server, kind(a.server))
			entries = append(entries, fmt.Sprintf("%s (%d calls)", traceNodeID(a.server), calls))
			continue
		case a.virtual && a.server == "unknown":
			g.node(a.client, kind(a.client))
			unknown = append(unknown, fmt.Sprintf("%s (%d calls)", traceNodeID(a.client), calls))
			continue
		case a.client == a.server:
			g.node(a.client, kind(a.client))
			g.selfLoop(a.client, calls)
			continue
		}
		dep := graph.DepHard
		if len(a.types) == 1 && a.types["messaging_system"] {
			dep = graph.DepSoft
		}
		e := g.edge(g.node(a.client, kind(a.client)), g.node(a.server, kind(a.server)), dep)
		g.observe(e, calls, a.first, a.last)
		g.fail(e, failed)
		if a.virtual {
			peers = append(peers, e.To)
		}
		if hist {
			fromHist = append(fromHist, e.Key().String())
		}
	}
	for name := range databases {
		if clients[name] {
			both = append(both, traceNodeID(name))
		}
	}
	sort.Strings(both)
	for name, labels := range dims {
		n := g.nodes[traceNodeID(name)]
		if n == nil {
			continue
		}
		n.Labels = map[string]string{}
		for label, values := range labels {
			n.Labels[label] = strings.Join(sortedKeys(values), ",")
		}
	}
	rep := &g.report
	for _, l := range []struct {
		items []string
		what  string
	}{
		{entries, `entry points (client="user": calls from outside the traced services), kept without an edge`},
		{unknown, `calls to an unknown server (server="unknown": no server span arrived) skipped`},
		{peers, "uninstrumented peers (connection_type=virtual_node) kept as services"},
		{fromHist, "call counts taken from latency histograms (no request_total series)"},
		{both, "servers of database connections that also call others, kept as services"},
	} {
		if len(l.items) > 0 {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s: %s", l.what, traceExamples(l.items)))
		}
	}
}

// otelSkip counts a skipped series; OTLP gives a line, Prometheus text not.
func otelSkip(rep *Report, file string, line int, why string) {
	if line > 0 {
		rep.Skip(file, line, why)
		return
	}
	rep.Skipped++
	if len(rep.Examples) < maxExamples {
		rep.Examples = append(rep.Examples, file+": "+why)
	}
}
