package tui

import (
	"fmt"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/firebreak/firebreak/graph"
	"github.com/firebreak/firebreak/internal/testutil"
	"github.com/firebreak/firebreak/simulate"
)

// provenance is a fixture whose nodes and edges carry sources and observed
// traffic, as an import of several formats leaves them:
//
//	gateway ─443→ checkout ─8443→ payments ─5432→ orders-db (crown jewel)
//	                       ─5432→ orders-db
//	                       ─soft, group notify→ mailer
//	island stands alone
const provenanceTopology = `
	apiVersion: firebreak/v1
	kind: Topology
	nodes:
	  - {id: gateway, kind: gateway, sources: ["k8s:ingress.yaml"]}
	  - {id: checkout, kind: service, name: Checkout service, sources: ["jaeger:deps.json", "k8s:deploy.yaml"]}
	  - {id: payments, kind: service, sources: ["jaeger:deps.json"]}
	  - {id: orders-db, kind: datastore, crown_jewel: true, sources: ["otel:servicegraph.prom"]}
	  - {id: mailer, kind: saas}
	  - {id: island, kind: host}
	edges:
	  - from: gateway
	    to: checkout
	    ports: ["443/tcp"]
	    observed: {count: 48210, bytes: 912000000, first_seen: 1714953600, last_seen: 1715040000}
	    sources: ["k8s:ingress.yaml", "vpcflow:flows-2024-05-06.log"]
	  - from: checkout
	    to: payments
	    ports: ["8443/tcp"]
	    observed: {count: 1225}
	    sources: ["jaeger:deps.json"]
	  - from: checkout
	    to: orders-db
	    ports: ["5432/tcp"]
	    observed: {count: 900, first_seen: 1714953660, last_seen: 1714953660}
	    sources: ["otel:servicegraph.prom", "vpcflow:flows-2024-05-06.log"]
	  - {from: checkout, to: mailer, dependency: soft, group: notify, sources: ["otel:servicegraph.prom"]}
	  - {from: payments, to: orders-db, ports: ["5432/tcp"]}
`

func newProvenance(t testing.TB) Model {
	t.Helper()
	m := New(Session{Title: "test: provenance", Model: testutil.Model(t, provenanceTopology)}, Options{})
	if m.err != nil {
		t.Fatalf("New: %v", m.err)
	}
	return update(t, m, sizeMsg(size{80, 24}))
}

// edgePeers lists the view's rows as "→peer" (outgoing) and "←peer".
func edgePeers(m Model) []string {
	var out []string
	for i := range m.edges.len() {
		r := m.edges.row(i)
		dir := "←"
		if r.out {
			dir = "→"
		}
		out = append(out, dir+r.peer)
	}
	return out
}

func TestEdgesViewShowsProvenance(t *testing.T) {
	m := update(t, pick(t, newProvenance(t), "checkout"), keys("e")...)
	equal(t, "open", m.showEdges, true)
	equal(t, "rows", edgePeers(m), []string{"→mailer", "→orders-db", "→payments", "←gateway"})
	label, text := m.detail()
	equal(t, "first edge", label+": "+text, "edge: checkout → mailer · any port · soft dependency · group notify · not observed · sources: otel:servicegraph.prom")

	m = update(t, m, keyDown)
	_, text = m.detail()
	equal(t, "observed edge", text, "checkout → orders-db · ports 5432/tcp · hard dependency · observed count 900 · first 2024-05-06 00:01 UTC · last 2024-05-06 00:01 UTC · sources: otel:servicegraph.prom, vpcflow:flows-2024-05-06.log")
	m = update(t, m, keys("G")...)
	_, text = m.detail()
	equal(t, "incoming edge", text, "gateway → checkout · ports 443/tcp · hard dependency · observed count 48,210 · 912,000,000 bytes · first 2024-05-06 00:00 UTC · last 2024-05-07 00:00 UTC · sources: k8s:ingress.yaml, vpcflow:flows-2024-05-06.log")

	v := m.View()
	for _, want := range []string{
		"Edges of checkout · 3 out · 1 in",
		"← gateway", "443/tcp", "48.2k", "k8s+vpcflow", // the selected row, with its columns
		"sources: k8s:ingress.yaml, vpcflow:flows-2024-05-06.log", // the block under the list
		"↑/↓ move  enter follow  esc/e back  ? keys  q quit",
	} {
		if !strings.Contains(v, want) {
			t.Errorf("edges view lacks %q:\n%s", want, v)
		}
	}
}

