package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/firebreak/firebreak/graph"
)

// edgesPane is the edges view of one node, opened over the body with e: its
// outgoing edges, then its incoming ones, each with the peer, ports,
// dependency, group, observed calls and the formats that reported it. The
// selected edge's facts and full provenance fill the block under the list
// and the detail line. Rows are looked up in the compiled index when they
// are drawn, so a node with thousands of edges costs only its visible rows.
type edgesPane struct {
	common Common
	model  *graph.Model // the session's, read-only
	ix     *graph.Index // adjacency; nil when the model did not compile

	node      int32 // the subject's dense id, -1 before Open
	outLo     uint32
	inLo      uint32
	nOut, nIn int
	cursor    int
	offset    int

	outer  size
	innerW int
	rows   int // list rows that fit
	info   int // lines of the selected edge's block
}

// edgeRow is one edge as seen from the subject.
type edgeRow struct {
	peer string
	out  bool        // subject -> peer
	e    *graph.Edge // nil only if the index and the model disagree
}

func newEdgesPane(c Common, m *graph.Model) edgesPane {
	return edgesPane{common: c, model: m, node: -1}
}

// SetIndex gives the pane the compiled adjacency of the model.
func (p edgesPane) SetIndex(ix *graph.Index) edgesPane { p.ix = ix; return p }

func (p edgesPane) Init() tea.Cmd { return nil }

// Open shows the edges of node id; it reports false when there is no index
// or no such node.
func (p edgesPane) Open(id string) (edgesPane, bool) {
	if p.ix == nil || p.model == nil {
		return p, false
	}
	d, ok := p.ix.Lookup(id)
	if !ok {
		return p, false
	}
	if d != p.node {
		p.cursor, p.offset = 0, 0
	}
	p.node = d
	lo, hi := p.ix.Out(d)
	p.outLo, p.nOut = lo, int(hi-lo)
	lo, hi = p.ix.In(d)
	p.inLo, p.nIn = lo, int(hi-lo)
	return p.move(p.cursor), true
}

// Subject is the id of the node whose edges are shown.
func (p edgesPane) Subject() string {
	if p.node < 0 {
		return ""
	}
	return p.ix.ID(p.node)
}

func (p edgesPane) len() int { return p.nOut + p.nIn }

// row looks up row i: outgoing edges first, in target order, then incoming
// ones in source order.
func (p edgesPane) row(i int) edgeRow {
	self := p.ix.ID(p.node)
	if i < p.nOut {
		peer := p.ix.ID(p.ix.Target(p.outLo + uint32(i)))
		e, _ := p.model.EdgeByKey(graph.EdgeKey{From: self, To: peer})
		return edgeRow{peer: peer, out: true, e: e}
	}
	peer := p.ix.ID(p.ix.RevSource(p.inLo + uint32(i-p.nOut)))
	e, _ := p.model.EdgeByKey(graph.EdgeKey{From: peer, To: self})
	return edgeRow{peer: peer, e: e}
}

// Selected returns the selected edge.
func (p edgesPane) Selected() (edgeRow, bool) {
	if p.node < 0 || p.cursor >= p.len() {
		return edgeRow{}, false
	}
	return p.row(p.cursor), true
}

// Detail is the selected edge in full, provenance included.
func (p edgesPane) Detail() string {
	r, ok := p.Selected()
	switch {
	case p.node < 0:
		return ""
	case !ok:
		return p.Subject() + " has no edges"
	case r.e == nil:
		return r.peer + ": not in the model"
	}
	return edgeDetail(r.e)
}

// SetSize sets the pane's outer size: a header row, the list, and under a
// rule the selected edge's block when there is room for it.
func (p edgesPane) SetSize(w, h int) edgesPane {
	p.outer = size{W: w, H: h}
	in := p.outer.inner(paneFrame(p.common.Styles))
	p.innerW = in.W
	switch {
	case in.H >= 14:
		p.info = 4
	case in.H >= 8:
		p.info = 2
	default:
		p.info = 0
	}
	p.rows = in.H - 1
	if p.info > 0 {
		p.rows -= 1 + p.info
	}
	p.rows = max(p.rows, 0)
	return p.move(p.cursor)
}

func (p edgesPane) move(c int) edgesPane {
	p.cursor = max(0, min(c, p.len()-1))
	p.offset = window(p.cursor, p.offset, p.rows, p.len())
	return p
}

// Update moves the selection; Follow asks the root to show the selected
// edge's peer (the node list selects it and the view follows). Back is the
// root's: it closes the view.
func (p edgesPane) Update(msg tea.Msg) (edgesPane, tea.Cmd) {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return p, nil
	}
	k := p.common.Keys
	if c, ok := listNav(k.List, km, p.cursor, p.len(), p.rows); ok {
		return p.move(c), nil
	}
	if r, ok := p.Selected(); ok && key.Matches(km, k.Edges.Follow) {
		return p, func() tea.Msg { return selectNodeMsg{node: r.peer} }
	}
	return p, nil
}

