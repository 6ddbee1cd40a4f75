package graph_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/firebreak/firebreak/graph"
	"github.com/firebreak/firebreak/internal/testutil"
)

// a ─▶ b ─▶ c      d (runs on a)
// │    ▲
// └────┘ group g (a→b, a→c soft)
const ixTopo = `
	apiVersion: firebreak/v1
	kind: Topology
	nodes:
	  - {id: c, kind: datastore, crown_jewel: true}
	  - {id: a, kind: host}
	  - {id: b, kind: service}
	  - {id: d, kind: service, runs_on: a}
	edges:
	  - {from: a, to: b, group: g, dependency: soft, ports: [443]}
	  - {from: a, to: c, group: g, dependency: soft, ports: [443]}
	  - {from: b, to: c, ports: [5432]}
	  - {from: d, to: b, dependency: none}
`

const ixJourneys = `
	apiVersion: firebreak/v1
	kind: Journeys
	journeys:
	  - id: j
	    steps: [{requires: [a], any_of: [[b, c]]}]
`

func TestCompileIndex(t *testing.T) {
	ix := testutil.Index(t, ixTopo, ixJourneys)
	if ix.Len() != 4 || ix.EdgeCount() != 4 {
		t.Fatalf("len %d edges %d", ix.Len(), ix.EdgeCount())
	}
	id := func(s string) int32 {
		d, ok := ix.Lookup(s)
		if !ok {
			t.Fatalf("lookup %s", s)
		}
		return d
	}
	// Dense ids follow string order.
	for i, s := range []string{"a", "b", "c", "d"} {
		if id(s) != int32(i) || ix.ID(int32(i)) != s {
			t.Errorf("dense id of %s = %d", s, id(s))
		}
	}
	if _, ok := ix.Lookup("zz"); ok {
		t.Error("lookup of a missing id succeeded")
	}
	if got := ix.OutTargets(id("a")); !reflect.DeepEqual(got, []int32{id("b"), id("c")}) {
		t.Errorf("out(a) = %v", got)
	}
	if ix.RunsOn(id("d")) != id("a") || !reflect.DeepEqual(ix.Residents(id("a")), []int32{id("d")}) {
		t.Error("runs_on / residents")
	}
	if !ix.CrownJewel(id("c")) || ix.Kind(id("c")) != graph.KindDatastore {
		t.Error("node attributes")
	}
	// a→b and a→c share one soft slot of two members; b→c is its own hard slot.
	ab, _ := ix.FindEdge(id("a"), id("b"))
	ac, _ := ix.FindEdge(id("a"), id("c"))
	bc, _ := ix.FindEdge(id("b"), id("c"))
	db, _ := ix.FindEdge(id("d"), id("b"))
	if s := ix.EdgeSlot(ab); s != ix.EdgeSlot(ac) || ix.SlotSize(s) != 2 || !ix.SlotSoft(s) {
		t.Errorf("group slot: %d %d", ix.EdgeSlot(ab), ix.EdgeSlot(ac))
	}
	if ix.Dependency(bc) != graph.DepHard || ix.Dependency(db) != graph.DepNone || ix.Dependency(ab) != graph.DepSoft {
		t.Error("dependencies")
	}
	if ix.Source(bc) != id("b") {
		t.Errorf("source of b→c = %d", ix.Source(bc))
	}
	lo, hi := ix.In(id("c"))
	if hi-lo != 2 || ix.RevSource(lo) != id("a") || ix.RevSource(lo+1) != id("b") {
		t.Error("reverse list of c is not sorted by source")
	}
	if js := ix.Journeys(); len(js) != 1 || !reflect.DeepEqual(js[0].Steps[0].AnyOf, [][]int32{{id("b"), id("c")}}) {
		t.Errorf("journeys %+v", js)
	}
}

func TestIndexBinaryRoundTrip(t *testing.T) {
	ix := testutil.Index(t, ixTopo, ixJourneys)
	blob, err := ix.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	back, err := graph.UnmarshalIndex(append([]byte(nil), blob...))
	if err != nil {
		t.Fatal(err)
	}
	blob2, _ := back.MarshalBinary()
	if !bytes.Equal(blob, blob2) {
		t.Fatal("re-encoded index differs")
	}
	if !reflect.DeepEqual(back.Journeys(), ix.Journeys()) || back.MemoryBytes() != ix.MemoryBytes() {
		t.Error("decoded index differs")
	}
}

// Any damage to the blob is an ErrIndexFormat or a valid index; never a panic.
func TestIndexBlobCorruptionIsDetected(t *testing.T) {
	ix := testutil.Index(t, ixTopo, ixJourneys)
	blob, _ := ix.MarshalBinary()
	for i := range blob {
		for _, v := range []byte{0x00, 0xff, blob[i] ^ 0x10} {
			b := append([]byte(nil), blob...)
			b[i] = v
			if _, err := graph.UnmarshalIndex(b); err != nil && !errors.Is(err, graph.ErrIndexFormat) {
				t.Fatalf("byte %d = %#x: %v", i, v, err)
			}
		}
	}
	for n := 0; n < len(blob); n += 7 {
		if _, err := graph.UnmarshalIndex(blob[:n]); !errors.Is(err, graph.ErrIndexFormat) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
}

func FuzzUnmarshalIndex(f *testing.F) {
	ix := testutil.Index(f, ixTopo, ixJourneys)
	blob, _ := ix.MarshalBinary()
	f.Add(blob)
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := graph.UnmarshalIndex(b); err != nil && !errors.Is(err, graph.ErrIndexFormat) {
			t.Fatal(err)
		}
	})
}

// The workspace caches each revision's index at import; a damaged cache is
// rebuilt from the stored model.
func TestWorkspaceIndexCache(t *testing.T) {
	ctx := context.Background()
	ws, err := graph.Open(filepath.Join(t.TempDir(), "ws.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	m := testutil.Model(t, ixTopo, ixJourneys)
	rev, err := ws.Import(ctx, m, nil, graph.RevisionMeta{})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := testutil.Index(t, ixTopo, ixJourneys).MarshalBinary()
	got, err := ws.Index(ctx, rev)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := got.MarshalBinary(); !bytes.Equal(b, want) {
		t.Fatal("cached index differs from a fresh compile")
	}
	if _, err := ws.DB().ExecContext(ctx, `UPDATE index_cache SET data = x'00' WHERE rev = ?`, rev); err != nil {
		t.Fatal(err)
	}
	got, err = ws.Index(ctx, rev)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := got.MarshalBinary(); !bytes.Equal(b, want) {
		t.Fatal("index rebuilt from a damaged cache differs")
	}
}
