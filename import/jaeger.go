package importer

import (
	"context"
	"fmt"
	"strings"

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
