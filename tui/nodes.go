package tui

import (
	"sort"
	"strings"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/firebreak/firebreak/graph"
)

// nodesPane is the node list with its "/" filter. It renders only the
// visible window of rows, so it stays fast on 100k nodes; filtering is one
// substring pass over precomputed lower-case text per keystroke.
type nodesPane struct {
	common Common
	nodes  []graph.Node // the session's model, read-only
	hay    []string     // lower-case search text per node

	filtered []int32 // positions matching the filter; nil means every node
	cursor   int     // index into the visible list
	offset   int     // first visible row

	outer     size
	rows      int // list rows that fit
	innerW    int
	focused   bool
	filtering bool // the filter input has focus: letters are typed, not actions
	input     textinput.Model

	marks scenario
	out   *outcome
}

func newNodesPane(c Common, nodes []graph.Node) nodesPane {
	in := textinput.New()
	in.Prompt = "/"
	in.Placeholder = "filter nodes"
	in.PromptStyle = c.Styles.Nodes.FilterPrompt
	in.TextStyle = c.Styles.Nodes.FilterText
	in.PlaceholderStyle = c.Styles.Nodes.FilterInfo
	in.Cursor.SetMode(cursor.CursorStatic) // no blink: frames stay deterministic
	hay := make([]string, len(nodes))
	for i := range nodes {
		hay[i] = searchText(&nodes[i])
	}
	return nodesPane{common: c, nodes: nodes, hay: hay, input: in}
}

// searchText is what the filter matches: id, name, kind, addresses and
// label values.
func searchText(n *graph.Node) string {
	parts := []string{n.ID, n.Name, string(n.Kind)}
	for _, a := range n.Addresses {
		parts = append(parts, addrString(a))
	}
	keys := make([]string, 0, len(n.Labels))
	for k := range n.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, k+"="+n.Labels[k])
	}
	return strings.ToLower(strings.Join(parts, " "))
}

func (p nodesPane) Init() tea.Cmd { return nil }

// SetSize sets the pane's outer size.
func (p nodesPane) SetSize(w, h int) nodesPane {
	p.outer = size{W: w, H: h}
	in := p.outer.inner(paneFrame(p.common.Styles))
	p.innerW = in.W
	p.input.Width = max(in.W-2, 1)
	p.rows = in.H
	if p.filterShown() {
		p.rows--
	}
	p.rows = max(p.rows, 0)
	p.offset = window(p.cursor, p.offset, p.rows, p.len())
	return p
}

// SetFocused marks the pane as the one receiving keys.
func (p nodesPane) SetFocused(f bool) nodesPane { p.focused = f; return p }

// SetScenario and SetOutcome hand the pane the latest (immutable) state.
func (p nodesPane) SetScenario(s scenario) nodesPane { p.marks = s; return p }
func (p nodesPane) SetOutcome(o *outcome) nodesPane  { p.out = o; return p }

// Filtering reports whether the filter input has focus.
func (p nodesPane) Filtering() bool { return p.filtering }

// Filter is the current filter text.
func (p nodesPane) Filter() string { return p.input.Value() }

func (p nodesPane) filterShown() bool { return p.filtering || p.input.Value() != "" }

func (p nodesPane) len() int {
	if p.filtered == nil {
		return len(p.nodes)
	}
	return len(p.filtered)
}

func (p nodesPane) at(i int) int32 {
	if p.filtered == nil {
		return int32(i)
	}
	return p.filtered[i]
}

// Selected returns the selected node.
func (p nodesPane) Selected() (*graph.Node, bool) {
	if p.cursor < 0 || p.cursor >= p.len() {
		return nil, false
	}
	return &p.nodes[p.at(p.cursor)], true
}

// Detail is the selected node's detail line.
func (p nodesPane) Detail() string {
	if p.cursor < 0 || p.cursor >= p.len() {
		return ""
	}
	pos := p.at(p.cursor)
	n := &p.nodes[pos]
	return nodeDetail(n, pos, p.marks.mark(n.ID), p.out)
}

func (p nodesPane) Update(msg tea.Msg) (nodesPane, tea.Cmd) {
	switch msg := msg.(type) {
	case selectNodeMsg:
		return p.selectID(msg.node), nil
	case tea.KeyMsg:
		if p.filtering {
			return p.updateFilter(msg)
		}
		return p.updateList(msg)
	}
	return p, nil
}