// edgeCols are the widths of the optional columns; 0 hides one.
type edgeCols struct{ peer, ports, group, calls, src int }

func edgeColumns(w int) edgeCols {
	const dep = 1 + 4
	switch {
	case w >= 70:
		c := edgeCols{ports: 12, group: 8, calls: 7, src: 16}
		c.peer = w - 3 - dep - (c.ports + 1) - (c.group + 1) - (c.calls + 1) - (c.src + 1)
		return c
	case w >= 50:
		c := edgeCols{ports: 10, calls: 7}
		c.peer = w - 3 - dep - (c.ports + 1) - (c.calls + 1)
		return c
	}
	c := edgeCols{calls: 6}
	c.peer = max(w-3-dep-(c.calls+1), 1)
	return c
}

// cells lays a row out: cursor, direction, peer, then the columns that fit.
func (c edgeCols) cells(cur, dir, peer, ports, dep, group, calls, src string) string {
	s := cur + dir + " " + fit(peer, c.peer) + " " + fit(dep, 4)
	if c.ports > 0 {
		s += " " + fit(ports, c.ports)
	}
	if c.group > 0 {
		s += " " + fit(group, c.group)
	}
	s += " " + fit(fmt.Sprintf("%*s", c.calls, calls), c.calls)
	if c.src > 0 {
		s += " " + fit(src, c.src)
	}
	return s
}

func (p edgesPane) View() string {
	s := p.common.Styles
	title := "Edges"
	if id := p.Subject(); id != "" {
		title = fmt.Sprintf("Edges of %s · %d out · %d in", id, p.nOut, p.nIn)
	}
	cols := edgeColumns(p.innerW)
	lines := make([]string, 0, p.rows+p.info+2)
	lines = append(lines, s.Edges.Header.Render(fit(cols.cells(" ", " ", "peer", "ports", "dep", "group", "calls", "sources"), p.innerW)))
	if p.len() == 0 {
		lines = append(lines, s.Pane.Hint.Render(fit("no edges: nothing connects to this node", p.innerW)))
	}
	for i := p.offset; i < min(p.offset+p.rows, p.len()); i++ {
		lines = append(lines, p.rowView(i, cols))
	}
	if p.info > 0 {
		for len(lines) < 1+p.rows {
			lines = append(lines, fit("", p.innerW))
		}
		lines = append(lines, s.Edges.Rule.Render(strings.Repeat("─", max(p.innerW, 0))))
		var facts []string
		if r, ok := p.Selected(); ok && r.e != nil {
			facts = edgeFacts(r.e)
		}
		for _, l := range wrapLines(facts, p.innerW, p.info) {
			lines = append(lines, s.Edges.Info.Render(fit(l, p.innerW)))
		}
	}
	return renderPane(s, title, false, true, p.outer.W, p.outer.H, lines)
}

func (p edgesPane) rowView(i int, cols edgeCols) string {
	s := p.common.Styles
	r := p.row(i)
	dir := "←"
	if r.out {
		dir = "→"
	}
	ports, dep, group, calls, src := "", "", "", "", ""
	if e := r.e; e != nil {
		ports, dep, group, src = portList(e.Ports), e.Dependency.String(), e.Group, sourceFormats(e.Sources)
		if e.Observed != nil {
			calls = compactCount(e.Observed.Count)
		}
	}
	cur := " "
	if i == p.cursor {
		cur = "›"
		return s.Pane.Selected.Render(fit(cols.cells(cur, dir, r.peer, ports, dep, group, calls, src), p.innerW))
	}
	return s.Pane.Item.Render(fit(cols.cells(cur, dir, r.peer, ports, dep, group, calls, src), p.innerW))
}

// wrapLines word-wraps paragraphs to w cells and keeps at most n lines,
// marking a cut with an ellipsis.
func wrapLines(paras []string, w, n int) []string {
	var out []string
	for _, para := range paras {
		out = append(out, strings.Split(ansi.Wrap(para, max(w, 1), " "), "\n")...)
	}
	if len(out) > n {
		out = out[:n]
		if last := out[n-1]; ansi.StringWidth(last)+2 <= w {
			out[n-1] = last + " …"
		} else {
			out[n-1] = ansi.Truncate(last, max(w-1, 0), "") + "…"
		}
	}
	return out
}

// KeyMap.

func (p edgesPane) ShortHelp() []key.Binding {
	k := p.common.Keys
	move := k.List.Down
	move.SetHelp("↑/↓", "move")
	return []key.Binding{move, relabel(k.Edges.Follow, "follow"), k.Edges.Back}
}

func (p edgesPane) FullHelp() [][]key.Binding {
	k := p.common.Keys
	return [][]key.Binding{k.List.all(), {k.Edges.Follow, k.Edges.Back}}
}
