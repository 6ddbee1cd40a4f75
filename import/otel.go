package importer

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

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
