package graph_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/firebreak/firebreak/graph"
	"github.com/firebreak/firebreak/internal/testutil"
)

const header = "apiVersion: firebreak/v1\nkind: Topology\n"

// Each case is a file and the exact file:line: field: message it must produce.
func TestParseErrorsNameFileLineField(t *testing.T) {
	cases := []struct {
		name, text, want string
	}{
		{"unknown field", header + "nodes:\n  - id: a\n    kind: host\n    colour: red\n",
			"t.yaml:6: nodes[0].colour: unknown field"},
		{"wrong type", header + "nodes:\n  - id: 7\n    kind: host\n",
			"t.yaml:4: nodes[0].id: want a string, got an integer (quote it)"},
		{"missing field", header + "nodes:\n  - id: a\n",
			"t.yaml:4: nodes[0].kind: required field is missing"},
		{"bad kind", header + "nodes:\n  - {id: a, kind: server}\n",
			`t.yaml:4: nodes[0].kind: unknown kind "server"`},
		{"bad address", header + "nodes:\n  - {id: a, kind: host, addresses: [10.0.0.1, 300.1.1.1]}\n",
			`t.yaml:4: nodes[0].addresses[1]: "300.1.1.1" is not an IP address or CIDR`},
		{"bad port", header + "nodes:\n  - {id: a, kind: host}\n  - {id: b, kind: host}\nedges:\n  - from: a\n    to: b\n    ports:\n      - 443\n      - 70000\n",
			`t.yaml:11: edges[0].ports[1]: "70000": want N, N/tcp`},
		{"bad dependency", header + "edges:\n  - {from: a, to: b, dependency: maybe}\n",
			`t.yaml:4: edges[0].dependency: unknown dependency "maybe"`},
		{"bad enforce", header + "nodes:\n  - {id: a, kind: host, enforce: 'agent:http://h:1'}\n",
			`t.yaml:4: nodes[0].enforce: "agent:http://h:1": agent needs https://HOST:PORT`},
		{"duplicate key", header + "nodes:\n  - id: a\n    id: b\n    kind: host\n",
			"t.yaml:5: nodes[0].id: duplicate key (first at line 4)"},
		{"bad version", "apiVersion: firebreak/v9\nkind: Topology\n",
			`t.yaml:1: apiVersion: unsupported version "firebreak/v9"`},
		{"journeys in a topology", header + "journeys: []\n",
			"t.yaml:3: journeys: unknown field"},
		{"syntax", header + "nodes: [\n",
			"t.yaml:3: not valid YAML or JSON"},
		{"json unknown field", "{\n  \"apiVersion\": \"firebreak/v1\",\n  \"kind\": \"Topology\",\n  \"nodes\": [\n    {\"id\": \"a\", \"kind\": \"host\", \"zone\": 1}\n  ]\n}\n",
			"t.yaml:5: nodes[0].zone: unknown field"},
		{"empty step", "apiVersion: firebreak/v1\nkind: Journeys\njourneys:\n  - id: j\n    steps:\n      - name: nothing\n",
			"t.yaml:6: journeys[0].steps[0]: a step needs requires or any_of"},
		{"id with comma", header + "nodes:\n  - {id: 'a,b', kind: host}\n",
			`t.yaml:4: nodes[0].id: "a,b": ids may not contain`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := graph.ParseNative("t.yaml", []byte(c.text))
			if err == nil {
				t.Fatalf("no error; want %q", c.want)
			}
			if !errors.Is(err, graph.ErrInvalid) {
				t.Errorf("error is not ErrInvalid: %v", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("got  %v\nwant %s", err, c.want)
			}
		})
	}
}

