package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak/firebreak/graph"
)

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const small = `apiVersion: firebreak/v1
kind: Topology
nodes:
  - {id: a, kind: host, addresses: [10.0.0.1]}
  - {id: b, kind: service}
edges:
  - {from: a, to: b, ports: [443]}
`

const smallChanged = `apiVersion: firebreak/v1
kind: Topology
nodes:
  - {id: a, kind: host, addresses: [10.0.0.1, 10.0.0.2]}
  - {id: c, kind: datastore}
edges:
  - {from: a, to: c, ports: [5432]}
`

func TestImportDryRunAndDiff(t *testing.T) {
	c := newCLI(t)
	v1 := writeFile(t, c.dir, "v1.yaml", small)
	v2 := writeFile(t, c.dir, "v2.yaml", smallChanged)
	c.must("import", v1)
	before := digestFile(t, c.ws)
	out := c.must("import", "--dry-run", v2)
	for _, want := range []string{"dry run: nothing written", "+ c", "- b", "~ a", "addresses:", "+ a->c", "- a->b"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	if digestFile(t, c.ws) != before {
		t.Fatal("--dry-run wrote to the workspace")
	}
	c.must("import", v2)
	var d graph.Diff
	if err := json.Unmarshal([]byte(c.must("diff", "1", "2", "--json")), &d); err != nil {
		t.Fatal(err)
	}
	if strings.Join(d.NodesAdded, ",") != "c" || strings.Join(d.NodesRemoved, ",") != "b" || len(d.NodesChanged) != 1 ||
		strings.Join(d.EdgesAdded, ",") != "a->c" || strings.Join(d.EdgesRemoved, ",") != "a->b" {
		t.Errorf("diff 1 2: %+v", d)
	}
	if out := c.must("diff", "2", "2"); strings.TrimSpace(out) != "no changes" {
		t.Errorf("diff 2 2: %q", out)
	}
	for _, bad := range [][]string{{"diff", "1", "9"}, {"diff", "x", "1"}, {"diff", "1"}} {
		if _, _, code := c.run(bad...); code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
}

// --merge layers the files onto the current revision instead of replacing it.
func TestImportMerge(t *testing.T) {
	c := newCLI(t)
	c.must("import", writeFile(t, c.dir, "v1.yaml", small))
	c.must("import", "--merge", writeFile(t, c.dir, "more.yaml", "apiVersion: firebreak/v1\nkind: Topology\nnodes:\n  - {id: z, kind: host}\nedges:\n  - {from: z, to: b, ports: [443]}\n"))
	var nodes []map[string]any
	json.Unmarshal([]byte(c.must("nodes", "--json")), &nodes)
	if len(nodes) != 3 {
		t.Errorf("merged revision has %d nodes, want a, b and z", len(nodes))
	}
	for _, n := range nodes {
		if src, _ := n["sources"].([]any); len(src) == 0 {
			t.Errorf("node %v has no provenance", n["id"])
		}
	}
}

// The same node written in two native files is a mistake, reported with both
// places; nothing is written.
func TestImportNativeDuplicateAcrossFiles(t *testing.T) {
	c := newCLI(t)
	a := writeFile(t, c.dir, "a.yaml", small)
	b := writeFile(t, c.dir, "b.yaml", "apiVersion: firebreak/v1\nkind: Topology\nnodes:\n  - {id: a, kind: host}\n")
	_, errOut, code := c.run("import", a, b)
	if code != 2 || !strings.Contains(errOut, b+`:4: nodes[0].id: duplicate node id "a" (first defined at `+a+`:4)`) {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(c.ws); !os.IsNotExist(err) {
		t.Error("a failed import created the workspace")
	}
	if _, errOut, code := c.run("import", "--format", "nope", a); code != 2 || !strings.Contains(errOut, "unknown format") {
		t.Errorf("--format nope: exit %d %s", code, errOut)
	}
}

// Several formats in one import: flow records resolve to the nodes the
// native file declares, the trace adds its own calls, and every edge says
// where it came from; an edge seen by two sources lists both.
func TestImportMixedFormatsWithProvenance(t *testing.T) {
	c := newCLI(t)
	topo := writeFile(t, c.dir, "topology.yaml", `apiVersion: firebreak/v1
kind: Topology
nodes:
  - {id: web, kind: host, addresses: [10.1.0.10]}
  - {id: api, kind: host, addresses: [10.1.0.20], listens: [8080]}
  - {id: db, kind: datastore, addresses: [10.1.0.30]}
edges:
  - {from: api, to: db, ports: [5432], dependency: hard}
`)
	vpc := writeFile(t, c.dir, "flows.log", `version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status
2 123456789012 eni-0a1 10.1.0.10 10.1.0.20 49152 8080 6 10 840 1700000000 1700000060 ACCEPT OK
2 123456789012 eni-0a1 10.1.0.10 10.1.0.20 49153 8080 6 12 900 1700000060 1700000120 ACCEPT OK
2 123456789012 eni-0a2 10.1.0.20 10.1.0.30 51000 5432 6 5 400 1700000000 1700000060 ACCEPT OK
2 123456789012 eni-0a3 198.51.100.7 10.1.0.10 40000 443 6 3 200 1700000000 1700000060 ACCEPT OK
2 123456789012 eni-0a2 10.1.0.10 10.1.0.30 52000 5432 6 2 120 1700000000 1700000060 REJECT OK
`)
	jaeger := writeFile(t, c.dir, "deps.json", `{"data": [{"parent": "api", "child": "payments", "callCount": 42}], "total": 0, "limit": 0, "offset": 0, "errors": null}`)
	out := c.must("import", topo, vpc, jaeger)
	for _, want := range []string{"flows.log (vpcflow)", "deps.json (jaeger)", "1 rejected or unanswered connection attempts"} {
		if !strings.Contains(out, want) {
			t.Errorf("import report lacks %q:\n%s", want, out)
		}
	}
	var edges []graph.EdgeDoc
	if err := json.Unmarshal([]byte(c.must("edges", "--json")), &edges); err != nil {
		t.Fatal(err)
	}
	got := map[string]graph.EdgeDoc{}
	for _, e := range edges {
		got[e.From+"->"+e.To] = e
	}
	check := func(key string, wantSources ...string) graph.EdgeDoc {
		e, ok := got[key]
		if !ok {
			t.Fatalf("no edge %s in %v", key, got)
		}
		if strings.Join(e.Sources, ",") != strings.Join(wantSources, ",") {
			t.Errorf("%s: sources %v, want %v", key, e.Sources, wantSources)
		}
		return e
	}
	webAPI := check("web->api", "vpcflow:"+vpc)
	if webAPI.Observed == nil || webAPI.Observed.Count != 2 || webAPI.Observed.Bytes != 1740 || strings.Join(webAPI.Ports, ",") != "8080/tcp" {
		t.Errorf("web->api aggregated as %+v", webAPI)
	}
	check("api->db", "native:"+topo, "vpcflow:"+vpc) // seen by both
	check("internet->web", "vpcflow:"+vpc)
	check("api->payments", "jaeger:"+jaeger)
	if _, ok := got["web->db"]; ok {
		t.Error("a rejected attempt became a dependency")
	}
}
