package tui

import (
	"errors"
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/firebreak/firebreak/simulate"
)

// pane identifies a pane for focus.
type pane int

const (
	paneNodes pane = iota
	paneJourneys
	paneBlast
	paneCount
)

// Model is the root model. It routes messages, owns the scenario and the
// simulation runs, handles global keys and lays the panes out; the panes
// do the rest.
type Model struct {
	common Common
	title  string
	engine *simulate.Engine

	layout     layout
	focus      pane
	showHelp   bool
	helpOffset int // help screen scroll, when it is taller than the body
	help       help.Model
	showEdges  bool // the edges view covers the body

	scenario scenario
	run      int  // id of the latest run started; older results are dropped
	pending  bool // the latest run has not reported yet
	out      *outcome
	err      error

	nodes    nodesPane
	journeys journeysPane
	blast    blastPane
	edges    edgesPane
}

// Init implements tea.Model. The empty scenario's result is computed in
// New, so there is nothing to start.
func (m Model) Init() tea.Cmd { return nil }

// Update implements tea.Model.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		return m.resize(msg.Width, msg.Height), nil
	case tea.KeyMsg:
		return m.handleKey(msg)
	case markMsg:
		m.scenario = m.scenario.apply(msg)
		return m.startRun()
	case resetMsg:
		m.scenario = scenario{}
		return m.startRun()
	case selectNodeMsg:
		if m.showEdges {
			// Following an edge: the view and the node list move to the
			// peer; focus stays where the view was opened from.
			m.edges, _ = m.edges.Open(msg.node)
		} else {
			m = m.setFocus(paneNodes)
		}
		var cmd tea.Cmd
		m.nodes, cmd = m.nodes.Update(msg)
		return m, cmd
	case simResultMsg:
		if msg.run != m.run {
			return m, nil // a newer run is on its way
		}
		m.pending, m.err = false, nil
		return m.setOutcome(msg.out), nil
	case errMsg:
		if msg.run != 0 && msg.run != m.run {
			return m, nil
		}
		m.pending, m.err = false, msg.err
		return m, nil
	}
	return m, nil
}

func (m Model) handleKey(msg tea.KeyMsg) (Model, tea.Cmd) {
	g, k := m.common.Keys.Global, m.common.Keys
	if msg.Type == tea.KeyRunes && !m.nodes.Filtering() {
		if msg.Paste {
			return m, nil // pasted text is only ever filter text, never actions
		}
		if len(msg.Runes) > 1 {
			return m.splitKeys(msg)
		}
	}
	switch {
	case key.Matches(msg, g.Interrupt):
		return m, tea.Quit
	case m.showHelp:
		switch {
		case key.Matches(msg, g.CloseHelp):
			m.showHelp, m.helpOffset = false, 0
		case key.Matches(msg, k.List.Up):
			m.helpOffset = max(m.helpOffset-1, 0)
		case key.Matches(msg, k.List.Down):
			l := m.layout
			m.helpOffset = min(m.helpOffset+1, max(len(helpLines(m.common.Styles, k, m.showEdges, l.Width, l.Body))-l.Body, 0))
		}
		return m, nil
	case m.showEdges:
		return m.edgesKey(msg)
	case m.nodes.Filtering():
		// Every key belongs to the filter input: nothing global fires.
		return m.routeKey(msg)
	case key.Matches(msg, g.Quit):
		return m, tea.Quit
	case key.Matches(msg, g.Help):
		m.showHelp = true
		return m, nil
	case key.Matches(msg, g.NextPane):
		return m.setFocus((m.focus + 1) % paneCount), nil
	case key.Matches(msg, g.PrevPane):
		return m.setFocus((m.focus + paneCount - 1) % paneCount), nil
	case key.Matches(msg, g.Reset):
		return m, func() tea.Msg { return resetMsg{} }
	case key.Matches(msg, k.Filter.Start) && m.focus != paneNodes:
		m = m.setFocus(paneNodes)
	case key.Matches(msg, k.Edges.Open):
		return m.openEdges(), nil
	}
	return m.routeKey(msg)
}

// openEdges shows the edges of the node selected in the focused pane.
func (m Model) openEdges() Model {
	var id string
	switch m.focus {
	case paneNodes:
		if n, ok := m.nodes.Selected(); ok {
			id = n.ID
		}
	case paneBlast:
		if r, ok := m.blast.Selected(); ok {
			id = r.id
		}
	}
	var ok bool
	if m.edges, ok = m.edges.Open(id); ok {
		m.showEdges = true
	}
	return m
}

// edgesKey handles a key while the edges view is open: quit and help stay
// global, Back closes the view, the rest is the view's.
func (m Model) edgesKey(msg tea.KeyMsg) (Model, tea.Cmd) {
	g := m.common.Keys.Global
	switch {
	case key.Matches(msg, g.Quit):
		return m, tea.Quit
	case key.Matches(msg, g.Help):
		m.showHelp = true
		return m, nil
	case key.Matches(msg, m.common.Keys.Edges.Back):
		m.showEdges = false
		return m, nil
	}
	var cmd tea.Cmd
	m.edges, cmd = m.edges.Update(msg)
	return m, cmd
}

// splitKeys handles runes that arrived together (fast typing, a slow SSH
// link) as separate key presses, in order. Once one of them opens the
// filter, the rest is typed into it.
func (m Model) splitKeys(msg tea.KeyMsg) (Model, tea.Cmd) {
	var cmds []tea.Cmd
	for i, r := range msg.Runes {
		var cmd tea.Cmd
		m, cmd = m.handleKey(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: msg.Alt})
		cmds = append(cmds, cmd)
		if rest := msg.Runes[i+1:]; m.nodes.Filtering() && len(rest) > 0 {
			m, cmd = m.handleKey(tea.KeyMsg{Type: tea.KeyRunes, Runes: rest})
			cmds = append(cmds, cmd)
			break
		}
	}
	return m, tea.Sequence(cmds...)
}