func (p nodesPane) updateFilter(msg tea.KeyMsg) (nodesPane, tea.Cmd) {
	k := p.common.Keys.Filter
	switch {
	case key.Matches(msg, k.Accept):
		p.filtering = false
		p.input.Blur()
		return p.SetSize(p.outer.W, p.outer.H), nil
	case key.Matches(msg, k.Cancel):
		return p.clearFilter(), nil
	case key.Matches(msg, k.Up):
		return p.move(p.cursor - 1), nil
	case key.Matches(msg, k.Down):
		return p.move(p.cursor + 1), nil
	}
	before := p.input.Value()
	var cmd tea.Cmd
	p.input, cmd = p.input.Update(msg)
	if p.input.Value() != before {
		p = p.refilter()
	}
	return p, cmd
}

func (p nodesPane) updateList(msg tea.KeyMsg) (nodesPane, tea.Cmd) {
	k := p.common.Keys
	if c, ok := listNav(k.List, msg, p.cursor, p.len(), p.rows); ok {
		return p.move(c), nil
	}
	switch {
	case key.Matches(msg, k.Filter.Start):
		p.filtering = true
		cmd := p.input.Focus()
		return p.SetSize(p.outer.W, p.outer.H), cmd
	case key.Matches(msg, k.Filter.Cancel):
		if p.input.Value() != "" {
			return p.clearFilter(), nil
		}
		return p, nil
	}
	n, ok := p.Selected()
	if !ok {
		return p, nil
	}
	return p, markCmd(k.Mark, msg, n.ID)
}

// markCmd turns a mark key into a markMsg for node id, or returns nil.
func markCmd(k MarkKeys, msg tea.KeyMsg, id string) tea.Cmd {
	var m markMsg
	switch {
	case key.Matches(msg, k.Compromise):
		m = markMsg{node: id, toggle: markCompromised}
	case key.Matches(msg, k.Fail):
		m = markMsg{node: id, toggle: markFailed}
	case key.Matches(msg, k.Quarantine):
		m = markMsg{node: id, toggle: markQuarantined}
	case key.Matches(msg, k.Clear):
		m = markMsg{node: id, clear: true}
	default:
		return nil
	}
	return func() tea.Msg { return m }
}

func (p nodesPane) move(c int) nodesPane {
	p.cursor = max(0, min(c, p.len()-1))
	p.offset = window(p.cursor, p.offset, p.rows, p.len())
	return p
}

func (p nodesPane) clearFilter() nodesPane {
	p.filtering = false
	p.input.Blur()
	p.input.Reset()
	p = p.refilter()
	return p.SetSize(p.outer.W, p.outer.H)
}

// refilter recomputes the visible list, keeping the selected node selected
// when it still matches.
func (p nodesPane) refilter() nodesPane {
	keep := int32(-1)
	if p.cursor < p.len() {
		keep = p.at(p.cursor)
	}
	terms := strings.Fields(strings.ToLower(p.input.Value()))
	if len(terms) == 0 {
		p.filtered = nil
	} else {
		out := make([]int32, 0, 64)
	next:
		for i, h := range p.hay {
			for _, t := range terms {
				if !strings.Contains(h, t) {
					continue next
				}
			}
			out = append(out, int32(i))
		}
		p.filtered = out
	}
	p.cursor = 0
	if keep >= 0 {
		if i, ok := p.indexOf(keep); ok {
			p.cursor = i
		}
	}
	p.offset = window(p.cursor, 0, p.rows, p.len())
	return p
}

// indexOf finds node position pos in the visible list.
func (p nodesPane) indexOf(pos int32) (int, bool) {
	if p.filtered == nil {
		return int(pos), int(pos) < len(p.nodes)
	}
	i := sort.Search(len(p.filtered), func(i int) bool { return p.filtered[i] >= pos })
	return i, i < len(p.filtered) && p.filtered[i] == pos
}

// selectID selects node id, clearing the filter if it hides the node.
func (p nodesPane) selectID(id string) nodesPane {
	pos := sort.Search(len(p.nodes), func(i int) bool { return p.nodes[i].ID >= id })
	if pos == len(p.nodes) || p.nodes[pos].ID != id {
		return p
	}
	if _, ok := p.indexOf(int32(pos)); !ok {
		p = p.clearFilter()
	}
	i, _ := p.indexOf(int32(pos))
	return p.move(i)
}