func TestEdgesViewFollowAndBack(t *testing.T) {
	m := update(t, pick(t, newProvenance(t), "checkout"), keys("e")...)
	m = update(t, m, keys("jj")...) // payments
	m = update(t, m, keyEnter)
	equal(t, "followed", [2]any{m.showEdges, m.edges.Subject()}, [2]any{true, "payments"})
	equal(t, "rows", edgePeers(m), []string{"→orders-db", "←checkout"})
	equal(t, "node list follows", strings.Fields(m.nodes.Detail())[0], "payments")
	m = update(t, m, keyEsc)
	equal(t, "closed", [2]any{m.showEdges, m.focus}, [2]any{false, paneNodes})
	label, _ := m.detail()
	equal(t, "detail", label, "node")
	// e toggles the view too, and it reopens on the selected node.
	m = update(t, m, keys("e")...)
	equal(t, "reopened", [2]any{m.showEdges, m.edges.Subject()}, [2]any{true, "payments"})
	m = update(t, m, keys("e")...)
	equal(t, "e closes", m.showEdges, false)

	// From the blast radius: the selected entry's edges; back returns there.
	m = update(t, pick(t, m, "gateway"), keys("c")...)
	m = update(t, m, keyTab, keyTab)
	sel, _ := m.blast.Selected()
	m = update(t, m, keys("e")...)
	equal(t, "from blast", [2]any{m.showEdges, m.edges.Subject()}, [2]any{true, sel.id})
	m = update(t, m, keyEsc)
	equal(t, "back to blast", [2]any{m.showEdges, m.focus}, [2]any{false, paneBlast})
}

func TestEdgesViewKeys(t *testing.T) {
	m := update(t, pick(t, newProvenance(t), "checkout"), keys("e")...)
	// Marks, tab and the filter do nothing while the view is open.
	m = update(t, m, cat(keys("cfixX/"), one(keyTab))...)
	equal(t, "scenario", m.scenario.sim(), simulate.Scenario{Timed: true})
	equal(t, "still open", [3]any{m.showEdges, m.focus, m.nodes.Filtering()}, [3]any{true, paneNodes, false})
	// Help explains the view, and closing it returns to the view.
	m = update(t, m, keys("?")...)
	if v := m.View(); !strings.Contains(v, "Edges view") || !strings.Contains(v, "follow edge to its peer") {
		t.Errorf("help from the edges view:\n%s", v)
	}
	m = update(t, m, keyEsc)
	equal(t, "help closed, view kept", [2]any{m.showHelp, m.showEdges}, [2]any{false, true})
	_, quit := updateQuit(t, m, keys("q")...)
	equal(t, "q quits", quit, true)

	// A node without edges says so.
	m = update(t, pick(t, update(t, m, keyEsc), "island"), keys("e")...)
	_, text := m.detail()
	equal(t, "no edges", text, "island has no edges")
	if !strings.Contains(m.View(), "no edges: nothing connects to this node") {
		t.Errorf("empty edges view:\n%s", m.View())
	}
	m = update(t, m, keyDown, keyEnter) // nothing to move to or follow
	equal(t, "subject", m.edges.Subject(), "island")
}

// hubModel is a node with out outgoing and in incoming edges.
func hubModel(tb testing.TB, out, in int) *graph.Model {
	tb.Helper()
	gm := &graph.Model{Nodes: []graph.Node{{ID: "hub", Kind: graph.KindService}}}
	for i := range out + in {
		id := fmt.Sprintf("leaf-%05d", i)
		gm.Nodes = append(gm.Nodes, graph.Node{ID: id, Kind: graph.KindHost})
		e := graph.Edge{From: "hub", To: id, Observed: &graph.Observed{Count: uint64(i)}, Sources: []string{"vpcflow:big.log"}}
		if i >= out {
			e.From, e.To = id, "hub"
		}
		gm.Edges = append(gm.Edges, e)
	}
	gm.Sort()
	return gm
}

