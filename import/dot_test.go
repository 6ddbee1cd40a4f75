package importer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak/firebreak/graph"
)

func TestDOTGolden(t *testing.T) {
	for _, name := range []string{"services.dot", "links.dot"} {
		t.Run(strings.TrimSuffix(name, ".dot"), func(t *testing.T) {
			f := parseFile(t, "dot", "dot/"+name, nil)
			k8sCheckFragment(t, f, 1<<20)
			goldenFragment(t, f)
		})
	}
}

// TestDOTServices pins what the traps in services.dot must give.
func TestDOTServices(t *testing.T) {
	f := parseFile(t, "dot", "dot/services.dot", nil)
	got := k8sEdgeSet(f, func(graph.Edge) bool { return true })
	want := []k8sEdgeWant{
		{"api", "10.1.2.3", "8443/tcp 9000-9010/tcp", "hard", ""}, // node:port:compass stripped; ports attribute
		{"api", "audit", "514/udp", "none", ""},                   // dependency and port attributes
		{"api", "cache-1", "5432/tcp 6379/tcp", "hard", ""},       // parallel edges: ports unioned, the stronger dependency kept
		{"api", "ledger_db", "5432/tcp", "hard", ""},              // subgraph endpoint {ledger_db "cache-1"}
		{"api", "risk-scorer", "", "hard", ""},                    // "risk-" + "scorer"; a label that is not a port
		{"bastion", "10.1.2.3", "22/tcp", "hard", ""},             // second graph, merged by id
		{"bastion", "api", "22/tcp", "hard", ""},
		{"edge-lb", "waf_01~2", "443/tcp", "hard", ""}, // chain a -> b -> c; "waf 01" mapped
		{"waf_01~2", "api", "443/tcp", "hard", ""},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("edges:\n got %v\nwant %v", got, want)
	}
	kinds := k8sNodeKinds(f)
	for id, k := range map[string]graph.Kind{"edge-lb": graph.KindLB, "waf_01~2": graph.KindGateway, "ledger_db": graph.KindDatastore,
		"10.1.2.3": graph.KindHost, "audit": graph.KindService, "api": graph.KindHost, "waf_01": graph.KindHost} {
		if kinds[id] != k {
			t.Errorf("%s is %q, want %s", id, kinds[id], k)
		}
	}
	for _, n := range f.Nodes {
		switch n.ID {
		case "10.1.2.3":
			if fmt.Sprint(n.Addresses) != "[10.1.2.3/32]" || n.Labels["cluster"] != "core" {
				t.Errorf("10.1.2.3: %v %v", n.Addresses, n.Labels)
			}
		case "edge-lb":
			if fmt.Sprint(n.Addresses) != "[203.0.113.10/32]" || n.Labels["team"] != "payments" || n.Labels["cluster"] != "DMZ" {
				t.Errorf("edge-lb: %v %v", n.Addresses, n.Labels)
			}
		case "waf_01~2":
			if n.Name != "WAF primary" {
				t.Errorf("waf name %q", n.Name)
			}
		case "bastion":
			if n.Labels["team"] != "" {
				t.Errorf("node defaults leaked into another graph: %v", n.Labels)
			}
		}
	}
	k8sWantLines(t, f.Report.Notes,
		`node "waf 01" is not a valid id`, "api -> cache-1: 2 parallel edges merged", "self-loop api dropped", "2 graphs in this file")
}

// TestDOTLinks: an undirected graph is a link diagram.
func TestDOTLinks(t *testing.T) {
	f := parseFile(t, "dot", "dot/links.dot", nil)
	for _, e := range f.Edges {
		if e.Dependency != graph.DepNone {
			t.Errorf("%s: dependency %s, want none", e.Key(), e.Dependency)
		}
	}
	got := map[string]bool{}
	for _, e := range f.Edges {
		got[e.From+"->"+e.To] = true
	}
	for _, w := range []string{"core1->core2", "core2->core1", "access1->lab_switch", "lab_switch->access1", "access2->core1", "core1->access2"} {
		if !got[w] {
			t.Errorf("missing %s in %v", w, got)
		}
	}
	k8sWantLines(t, f.Report.Notes, "core1 -- core2: 3 parallel links merged into one edge each way")
	if k8sNodeKinds(f)["core1"] != graph.KindNetwork || k8sNodeKinds(f)["access1"] != graph.KindNetwork {
		t.Errorf("router and switch kinds: %v", k8sNodeKinds(f))
	}
}

