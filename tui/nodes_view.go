package tui

import (
	"fmt"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/x/ansi"

	"github.com/firebreak/firebreak/graph"
)

// View renders the visible window of the node list and, when a filter is
// open or kept, the filter line.
func (p nodesPane) View() string {
	s := p.common.Styles
	title := fmt.Sprintf("Nodes %d", len(p.nodes))
	if p.filtered != nil {
		title = fmt.Sprintf("Nodes %d of %d", len(p.filtered), len(p.nodes))
	}
	lines := make([]string, 0, p.rows+1)
	for i := p.offset; i < min(p.offset+p.rows, p.len()); i++ {
		lines = append(lines, p.row(i))
	}
	if p.len() == 0 {
		lines = append(lines, s.Pane.Hint.Render(fit("no node matches", p.innerW)))
	}
	if p.filterShown() {
		for len(lines) < p.rows {
			lines = append(lines, fit("", p.innerW))
		}
		if p.filtering {
			lines = append(lines, fit(p.input.View(), p.innerW))
		} else {
			lines = append(lines, s.Nodes.FilterInfo.Render(fit("/"+p.input.Value()+"  (esc clears)", p.innerW)))
		}
	}
	return renderPane(s, title, false, p.focused, p.outer.W, p.outer.H, lines)
}

// kindShort abbreviates kinds for the list column.
var kindShort = map[graph.Kind]string{
	graph.KindHost: "host", graph.KindService: "svc", graph.KindDatastore: "data",
	graph.KindGateway: "gw", graph.KindLB: "lb", graph.KindClient: "client",
	graph.KindSaaS: "saas", graph.KindNetwork: "net",
}

// row renders visible row i: cursor, marks (C F Q), state glyph (! reached,
// x down, ~ degraded), id (* for a crown jewel) and kind.
func (p nodesPane) row(i int) string {
	s := p.common.Styles
	pos := p.at(i)
	n := &p.nodes[pos]
	m := p.marks.mark(n.ID)
	markStr := ""
	for b, c := range "CFQ" {
		if m&(1<<b) != 0 {
			markStr += string(c)
		} else {
			markStr += "·"
		}
	}
	glyph, gst := " ", s.Pane.Item
	if p.out != nil && int(pos) < len(p.out.nodes) {
		switch f := p.out.nodes[pos].flags; {
		case f&stReached != 0:
			glyph, gst = "!", s.Nodes.Reached
		case f&stFailed != 0:
			glyph, gst = "x", s.Nodes.Down
		case f&stDegraded != 0:
			glyph, gst = "~", s.Nodes.Degraded
		}
	}
	cur := " "
	if i == p.cursor {
		cur = "›"
	}
	kind := ""
	kindW := 0
	if p.innerW >= 26 {
		kind, kindW = kindShort[n.Kind], 7
	}
	crown := ""
	if n.CrownJewel {
		crown = "*"
	}
	idW := max(p.innerW-7-kindW-len(crown), 1)
	id := clip(n.ID, idW)
	pad := fit("", idW-ansi.StringWidth(id))
	if i == p.cursor {
		st := s.Pane.Blurred
		if p.focused {
			st = s.Pane.Selected
		}
		line := cur + markStr + " " + glyph + " " + id + crown + pad
		if kindW > 0 {
			line += " " + fit(kind, kindW-1)
		}
		return st.Render(fit(line, p.innerW))
	}
	out := cur + s.Nodes.Marks.Render(markStr) + " " + gst.Render(glyph) + " " + s.Pane.Item.Render(id)
	if crown != "" {
		out += s.Nodes.Crown.Render(crown)
	}
	out += pad
	if kindW > 0 {
		out += " " + s.Nodes.Kind.Render(fit(kind, kindW-1))
	}
	return out
}

// KeyMap. While the filter has focus only the filter keys apply.

func (p nodesPane) ShortHelp() []key.Binding {
	k := p.common.Keys
	if p.filtering {
		move := k.Filter.Up
		move.SetHelp("↑/↓", "move")
		return []key.Binding{k.Filter.Accept, relabel(k.Filter.Cancel, "cancel"), move}
	}
	// The one-line help has room for eight keys at 80 columns: x (clear)
	// gives way to e (edges); ? lists both.
	marks := k.Mark.short()
	return []key.Binding{k.Filter.Start, marks[0], marks[1], marks[2], relabel(k.Edges.Open, "edges")}
}

func (p nodesPane) FullHelp() [][]key.Binding {
	k := p.common.Keys
	return [][]key.Binding{
		k.List.all(),
		{k.Filter.Start, k.Filter.Accept, k.Filter.Cancel, k.Edges.Open},
		k.Mark.all(),
	}
}