func TestEdgesViewThousandsOfEdges(t *testing.T) {
	m := New(Session{Title: "hub", Model: hubModel(t, 3000, 2000)}, Options{})
	m = update(t, m, sizeMsg(size{80, 24}))
	m = update(t, m, keys("e")...) // hub is the first node
	equal(t, "counts", [3]int{m.edges.nOut, m.edges.nIn, m.edges.len()}, [3]int{3000, 2000, 5000})
	m = update(t, m, keys("G")...)
	_, text := m.detail()
	equal(t, "last row", text, "leaf-04999 → hub · any port · hard dependency · observed count 4,999 · sources: vpcflow:big.log")
	m = update(t, m, tea.KeyMsg{Type: tea.KeyPgUp})
	if r, _ := m.edges.Selected(); r.out || r.peer != fmt.Sprintf("leaf-%05d", 4999-(m.edges.rows-1)) {
		t.Errorf("page up selected %+v", r)
	}
	// Only the visible rows are drawn.
	if n := strings.Count(m.View(), "leaf-"); n > m.edges.rows+2 {
		t.Errorf("%d rows drawn for a window of %d", n, m.edges.rows)
	}
}

// The edges view fills the terminal exactly at every size, like the rest.
func TestEdgesViewFillsTerminal(t *testing.T) {
	base := update(t, pick(t, newProvenance(t), "checkout"), keys("e")...)
	for _, s := range []size{{80, 24}, {120, 40}, {40, 12}, {300, 100}, {40, 10}, {55, 16}} {
		m := update(t, base, sizeMsg(s))
		lines := strings.Split(m.View(), "\n")
		if len(lines) != s.H {
			t.Errorf("%dx%d: %d lines", s.W, s.H, len(lines))
		}
		for i, l := range lines[:len(lines)-1] {
			if w := ansi.StringWidth(l); w != s.W {
				t.Errorf("%dx%d: line %d is %d wide: %q", s.W, s.H, i, w, l)
			}
		}
		if !strings.Contains(m.View(), "checkout") {
			t.Errorf("%dx%d: the subject is not shown", s.W, s.H)
		}
	}
}

func TestGoldenEdges(t *testing.T) {
	tm := startDemo(t)
	waitFor(t, tm, "press c on a node")
	typeKeys(tm, cat(keys("/checkout-svc"), one(keyEnter), keys("ejj"))...)
	waitFor(t, tm, "Edges of checkout-svc")
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	testutil.Golden(t, []byte(final(t, tm).View()))
}

func TestGoldenEdgesProvenance(t *testing.T) {
	sess := Session{Title: "test: provenance", Model: testutil.Model(t, provenanceTopology)}
	tm := teatest.NewTestModel(t, New(sess, Options{}), teatest.WithInitialTermSize(80, 24))
	waitFor(t, tm, "press c on a node")
	typeKeys(tm, cat(keys("/checkout"), one(keyEnter), keys("eG"))...)
	waitFor(t, tm, "vpcflow:flows")
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	testutil.Golden(t, []byte(final(t, tm).View()))
}

// A responder checks where a crown jewel's traffic comes from, follows the
// edge to the caller and quarantines it.
func TestFlowFollowEdgeAndQuarantine(t *testing.T) {
	sess := Session{Title: "test: provenance", Model: testutil.Model(t, provenanceTopology)}
	tm := teatest.NewTestModel(t, New(sess, Options{}), teatest.WithInitialTermSize(80, 24))
	waitFor(t, tm, "press c on a node")
	typeKeys(tm, cat(keys("/orders-db"), one(keyEnter), keys("e"))...)
	waitFor(t, tm, "Edges of orders-db")
	typeKeys(tm, keyEnter) // the first incoming edge: checkout
	waitFor(t, tm, "Edges of checkout")
	typeKeys(tm, keyEsc)
	waitFor(t, tm, " node checkout")
	typeKeys(tm, keys("i")...)
	waitFor(t, tm, "1 quarantined")
	typeKeys(tm, keyCtrlC)

	m := final(t, tm)
	equal(t, "scenario", m.scenario.sim(), simulate.Scenario{Quarantined: []string{"checkout"}, Timed: true})
	equal(t, "view", m.showEdges, false)
}

func BenchmarkEdgesView(b *testing.B) {
	m := New(Session{Title: "hub", Model: hubModel(b, 60_000, 40_000)}, Options{})
	m = update(b, m, sizeMsg(size{120, 40}))
	m = update(b, m, keys("e")...)
	down := tea.KeyMsg{Type: tea.KeyPgDown}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		next, _ := m.Update(down)
		m = next.(Model)
		_ = m.View()
	}
}
