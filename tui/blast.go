package tui

import (
	"fmt"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/firebreak/firebreak/simulate"
)

// blastPane lists the nodes the compromise reaches with hop counts: crown
// jewels first and flagged, then the rest nearest first. The selected entry's attack path goes to
// the detail line. Mark keys work here too, on the selected entry's node, so
// a responder can quarantine straight from the blast radius.
type blastPane struct {
	common  Common
	out     *outcome
	rows    []blastRow
	crown   int
	cursor  int
	offset  int
	outer   size
	visible int
	innerW  int
	focused bool
}

func newBlastPane(c Common) blastPane { return blastPane{common: c} }

func (p blastPane) Init() tea.Cmd { return nil }

// SetSize sets the pane's outer size.
func (p blastPane) SetSize(w, h int) blastPane {
	p.outer = size{W: w, H: h}
	in := p.outer.inner(paneFrame(p.common.Styles))
	p.innerW, p.visible = in.W, in.H
	p.offset = window(p.cursor, p.offset, p.visible, len(p.rows))
	return p
}

// SetFocused marks the pane as the one receiving keys.
func (p blastPane) SetFocused(f bool) blastPane { p.focused = f; return p }

// SetOutcome shows a new result, keeping the same node selected if it is
// still reached.
func (p blastPane) SetOutcome(o *outcome) blastPane {
	var keep int32 = -1
	if sel, ok := p.Selected(); ok {
		keep = sel.node
	}
	p.out, p.rows, p.crown = o, nil, 0
	if o != nil {
		p.rows, p.crown = o.blast, o.crown
	}
	p.cursor = min(p.cursor, max(len(p.rows)-1, 0))
	for i, r := range p.rows {
		if r.node == keep {
			p.cursor = i
		}
	}
	p.offset = window(p.cursor, p.offset, p.visible, len(p.rows))
	return p
}

// Selected returns the selected entry.
func (p blastPane) Selected() (blastRow, bool) {
	if p.cursor < 0 || p.cursor >= len(p.rows) {
		return blastRow{}, false
	}
	return p.rows[p.cursor], true
}

// Detail is the selected entry's attack path.
func (p blastPane) Detail() string {
	if r, ok := p.Selected(); ok {
		return blastDetail(r, p.out)
	}
	return "nothing compromised yet"
}

func (p blastPane) Update(msg tea.Msg) (blastPane, tea.Cmd) {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return p, nil
	}
	k := p.common.Keys
	if c, ok := listNav(k.List, km, p.cursor, len(p.rows), p.visible); ok {
		p.cursor = c
		p.offset = window(p.cursor, p.offset, p.visible, len(p.rows))
		return p, nil
	}
	sel, ok := p.Selected()
	if !ok {
		return p, nil
	}
	if key.Matches(km, k.GoTo) {
		return p, func() tea.Msg { return selectNodeMsg{node: sel.id} }
	}
	return p, markCmd(k.Mark, km, sel.id)
}

func (p blastPane) View() string {
	s := p.common.Styles
	title := fmt.Sprintf("Blast radius %d", len(p.rows))
	if p.crown > 0 {
		title += fmt.Sprintf(" · %d CROWN JEWEL", p.crown)
		if p.crown > 1 {
			title += "S"
		}
		title += " REACHED"
	}
	var lines []string
	if len(p.rows) == 0 {
		lines = append(lines,
			s.Pane.Hint.Render(fit("nothing compromised", p.innerW)),
			s.Pane.Hint.Render(fit("press c on a node to mark it compromised", p.innerW)))
	}
	for i := p.offset; i < min(p.offset+p.visible, len(p.rows)); i++ {
		lines = append(lines, p.row(i))
	}
	return renderPane(s, title, p.crown > 0, p.focused, p.outer.W, p.outer.H, lines)
}

// crownTag marks a reached crown jewel in words, so it stands out without
// colour too.
const crownTag = " * CROWN JEWEL "

// row renders: cursor, hop count, node id, crown tag.
func (p blastPane) row(i int) string {
	s := p.common.Styles
	r := p.rows[i]
	cur := " "
	if i == p.cursor {
		cur = "›"
	}
	hops := fmt.Sprintf("%3d %7s  ", r.hops, "T+"+simulate.FormatSeconds(max(r.at, 0)))
	tag := ""
	if r.crown {
		tag = crownTag
		if p.innerW-1-len(hops)-len(tag) < 12 {
			tag = " *" // narrow: keep room for the id
		}
	}
	idW := max(p.innerW-1-len(hops)-len(tag), 1)
	id := fit(r.id, idW)
	if i == p.cursor {
		st := s.Pane.Blurred
		if p.focused {
			st = s.Pane.Selected
		}
		return st.Render(fit(cur+hops+id+tag, p.innerW))
	}
	out := cur + s.Blast.Hops.Render(hops) + s.Blast.Node.Render(id)
	if tag != "" {
		out += s.Blast.Crown.Render(clip(tag, p.innerW-1-len(hops)-idW))
	}
	return out
}

// KeyMap.

func (p blastPane) ShortHelp() []key.Binding {
	k := p.common.Keys
	return append([]key.Binding{relabel(k.GoTo, "find")}, k.Mark.short()...)
}

func (p blastPane) FullHelp() [][]key.Binding {
	k := p.common.Keys
	return [][]key.Binding{k.List.all(), append([]key.Binding{k.GoTo, k.Edges.Open}, k.Mark.all()...)}
}
