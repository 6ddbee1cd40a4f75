package importer

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak/firebreak/graph"
)

// TestJaeger imports every shape of dependency links the format accepts and
// compares the fragments with goldens. The files carry the traps: duplicate
// pairs (summed), a self-loop, names that are not valid ids, callCount as a
// string and past uint64 (saturated), malformed links (skipped with their
// line), errorCount, daily documents with timestamps, and empty results.
func TestJaeger(t *testing.T) {
	for _, name := range []string{
		"api-envelope.json", "zipkin-bare.json", "empty.json", "null-data.json",
		"es-bulk.ndjson", "es-search.json", "grpc-gateway.json",
	} {
		t.Run(strings.TrimSuffix(name, filepath.Ext(name)), func(t *testing.T) {
			goldenFragment(t, parseFile(t, "jaeger", filepath.Join("jaeger", name), nil))
		})
	}
}

func TestJaegerDetect(t *testing.T) {
	for _, name := range []string{
		"api-envelope.json", "zipkin-bare.json", "empty.json", "null-data.json",
		"es-bulk.ndjson", "es-search.json", "grpc-gateway.json",
	} {
		data, err := os.ReadFile(filepath.Join("testdata", "jaeger", name))
		if err != nil {
			t.Fatal(err)
		}
		if f, err := Detect(name, data); err != nil || f.Name != "jaeger" {
			t.Errorf("%s: detected %q, %v; want jaeger", name, f.Name, err)
		}
	}
	for name, doc := range map[string]string{
		"bare empty array":         `[]`,
		"data without envelope":    `{"data": []}`,
		"traces response":          `{"data":[{"traceID":"abc","spans":[{"spanID":"1"}]}],"total":0,"limit":0,"offset":0,"errors":null}`,
		"services response":        `{"data":["frontend","driver"],"total":2,"limit":0,"offset":0,"errors":null}`,
		"objects without parent":   `[{"from":"a","to":"b"}]`,
		"parent without child":     `[{"parent":"a","callCount":3}]`,
		"links in another member":  `{"links":[{"parent":"a","child":"b"}]}`,
		"native json":              `{"apiVersion":"firebreak/v1","kind":"Topology","nodes":[]}`,
		"otlp json":                `{"resourceMetrics":[]}`,
		"zeek json line":           `{"ts":1.5,"uid":"C1","id.orig_h":"10.0.0.1"}`,
		"yaml with parent and kid": "parent: a\nchild: b\n",
		"not json":                 `parent,child,callCount`,
		"timestamped other deps":   `{"timestamp":"2024-01-01T00:00:00Z","name":"lib","dependencies":[]}`,
	} {
		if detectJaeger("x.json", []byte(doc)) {
			t.Errorf("%s: claimed as jaeger: %s", name, doc)
		}
	}
	// A head cut in the middle of a big array still detects.
	big := bytes.Repeat([]byte(`{"parent":"a","child":"b","callCount":1},`), 1000)
	if !detectJaeger("big.json", append([]byte("["), big[:headSize]...)) {
		t.Error("a truncated head of a bare array is not detected")
	}
}

func TestJaegerErrors(t *testing.T) {
	parse := func(doc string, c *Context) error {
		if c == nil {
			c = &Context{Limits: DefaultLimits}
		}
		_, err := jaegerFormat.Parse(context.Background(), Input{Name: "in.json", R: strings.NewReader(doc)}, c)
		return err
	}
	errorsDoc, err := os.ReadFile(filepath.Join("testdata", "jaeger", "errors.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, doc string
		c         *Context
		want      string
		tooLarge  bool
	}{
		{name: "the response reports errors", doc: string(errorsDoc), want: "500 cannot query dependencies"},
		{name: "not json", doc: "parent,child\na,b\n", want: "in.json:1:"},
		{name: "truncated", doc: "{\"data\":[\n{\"parent\":\"a\",", want: "unexpected end"},
		{name: "unrelated json", doc: `{"kind":"Deployment"}`, want: "no dependency links"},
		{name: "too deep", doc: strings.Repeat("[", 100) + strings.Repeat("]", 100), want: "deeper than 64", tooLarge: true},
		{name: "too big", doc: `[{"parent":"a","child":"b","callCount":1}]`, c: &Context{Limits: Limits{MaxDoc: 16, MaxDepth: 64}}, want: "larger than", tooLarge: true},
		{name: "strict", doc: `[{"parent":"a","child":"b","callCount":-1}]`, c: &Context{Strict: true, Limits: DefaultLimits}, want: "in.json:1: callCount -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := parse(tc.doc, tc.c)
			if err == nil || !errors.Is(err, graph.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want an input error containing %q", err, tc.want)
			}
			if tc.tooLarge != errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v: ErrTooLarge is %v, want %v", err, !tc.tooLarge, tc.tooLarge)
			}
		})
	}
}