// Cross-element checks happen in Build and still name file, line and field,
// even when the reference crosses files.
func TestBuildErrorsNameFileLineField(t *testing.T) {
	topo := header + `nodes:
  - {id: a, kind: host}
  - {id: b, kind: service, runs_on: ghost}
  - {id: a, kind: host}
  - {id: c, kind: service, runs_on: d}
  - {id: d, kind: service, runs_on: c}
edges:
  - {from: a, to: zz}
  - {from: a, to: b}
  - {from: a, to: b}
  - {from: b, to: b}
  - {from: c, to: a, group: g}
  - {from: c, to: b, group: g, dependency: soft}
`
	jrn := `apiVersion: firebreak/v1
kind: Journeys
journeys:
  - id: j
    steps:
      - requires: [a]
        any_of:
          - [b, nowhere]
`
	td, err := graph.ParseNative("topo.yaml", []byte(topo))
	if err != nil {
		t.Fatal(err)
	}
	jd, err := graph.ParseNative("journeys.yaml", []byte(jrn))
	if err != nil {
		t.Fatal(err)
	}
	_, err = graph.Build(td, jd)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`topo.yaml:5: nodes[1].runs_on: unknown node "ghost"`,
		`topo.yaml:6: nodes[2].id: duplicate node id "a" (first defined at topo.yaml:4)`,
		`nodes[3].runs_on: runs_on cycle through [c d]`,
		`topo.yaml:10: edges[0].to: unknown node "zz"`,
		`topo.yaml:12: edges[2]: duplicate edge a->b (first at topo.yaml:11)`,
		`topo.yaml:13: edges[3].to: edge from "b" to itself`,
		`topo.yaml:15: edges[5].dependency: group "g" from "c" mixes hard and soft dependencies`,
		`journeys.yaml:8: journeys[0].steps[0].any_of[0][1]: unknown node "nowhere"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

func TestParsePortRange(t *testing.T) {
	for in, want := range map[string]string{"443": "443/tcp", "53/udp": "53/udp", "8000-8100/tcp": "8000-8100/tcp", "any": "any", "22-22": "22/tcp"} {
		p, err := graph.ParsePortRange(in)
		if err != nil || p.String() != want {
			t.Errorf("%s → %v %v, want %s", in, p, err, want)
		}
	}
	for _, bad := range []string{"0", "10-5", "x", "80/icmp", "65536", ""} {
		if _, err := graph.ParsePortRange(bad); !errors.Is(err, graph.ErrInvalid) {
			t.Errorf("%q: want ErrInvalid, got %v", bad, err)
		}
	}
}

// Encoding a model and parsing it back gives the same model, in YAML and JSON.
func TestNativeRoundTrip(t *testing.T) {
	m := testutil.Model(t, `
		apiVersion: firebreak/v1
		kind: Topology
		nodes:
		  - {id: h, kind: host, addresses: [10.0.0.1, 10.1.0.0/16], labels: {tier: web, n: 3}, enforce: 'netns:lab-h', crown_jewel: true, sensitivity: high, listens: [22]}
		  - {id: s, kind: service, runs_on: h, name: The service}
		edges:
		  - {from: h, to: s, ports: [8080, 53/udp, 9000-9010/tcp], dependency: soft, group: g, observed: {count: 3, bytes: 10, first_seen: 1, last_seen: 2}}
	`, `
		apiVersion: firebreak/v1
		kind: Journeys
		journeys:
		  - id: j
		    tier: critical
		    weight: {customers_per_hour: 1.5, revenue_per_hour: 20}
		    steps: [{name: x, requires: [h], any_of: [[s, h]]}]
	`)
	for _, enc := range []struct {
		name  string
		write func(w *strings.Builder, v any) error
	}{
		{"yaml", func(w *strings.Builder, v any) error { return graph.WriteYAML(w, v) }},
		{"json", func(w *strings.Builder, v any) error { return graph.WriteJSON(w, v) }},
	} {
		var topo, jrn strings.Builder
		if err := enc.write(&topo, m.TopologyDoc("")); err != nil {
			t.Fatal(err)
		}
		if err := enc.write(&jrn, m.JourneysDoc("")); err != nil {
			t.Fatal(err)
		}
		m2 := testutil.Model(t, topo.String(), jrn.String())
		var a, b strings.Builder
		graph.WriteJSON(&a, []any{m.TopologyDoc(""), m.JourneysDoc("")})
		graph.WriteJSON(&b, []any{m2.TopologyDoc(""), m2.JourneysDoc("")})
		if a.String() != b.String() {
			t.Errorf("%s round trip differs:\n%s\n---\n%s", enc.name, a.String(), b.String())
		}
	}
}
