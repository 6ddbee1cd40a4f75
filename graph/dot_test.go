package graph_test

import (
	"bytes"
	"testing"

	"github.com/firebreak/firebreak/graph"
	"github.com/firebreak/firebreak/internal/testutil"
)

func TestWriteDOT(t *testing.T) {
	m := testutil.Model(t, `
		apiVersion: firebreak/v1
		kind: Topology
		nodes:
		  - {id: lb, kind: lb}
		  - {id: 'web"1"', kind: host}
		  - {id: db, kind: datastore, crown_jewel: true}
		edges:
		  - {from: lb, to: 'web"1"', ports: [443]}
		  - {from: 'web"1"', to: db, ports: [5432, 53/udp], dependency: soft}
		  - {from: lb, to: db, dependency: none}
	`)
	var a, b bytes.Buffer
	if err := graph.WriteDOT(&a, m); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ { // map order must not leak into the output
		b.Reset()
		graph.WriteDOT(&b, m)
		if a.String() != b.String() {
			t.Fatal("DOT output is not deterministic")
		}
	}
	testutil.Golden(t, a.Bytes())
}