func TestTraceNodeID(t *testing.T) {
	long := strings.Repeat("x", 300)
	for _, tc := range []struct{ name, want string }{
		{"frontend", "frontend"},
		{"café", "café"},
		{"payment service", "payment_service~"},
		{"ledger,eu", "ledger_eu~"},
		{"tab\tand  spaces", "tab_and_spaces~"},
		{"bad\xffutf8", "bad_utf8~"},
		{long, strings.Repeat("x", traceMaxID-16) + "~"},
	} {
		id := traceNodeID(tc.name)
		if !strings.HasPrefix(id, tc.want) || !traceValidID(id) || (id != tc.name) == (tc.want == tc.name) {
			t.Errorf("traceNodeID(%q) = %q, want a valid id starting %q", tc.name, id, tc.want)
		}
		if id != traceNodeID(tc.name) {
			t.Errorf("traceNodeID(%q) is not deterministic", tc.name)
		}
	}
	if traceNodeID("a b") == traceNodeID("a\tb") || traceNodeID("a b") == traceNodeID("a_b") {
		t.Error("different names share an id")
	}
}

// traceRealdata returns the folder of real samples beside the repository
// (FIREBREAK_REALDATA overrides), or skips.
func traceRealdata(t *testing.T, sub string) string {
	t.Helper()
	dir := os.Getenv("FIREBREAK_REALDATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "realdata")
	}
	dir = filepath.Join(dir, sub)
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("no real-data samples in %s (set FIREBREAK_REALDATA)", dir)
	}
	return dir
}

// traceImport detects a real file's format from its content, parses it
// and checks that the fragment is a valid model.
func traceImport(t *testing.T, path, format string) *Fragment {
	t.Helper()
	f, err := Open(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if f.Format.Name != format {
		t.Fatalf("%s: detected %s, want %s", path, f.Format.Name, format)
	}
	frags, err := ParseAll(context.Background(), []File{f}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := Merge(nil, frags)
	if err != nil {
		t.Fatal(err)
	}
	if err := graph.Validate(m); err != nil {
		t.Fatal(err)
	}
	return frags[0]
}

func TestJaegerRealdata(t *testing.T) {
	dir := traceRealdata(t, "jaeger-dependencies")
	for _, tc := range []struct {
		file         string
		nodes, edges int
		calls        uint64
	}{
		{"jaeger-ui-sample-small.json", 8, 7, 30489 + 30491 + 8560 + 30489 + 30489 + 129216 + 30491},
		{"jaeger-ui-sample-large.json", 1238, 4271, 0},
		{"jaeger-es-write_dependencies.json", 2, 1, 1},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f := traceImport(t, filepath.Join(dir, tc.file), "jaeger")
			if len(f.Nodes) != tc.nodes || len(f.Edges) != tc.edges || f.Report.Skipped != 0 {
				t.Fatalf("%d nodes, %d edges, %d skipped; want %d, %d, 0", len(f.Nodes), len(f.Edges), f.Report.Skipped, tc.nodes, tc.edges)
			}
			var calls uint64
			for _, e := range f.Edges {
				if e.Observed == nil || e.Dependency != graph.DepHard || e.Sources[0] != Provenance("jaeger", filepath.Join(dir, tc.file)) {
					t.Fatalf("edge %s: observed %v, dependency %s, sources %v", e.Key(), e.Observed, e.Dependency, e.Sources)
				}
				calls += e.Observed.Count
			}
			if tc.calls != 0 && calls != tc.calls {
				t.Fatalf("%d calls, want %d", calls, tc.calls)
			}
		})
	}
	// The ES fixture is a _bulk request: its daily document's timestamp
	// (2020-01-02T03:04:05Z) dates the link.
	f := traceImport(t, filepath.Join(dir, "jaeger-es-write_dependencies.json"), "jaeger")
	if o := f.Edges[0].Observed; f.Edges[0].Key().String() != "svcA->svcB" || o.FirstSeen != 1577934245 || o.LastSeen != 1577934245 {
		t.Fatalf("edge %s observed %+v", f.Edges[0].Key(), *o)
	}
}

// FuzzJaeger feeds arbitrary bytes to the parser: it must not panic, every
// error must be an input error, and what it returns is a valid model no
// bigger than the input.
func FuzzJaeger(f *testing.F) {
	traceSeeds(f, "jaeger")
	f.Fuzz(func(t *testing.T, data []byte) {
		traceFuzz(t, jaegerFormat, data)
	})
}

func traceSeeds(f *testing.F, dir string) {
	paths, _ := filepath.Glob(filepath.Join("testdata", dir, "*"))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

func traceFuzz(t *testing.T, format Format, data []byte) {
	c := &Context{Limits: Limits{MaxLine: 1 << 12, MaxDoc: 1 << 16, MaxDepth: 32}}
	frag, err := format.Parse(context.Background(), Input{Name: "fuzz", R: bytes.NewReader(data)}, c)
	if err != nil {
		if !errors.Is(err, graph.ErrInvalid) {
			t.Fatalf("error %v does not wrap graph.ErrInvalid", err)
		}
		return
	}
	if len(frag.Edges) > frag.Report.Records || len(frag.Nodes) > 2*frag.Report.Records {
		t.Fatalf("%d nodes and %d edges from %d records", len(frag.Nodes), len(frag.Edges), frag.Report.Records)
	}
	if len(frag.Report.Examples) > maxExamples || len(frag.Report.Notes) > 16 {
		t.Fatalf("%d examples, %d notes", len(frag.Report.Examples), len(frag.Report.Notes))
	}
	if err := graph.Validate(&graph.Model{Nodes: frag.Nodes, Edges: frag.Edges}); err != nil {
		t.Fatalf("invalid fragment: %v", err)
	}
}