func TestDOTErrors(t *testing.T) {
	for _, tc := range []struct{ file, data, want string }{
		{"dot/syntax-error.dot", "", `dot/syntax-error.dot:3: not valid DOT: column 8: expected one of "{", subgraph or id; got: ";"`},
		{"dot/mixed-edgeops.dot", "", `dot/mixed-edgeops.dot:2: not valid DOT: digraph "mixed" uses --`},
		{"dot/directed-in-graph.dot", "", `dot/directed-in-graph.dot:2: not valid DOT: undirected graph "wrong" contains directed edge`},
		{"x.dot", "digraph { a -> \"b\n", "x.dot:1: not valid DOT: unterminated quoted string"},
		{"x.dot", "digraph { /* a -> b }", "x.dot:1: not valid DOT: unterminated /* comment"},
		{"x.dot", "digraph {" + strings.Repeat("{", 80) + strings.Repeat("}", 81), "x.dot:1: invalid input: input exceeds a bound: subgraphs nested deeper than 64 levels"},
		{"x.dot", "digraph {a" + strings.Repeat(" -> a", maxDOTChain+1) + "}", "x.dot:1: invalid input: input exceeds a bound: an edge chain longer than"},
		{"x.dot", "digraph {{" + dotNames("n", 3000) + "} -> {" + dotNames("m", 3000) + "}}", "x.dot: invalid input: input exceeds a bound: the edge statements expand to more than"},
		{"x.dot", "// nothing\n", "x.dot:2: not valid DOT"},
	} {
		data := []byte(tc.data)
		if tc.data == "" {
			data = k8sMust(os.ReadFile(filepath.Join("testdata", tc.file)))
		}
		_, err := k8sParseBytes(t, "dot", tc.file, data, nil)
		if err == nil || !errors.Is(err, graph.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an ErrInvalid containing %q", tc.file, err, tc.want)
		}
	}
	// Chains and subgraph endpoints below the bounds work.
	f, err := k8sParseBytes(t, "dot", "x.dot", []byte("digraph {a -> {b c} -> {d e}; f -> g -> h -> i}"), nil)
	if err != nil || len(f.Edges) != 9 {
		t.Fatalf("%v, %d edges", err, len(f.Edges))
	}
}

func dotNames(prefix string, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, " %s%d", prefix, i)
	}
	return b.String()
}

func TestDOTIDs(t *testing.T) {
	for in, want := range map[string]string{
		"a b":                              "a_b",
		"[root] aws_instance.web (expand)": "[root]_aws_instance.web_(expand)",
		"x,y\t z":                          "x_y_z",
		"":                                 "_",
		"\xff\xfe":                         "_",
		strings.Repeat("é", 200):           strings.Repeat("é", 120) + "~",
	} {
		got := safeNodeID(in)
		if !strings.HasPrefix(got, want) || k8sCheckID(got) != "" {
			t.Errorf("safeNodeID(%q) = %q, want prefix %q and a valid id", in, got, want)
		}
	}
	for in, want := range map[string]string{`"a\"b"`: `a"b`, "\"line\\\ncont\"": "linecont", "<b>x</b>": "b>x</b", "plain": "plain"} {
		if got := dotUnquote(in); got != want {
			t.Errorf("dotUnquote(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"443": "[443/tcp]", "tcp/443, 53/udp": "[443/tcp 53/udp]", "8000-8100/tcp": "[8000-8100/tcp]"} {
		ports, ok := dotPorts(in)
		if !ok || fmt.Sprint(ports) != want {
			t.Errorf("dotPorts(%q) = %v %v, want %s", in, ports, ok, want)
		}
	}
	if _, ok := dotPorts("grpc calls"); ok {
		t.Error("dotPorts accepted words")
	}
}

func TestDOTDetect(t *testing.T) {
	for head, want := range map[string]bool{
		"digraph G {":    true,
		"strict graph {": true,
		"# 1 \"x\"\n/* c */\n// c\nDiGraph \"my g\" {": true,
		"graph:\n  nodes: []":                          false,
		"graphs are fun {":                             false,
		"apiVersion: v1\nkind: Pod\n":                  false,
	} {
		if detectDOT("x", []byte(head)) != want {
			t.Errorf("detectDOT(%q) != %v", head, want)
		}
	}
}

// TestDOTRealdata: the containerlab export, with its parallel links.
func TestDOTRealdata(t *testing.T) {
	dir := k8sRealdataDir(t, "graphviz-dot")
	files, _ := filepath.Glob(filepath.Join(dir, "*.dot"))
	for _, path := range files {
		name := filepath.Base(path)
		data := k8sMust(os.ReadFile(path))
		if f, err := Detect(name, data); err != nil || f.Name != "dot" {
			t.Errorf("%s: detected as %q, %v", name, f.Name, err)
		}
		f, err := k8sParseBytes(t, "dot", name, data, nil)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		k8sCheckFragment(t, f, len(data))
		if name == "containerlab-wan-topo.dot" {
			if len(f.Nodes) != 8 || len(f.Edges) != 18 {
				t.Errorf("%s: %d nodes, %d edges; want 8 and 18 (9 links, both ways)", name, len(f.Nodes), len(f.Edges))
			}
			k8sWantLines(t, f.Report.Notes, "wan1 -- wan2: 4 parallel links merged into one edge each way")
		}
	}
}

func FuzzDOT(f *testing.F) {
	k8sSeeds(f, "dot")
	f.Add([]byte(`digraph { a:p:n -> {b; subgraph s {c}} -> "d" + "e" [port="1-2/udp"] }`))
	f.Add([]byte("graph { a -- b -- a; a -- a }"))
	f.Fuzz(func(t *testing.T, data []byte) { k8sFuzzBody(t, "dot", data) })
}
