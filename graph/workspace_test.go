package graph_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/firebreak/firebreak/graph"
	"github.com/firebreak/firebreak/internal/testutil"
)

const wsTopo = `
	apiVersion: firebreak/v1
	kind: Topology
	nodes:
	  - {id: lb, kind: lb, addresses: [10.0.0.1]}
	  - {id: w1, kind: host, addresses: [10.0.1.1], enforce: 'netns:w1'}
	  - {id: app, kind: service, runs_on: w1}
	edges:
	  - {from: lb, to: w1, ports: [443], group: web}
	  - {from: w1, to: app, ports: [8080], dependency: soft}
`

const wsJourneys = `
	apiVersion: firebreak/v1
	kind: Journeys
	journeys:
	  - id: browse
	    weight: {customers_per_hour: 10, revenue_per_hour: 2}
	    steps: [{requires: [lb]}]
`

func digest(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func TestWorkspaceImportAndLoad(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ws.db")
	ws, err := graph.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if _, err := ws.Latest(ctx); !errors.Is(err, graph.ErrNoRevision) {
		t.Fatalf("empty workspace: want ErrNoRevision, got %v", err)
	}
	m := testutil.Model(t, wsTopo, wsJourneys)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rev, err := ws.Import(ctx, m, nil, graph.RevisionMeta{CreatedBy: "alice", Note: "first", Sources: []string{"t.yaml"}, Now: at})
	if err != nil {
		t.Fatal(err)
	}
	rev2, err := ws.Import(ctx, m, nil, graph.RevisionMeta{CreatedBy: "bob", Now: at})
	if err != nil || rev2 != rev+1 {
		t.Fatalf("second import: rev %d err %v", rev2, err)
	}
	latest, _ := ws.Latest(ctx)
	if latest != rev2 {
		t.Errorf("latest %d, want %d", latest, rev2)
	}
	revs, err := ws.Revisions(ctx)
	if err != nil || len(revs) != 2 || revs[0].CreatedBy != "alice" || revs[0].Nodes != 3 || revs[0].Edges != 2 || !revs[0].CreatedAt.Equal(at) {
		t.Fatalf("revisions: %+v %v", revs, err)
	}
	got, err := ws.Load(ctx, rev)
	if err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	graph.WriteJSON(&a, []any{m.TopologyDoc(""), m.JourneysDoc("")})
	graph.WriteJSON(&b, []any{got.TopologyDoc(""), got.JourneysDoc("")})
	if a.String() != b.String() {
		t.Errorf("loaded model differs:\n%s\n---\n%s", a.String(), b.String())
	}
	if _, err := ws.Load(ctx, 99); !errors.Is(err, graph.ErrNotFound) {
		t.Errorf("missing revision: want ErrNotFound, got %v", err)
	}
}

// An import that fails inside its transaction, after its rows are written
// (here: an edge to a node that does not exist, which only compiling the
// index notices), leaves the file byte-for-byte as it was.
func TestFailedImportLeavesWorkspaceUnchanged(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ws.db")
	ws, err := graph.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	good := testutil.Model(t, wsTopo, wsJourneys)
	if _, err := ws.Import(ctx, good, nil, graph.RevisionMeta{}); err != nil {
		t.Fatal(err)
	}
	ws.Close()
	before := digest(t, path)

	bad := testutil.Model(t, wsTopo, wsJourneys)
	bad.Edges = append(bad.Edges, graph.Edge{From: "zz", To: "lb"}) // sorts last; its source does not exist
	ws, err = graph.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ws.Import(ctx, bad, nil, graph.RevisionMeta{})
	if !errors.Is(err, graph.ErrNotFound) || !strings.Contains(err.Error(), "zz->lb") {
		t.Fatalf("want the compile error naming the edge, got %v", err)
	}
	ws.Close()
	if digest(t, path) != before {
		t.Fatal("workspace changed after a failed import")
	}
	if _, err := os.Stat(path + "-journal"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("rollback journal left behind: %v", err)
	}
}