// routeKey hands a key to the focused pane.
func (m Model) routeKey(msg tea.KeyMsg) (Model, tea.Cmd) {
	var cmd tea.Cmd
	switch m.focus {
	case paneNodes:
		m.nodes, cmd = m.nodes.Update(msg)
	case paneJourneys:
		m.journeys, cmd = m.journeys.Update(msg)
	case paneBlast:
		m.blast, cmd = m.blast.Update(msg)
	}
	return m, cmd
}

// startRun simulates the current scenario as a new run. The command gets a
// snapshot of the scenario, never the model.
func (m Model) startRun() (Model, tea.Cmd) {
	m.nodes = m.nodes.SetScenario(m.scenario)
	if m.engine == nil {
		m.err = errors.New("no simulation engine: the session has no model")
		return m, nil
	}
	m.run++
	m.pending = true
	return m, simulateCmd(m.engine, m.run, m.scenario.sim())
}

func (m Model) setOutcome(o *outcome) Model {
	m.out = o
	m.nodes = m.nodes.SetOutcome(o)
	m.journeys = m.journeys.SetOutcome(o)
	m.blast = m.blast.SetOutcome(o)
	return m
}

func (m Model) setFocus(p pane) Model {
	m.focus = p
	m.nodes = m.nodes.SetFocused(p == paneNodes)
	m.journeys = m.journeys.SetFocused(p == paneJourneys)
	m.blast = m.blast.SetFocused(p == paneBlast)
	return m
}

func (m Model) resize(w, h int) Model {
	m.layout = computeLayout(w, h, paneFrame(m.common.Styles))
	l := m.layout
	m.nodes = m.nodes.SetSize(l.Nodes.W, l.Nodes.H)
	m.journeys = m.journeys.SetSize(l.Journeys.W, l.Journeys.H)
	m.blast = m.blast.SetSize(l.Blast.W, l.Blast.H)
	m.edges = m.edges.SetSize(l.Width, l.Body)
	m.help.Width = w
	return m
}

// View implements tea.Model.
func (m Model) View() string {
	l := m.layout
	if l.Width == 0 {
		return "" // no size yet
	}
	s := m.common.Styles
	if l.TooSmall {
		return clip(fmt.Sprintf("firebreak needs at least %dx%d (this terminal is %dx%d)", minWidth, minHeight, l.Width, l.Height), l.Width)
	}
	var body string
	switch {
	case m.showHelp:
		body = helpView(s, m.common.Keys, m.showEdges, l.Width, l.Body, m.helpOffset)
	case m.showEdges:
		body = m.edges.View()
	default:
		right := lipgloss.JoinVertical(lipgloss.Left, m.journeys.View(), m.blast.View())
		body = lipgloss.JoinHorizontal(lipgloss.Top, m.nodes.View(), right)
	}
	label, text := m.detail()
	return strings.Join([]string{
		headerView(s, m.title, m.scenario, l.Width),
		body,
		detailView(s, label, text, l.Width),
		statusView(s, m.out, m.pending, m.err, l.Width),
		m.help.ShortHelpView(m.ShortHelp()),
	}, "\n")
}

// detail is the focused pane's detail line.
func (m Model) detail() (label, text string) {
	if m.showEdges {
		return "edge", m.edges.Detail()
	}
	switch m.focus {
	case paneJourneys:
		return "journey", m.journeys.Detail()
	case paneBlast:
		return "path", m.blast.Detail()
	}
	return "node", m.nodes.Detail()
}

// ShortHelp is the one-line help: the focused pane's keys, then the global
// ones (none while the filter has focus, where letters are typed).
func (m Model) ShortHelp() []key.Binding {
	g := m.common.Keys.Global
	switch {
	case m.showHelp:
		l := m.layout
		if len(helpLines(m.common.Styles, m.common.Keys, m.showEdges, l.Width, l.Body)) <= l.Body {
			return []key.Binding{g.CloseHelp, g.Interrupt}
		}
		scroll := m.common.Keys.List.Down
		scroll.SetHelp("↑/↓", "scroll")
		return []key.Binding{g.CloseHelp, scroll, g.Interrupt}
	case m.showEdges:
		quit := g.Quit
		quit.SetHelp("q", "quit")
		return append(m.edges.ShortHelp(), g.Help, quit)
	case m.nodes.Filtering() && m.focus == paneNodes:
		return append(m.nodes.ShortHelp(), g.Interrupt)
	}
	var own []key.Binding
	switch m.focus {
	case paneNodes:
		own = m.nodes.ShortHelp()
	case paneJourneys:
		own = m.journeys.ShortHelp()
	case paneBlast:
		own = m.blast.ShortHelp()
	}
	return append(own, g.ShortHelp()...)
}

// FullHelp is every binding, the focused pane's first.
func (m Model) FullHelp() [][]key.Binding {
	var own [][]key.Binding
	switch {
	case m.showEdges:
		own = m.edges.FullHelp()
	case m.focus == paneNodes:
		own = m.nodes.FullHelp()
	case m.focus == paneJourneys:
		own = m.journeys.FullHelp()
	case m.focus == paneBlast:
		own = m.blast.FullHelp()
	}
	return append(own, m.common.Keys.Global.FullHelp()...)
}
