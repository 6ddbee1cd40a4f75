package importer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak/firebreak/graph"
)

var otelFiles = []string{"scrape.prom", "legacy-untyped.prom", "openmetrics.txt", "otlp.yaml", "file-exporter.json", "no-servicegraph.yaml"}

// TestOTel imports servicegraph metrics in every encoding and compares the
// fragments with goldens. The files carry the traps: a namespace prefix and
// counters with and without _total, failed series (noted, still an edge),
// request_failed_total beside them (not added twice), _created samples (not
// calls), virtual nodes (client="user" entry points, server="unknown"
// skipped, named peers kept), a real service called "user", database and
// messaging connections, extra client_/server_ dimensions (dotted and
// underscored), histogram-only edges (their count, never added to the
// counter), a self-loop, a name that is no id, a series without server,
// negative counts, cumulative series exported twice (latest value) and
// delta points (summed), OpenMetrics exemplars, and the file exporter's one
// JSON document per line in both spellings of OTLP JSON.
func TestOTel(t *testing.T) {
	for _, name := range otelFiles {
		t.Run(strings.ReplaceAll(name, ".", "-"), func(t *testing.T) {
			goldenFragment(t, parseFile(t, "otel", filepath.Join("otel", name), nil))
		})
	}
}

func TestOTelDetect(t *testing.T) {
	for _, name := range otelFiles {
		data, err := os.ReadFile(filepath.Join("testdata", "otel", name))
		if err != nil {
			t.Fatal(err)
		}
		if f, err := Detect(name, data); err != nil || f.Name != "otel" {
			t.Errorf("%s: detected %q, %v; want otel", name, f.Name, err)
		}
	}
	for name, doc := range map[string]string{
		"node exporter scrape":      "# TYPE node_cpu_seconds_total counter\nnode_cpu_seconds_total{cpu=\"0\"} 1\n",
		"otlp without servicegraph": "resourceMetrics:\n  - scopeMetrics:\n      - metrics:\n          - name: http_server_duration\n",
		"otlp traces":               `{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"traces_service_graph_x"}]}]}]}`,
		"k8s yaml mentioning it":    "apiVersion: v1\nkind: ConfigMap\ndata:\n  query: rate(traces_service_graph_request_total[5m])\n",
		"jaeger json":               `[{"parent":"traces_service_graph_a","child":"b","callCount":1}]`,
		"label value only":          "up{job=\"traces_service_graph_request_total\"} 1\n",
	} {
		if detectOTel("x", []byte(doc)) {
			t.Errorf("%s: claimed as otel", name)
		}
	}
}

func TestOTelRoles(t *testing.T) {
	for name, want := range map[string]otelRole{
		"traces_service_graph_request_total":                          otelRequests,
		"traces_service_graph_request":                                otelRequests,
		"servicegraph_traces_service_graph_request_total":             otelRequests,
		"ns:traces_service_graph_request_total":                       otelRequests,
		"traces_service_graph_request_failed_total":                   otelFailed,
		"traces_service_graph_request_server_seconds":                 otelServer,
		"traces_service_graph_request_server":                         otelServer,
		"traces_service_graph_request_server_seconds_count":           otelServer,
		"traces_service_graph_request_client":                         otelClient,
		"traces_service_graph_request_messaging_system_seconds":       otelMessaging,
		"traces_service_graph_unpaired_spans_total":                   otelUnpaired,
		"traces_service_graph_dropped_spans_total":                    otelDropped,
		"traces_service_graph_request_created":                        otelOther,
		"traces_service_graph_request_total_count":                    otelOther,
		"traces_service_graph_request_server_seconds_bucket":          otelOther,
		"traces_service_graph_request_server_seconds_sum":             otelOther,
		"xtraces_service_graph_request_total":                         otelOther,
		"traces_service_graph_request_total_rate5m":                   otelOther,
		"traces_service_graph_request_messaging_system_seconds_sum":   otelOther,
		"traces_service_graph_request_messaging_system_seconds_count": otelMessaging,
	} {
		if got := otelRoleOf(name); got != want {
			t.Errorf("otelRoleOf(%q) = %d, want %d", name, got, want)
		}
	}
}

