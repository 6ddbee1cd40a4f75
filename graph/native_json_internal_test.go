package graph

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// The streaming JSON path must read exactly what the strict reader reads.
func TestStreamingJSONMatchesStrictReader(t *testing.T) {
	m, err := Generate(GenOptions{Nodes: 2000, Degree: 8, Journeys: 10, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	m.Nodes[5].Labels["replicas"] = "3"
	m.Nodes[7].CrownJewel, m.Nodes[7].Sensitivity, m.Nodes[7].Enforce = true, SensitivityHigh, "netns:x"
	var topo, jrn bytes.Buffer
	if err := WriteTopologyStream(&topo, m, "gen"); err != nil {
		t.Fatal(err)
	}
	if err := WriteJourneysStream(&jrn, m, ""); err != nil {
		t.Fatal(err)
	}
	var fast, strict []*Document
	for _, data := range [][]byte{topo.Bytes(), jrn.Bytes()} {
		f, err := parseNativeJSON("f.json", data)
		if err != nil {
			t.Fatal(err)
		}
		s, err := ParseNative("f.json", data) // small: the YAML reader
		if err != nil {
			t.Fatal(err)
		}
		fast, strict = append(fast, f), append(strict, s)
	}
	a, err := Build(fast...)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(strict...)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.TopologyDoc(""), b.TopologyDoc("")) || !reflect.DeepEqual(a.JourneysDoc(""), b.JourneysDoc("")) {
		t.Fatal("streaming and strict readers disagree")
	}
	for i := range fast[0].Nodes {
		if fast[0].Nodes[i].Pos != strict[0].Nodes[i].Pos {
			t.Fatalf("node %d at %v, strict reader says %v", i, fast[0].Nodes[i].Pos, strict[0].Nodes[i].Pos)
		}
	}
	for i := range fast[0].Edges {
		if fast[0].Edges[i].Pos != strict[0].Edges[i].Pos {
			t.Fatalf("edge %d at %v, strict reader says %v", i, fast[0].Edges[i].Pos, strict[0].Edges[i].Pos)
		}
	}
}

func TestStreamingJSONErrors(t *testing.T) {
	head := "{\"apiVersion\": \"firebreak/v1\", \"kind\": \"Topology\",\n\"nodes\": [\n"
	cases := []struct{ name, text, want string }{
		{"unknown field", head + "{\"id\": \"a\", \"kind\": \"host\"},\n{\"id\": \"b\", \"kind\": \"host\", \"zone\": 1}\n]}", "f.json:4: nodes[1].zone: unknown field"},
		{"wrong type", head + "{\"id\": 7, \"kind\": \"host\"}\n]}", "f.json:3: nodes[0].id: want a string, got an integer"},
		{"bad kind", head + "{\"id\": \"a\", \"kind\": \"server\"}\n]}", `f.json:3: nodes[0].kind: unknown kind "server"`},
		{"bad port", head + "{\"id\": \"a\", \"kind\": \"host\"}],\n\"edges\": [\n{\"from\": \"a\", \"to\": \"b\",\n \"ports\": [443, \"x\"]}]}", `f.json:6: edges[0].ports[1]: "x": want N`},
		{"bad dependency", head + "],\n\"edges\": [{\"from\": \"a\", \"to\": \"b\", \"dependency\": \"maybe\"}]}", `f.json:4: edges[0].dependency: unknown dependency "maybe"`},
		{"broken json", head + "{\"id\": \"a\", \"kind\": \"host\"\n", "f.json:4: not valid JSON"},
		{"top-level unknown", "{\"apiVersion\": \"firebreak/v1\", \"kind\": \"Topology\",\n\"nodez\": []}", "f.json:2: nodez: unknown field"},
		{"bad version", "{\"apiVersion\": \"firebreak/v2\", \"kind\": \"Topology\"}", `apiVersion: unsupported version "firebreak/v2"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseNativeJSON("f.json", []byte(c.text))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v\nwant %s", err, c.want)
			}
		})
	}
}
