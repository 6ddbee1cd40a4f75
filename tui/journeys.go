package tui

import (
	"fmt"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/firebreak/firebreak/simulate"
)

// journeysPane is the journeys board: every journey with its status, the
// exposed flag and the cause, worst first. The selected journey's full cause
// goes to the detail line.
type journeysPane struct {
	common  Common
	rows    []journeyRow
	idW     int // widest journey id
	cursor  int
	offset  int
	outer   size
	visible int
	innerW  int
	focused bool
}

func newJourneysPane(c Common) journeysPane { return journeysPane{common: c} }

func (p journeysPane) Init() tea.Cmd { return nil }

// SetSize sets the pane's outer size.
func (p journeysPane) SetSize(w, h int) journeysPane {
	p.outer = size{W: w, H: h}
	in := p.outer.inner(paneFrame(p.common.Styles))
	p.innerW, p.visible = in.W, in.H
	p.offset = window(p.cursor, p.offset, p.visible, len(p.rows))
	return p
}

// SetFocused marks the pane as the one receiving keys.
func (p journeysPane) SetFocused(f bool) journeysPane { p.focused = f; return p }

// SetOutcome shows a new result, keeping the same journey selected.
func (p journeysPane) SetOutcome(o *outcome) journeysPane {
	var keep string
	if sel, ok := p.Selected(); ok {
		keep = sel.j.ID
	}
	p.rows = nil
	if o != nil {
		p.rows = o.journeys
	}
	p.cursor, p.idW = 0, 0
	for i, r := range p.rows {
		if r.j.ID == keep {
			p.cursor = i
		}
		p.idW = max(p.idW, len([]rune(r.j.ID)))
	}
	p.offset = window(p.cursor, p.offset, p.visible, len(p.rows))
	return p
}

// Selected returns the selected journey's row.
func (p journeysPane) Selected() (journeyRow, bool) {
	if p.cursor < 0 || p.cursor >= len(p.rows) {
		return journeyRow{}, false
	}
	return p.rows[p.cursor], true
}

// Detail is the selected journey's detail line.
func (p journeysPane) Detail() string {
	if r, ok := p.Selected(); ok {
		return journeyDetail(r)
	}
	return ""
}

func (p journeysPane) Update(msg tea.Msg) (journeysPane, tea.Cmd) {
	if msg, ok := msg.(tea.KeyMsg); ok {
		if c, ok := listNav(p.common.Keys.List, msg, p.cursor, len(p.rows), p.visible); ok {
			p.cursor = c
			p.offset = window(p.cursor, p.offset, p.visible, len(p.rows))
		}
	}
	return p, nil
}

func (p journeysPane) View() string {
	s := p.common.Styles
	var broken, degraded, exposed int
	for _, r := range p.rows {
		switch r.status {
		case simulate.StatusBroken:
			broken++
		case simulate.StatusDegraded:
			degraded++
		}
		if r.exposed {
			exposed++
		}
	}
	title := fmt.Sprintf("Journeys %d", len(p.rows))
	for _, c := range []struct {
		n    int
		word string
	}{{broken, "broken"}, {degraded, "degraded"}, {exposed, "exposed"}} {
		if c.n > 0 {
			title += fmt.Sprintf(" · %d %s", c.n, c.word)
		}
	}
	var lines []string
	if len(p.rows) == 0 {
		lines = append(lines, s.Pane.Hint.Render(fit("no journeys: import a journeys map", p.innerW)))
	}
	for i := p.offset; i < min(p.offset+p.visible, len(p.rows)); i++ {
		lines = append(lines, p.row(i))
	}
	return renderPane(s, title, false, p.focused, p.outer.W, p.outer.H, lines)
}

// statusWord is the status column: upper case when something is wrong, so
// it stands out without colour.
func statusWord(st simulate.Status) string {
	switch st {
	case simulate.StatusBroken:
		return "BROKEN"
	case simulate.StatusDegraded:
		return "DEGRADED"
	}
	return "ok"
}

// row renders: cursor, status, exposed flag, id, cause. The name is in the
// detail line; ids are shorter and leave room for the cause.
func (p journeysPane) row(i int) string {
	s := p.common.Styles
	r := p.rows[i]
	cur := " "
	if i == p.cursor {
		cur = "›"
	}
	word := fit(statusWord(r.status), 8)
	exp := "   "
	if r.exposed {
		exp = "EXP"
	}
	rest := max(p.innerW-14, 1) // cursor, status, flag and spaces take 14
	nameW := min(p.idW, max(rest/2, 8), rest)
	name := fit(r.j.ID, nameW)
	cause := ""
	if w := rest - nameW - 1; w > 0 {
		cause = " " + fit(r.cause, w)
	} else {
		name = fit(r.j.ID, rest)
	}
	if i == p.cursor {
		st := s.Pane.Blurred
		if p.focused {
			st = s.Pane.Selected
		}
		return st.Render(fit(cur+word+" "+exp+" "+name+cause, p.innerW))
	}
	ws := s.Journeys.OK
	switch r.status {
	case simulate.StatusBroken:
		ws = s.Journeys.Broken
	case simulate.StatusDegraded:
		ws = s.Journeys.Degraded
	}
	return fit(cur, 1) + ws.Render(word) + " " + s.Journeys.Exposed.Render(exp) + " " +
		s.Journeys.Name.Render(name) + s.Journeys.Cause.Render(cause)
}

// KeyMap.

func (p journeysPane) ShortHelp() []key.Binding {
	k := p.common.Keys.List
	return []key.Binding{k.Up, k.Down}
}

func (p journeysPane) FullHelp() [][]key.Binding {
	return [][]key.Binding{p.common.Keys.List.all()}
}