func TestOTelErrors(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		c         *Context
		want      string
		tooLarge  bool
	}{
		{name: "bad prometheus text", doc: "traces_service_graph_request_total{client=\"a\" 1\n", want: "in: invalid input: not Prometheus text"},
		{name: "json that is not otlp", doc: `{"resourceSpans":[]}`, want: "no resourceMetrics"},
		{name: "broken json", doc: "{\"resourceMetrics\":\n[", want: "in:2: invalid input"},
		{name: "bad yaml", doc: "resourceMetrics:\n  - a: [\n", want: "in: invalid input: yaml"},
		{name: "too deep json", doc: `{"resourceMetrics":` + strings.Repeat("[", 80) + strings.Repeat("]", 80) + "}", want: "nested deeper than 64", tooLarge: true},
		{name: "line too long", doc: "traces_service_graph_request_total{client=\"" + strings.Repeat("a", 100) + "\",server=\"b\"} 1\n", c: &Context{Limits: Limits{MaxLine: 64, MaxDoc: 1 << 20, MaxDepth: 64}}, want: "in:1: invalid input: input exceeds a bound: line longer than 64", tooLarge: true},
		{name: "too big", doc: "traces_service_graph_request_total{client=\"a\",server=\"b\"} 1\n", c: &Context{Limits: Limits{MaxDoc: 8, MaxDepth: 64}}, want: "larger than", tooLarge: true},
		{name: "alias bomb", doc: otelAliasBomb(), want: "aliases", tooLarge: true},
		{name: "strict", doc: "traces_service_graph_request_total{client=\"a\"} 1\n", c: &Context{Strict: true, Limits: DefaultLimits}, want: "needs client and server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			if c == nil {
				c = &Context{Limits: DefaultLimits}
			}
			_, err := otelFormat.Parse(context.Background(), Input{Name: "in", R: strings.NewReader(tc.doc)}, c)
			if err == nil || !errors.Is(err, graph.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want an input error containing %q", err, tc.want)
			}
			if tc.tooLarge != errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v: ErrTooLarge is %v, want %v", err, !tc.tooLarge, tc.tooLarge)
			}
		})
	}
}

// otelAliasBomb is a small YAML document whose aliases expand, along the
// path the reader walks, to 50^4 data points.
func otelAliasBomb() string {
	list := func(alias string) string {
		return "[" + strings.TrimSuffix(strings.Repeat(alias+", ", 50), ", ") + "]"
	}
	return "p: &p {asInt: \"1\", attributes: [{key: client, value: {stringValue: x}}, {key: server, value: {stringValue: y}}]}\n" +
		"m: &m {name: traces_service_graph_request_total, sum: {dataPoints: " + list("*p") + "}}\n" +
		"s: &s {metrics: " + list("*m") + "}\n" +
		"r: &r {scopeMetrics: " + list("*s") + "}\n" +
		"resourceMetrics: " + list("*r") + "\n"
}

func TestOTelRealdata(t *testing.T) {
	dir := traceRealdata(t, "otel-servicegraph")
	for _, tc := range []struct {
		file  string
		edges []string
		calls uint64
		note  string
	}{
		{"virtual-node-label-expected-metrics.yaml", nil, 0, "entry points"},
		{"extra-dimensions-queue-db-expected-metrics.yaml", []string{"foo-server->bar-requester"}, 1, "cumulative"},
		{"messaging-system-trace-expected-metrics.yaml", []string{"foo-server->bar-requester"}, 1, "cumulative"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f := traceImport(t, filepath.Join(dir, tc.file), "otel")
			var edges []string
			var calls uint64
			for _, e := range f.Edges {
				edges = append(edges, e.Key().String())
				calls += e.Observed.Count
			}
			if strings.Join(edges, " ") != strings.Join(tc.edges, " ") || calls != tc.calls || f.Report.Skipped != 0 {
				t.Fatalf("edges %v with %d calls, %d skipped; want %v with %d", edges, calls, f.Report.Skipped, tc.edges, tc.calls)
			}
			if !strings.Contains(strings.Join(f.Report.Notes, "\n"), tc.note) {
				t.Fatalf("notes %q do not mention %q", f.Report.Notes, tc.note)
			}
		})
	}
}

func FuzzOTel(f *testing.F) {
	traceSeeds(f, "otel")
	f.Fuzz(func(t *testing.T, data []byte) {
		traceFuzz(t, otelFormat, data)
	})
}
