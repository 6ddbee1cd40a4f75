package tui

import "github.com/charmbracelet/bubbles/key"

// KeyMap is every binding of the TUI, as data. Panes take the groups they
// use; help screens read the same bindings, so help cannot drift from
// behaviour.
type KeyMap struct {
	Global GlobalKeys
	List   ListKeys
	Filter FilterKeys
	Mark   MarkKeys
	// GoTo selects the blast-radius entry's node in the node list.
	GoTo key.Binding
	// Edges opens and drives the edges view of the selected node.
	Edges EdgeKeys
}

// GlobalKeys work in every pane (except Quit's "q" while typing a filter).
type GlobalKeys struct {
	NextPane, PrevPane key.Binding
	Reset              key.Binding
	Help, CloseHelp    key.Binding
	Quit               key.Binding
	// Interrupt quits even while the filter has focus.
	Interrupt key.Binding
}

// ListKeys move the selection in any list.
type ListKeys struct {
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
}

// FilterKeys drive the node list's filter.
type FilterKeys struct {
	Start, Accept, Cancel key.Binding
	// Up and Down move the selection while the filter has focus; letters
	// are typed into the filter instead.
	Up, Down key.Binding
}

// EdgeKeys drive the edges view: Open (node list and blast radius) shows
// the selected node's edges, Follow moves to the selected edge's peer, Back
// returns to the pane the view was opened from.
type EdgeKeys struct {
	Open, Follow, Back key.Binding
}

// MarkKeys change the scenario for the selected node. Each toggles.
type MarkKeys struct {
	Compromise, Fail, Quarantine, Clear key.Binding
}

// DefaultKeyMap returns firebreak's default bindings.
func DefaultKeyMap() KeyMap {
	b := func(help, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return KeyMap{
		Global: GlobalKeys{
			NextPane:  b("tab", "next pane", "tab"),
			PrevPane:  b("shift+tab", "prev pane", "shift+tab"),
			Reset:     b("X", "clear all marks", "X"),
			Help:      b("?", "keys", "?"),
			CloseHelp: b("esc/?/q", "close help", "esc", "?", "q"),
			Quit:      b("q/ctrl+c", "quit", "q", "ctrl+c"),
			Interrupt: b("ctrl+c", "quit", "ctrl+c"),
		},
		List: ListKeys{
			Up:       b("↑/k", "up", "up", "k"),
			Down:     b("↓/j", "down", "down", "j"),
			PageUp:   b("pgup", "page up", "pgup", "ctrl+u"),
			PageDown: b("pgdn", "page down", "pgdown", "ctrl+d"),
			Top:      b("g/home", "first", "g", "home"),
			Bottom:   b("G/end", "last", "G", "end"),
		},
		Filter: FilterKeys{
			Start:  b("/", "filter", "/"),
			Accept: b("enter", "keep filter", "enter"),
			Cancel: b("esc", "clear filter", "esc"),
			Up:     b("↑", "up", "up"),
			Down:   b("↓", "down", "down"),
		},
		Mark: MarkKeys{
			Compromise: b("c", "toggle compromised", "c"),
			Fail:       b("f", "toggle failed", "f"),
			Quarantine: b("i", "toggle quarantined", "i"),
			Clear:      b("x", "clear the node's marks", "x"),
		},
		GoTo: b("enter", "show in node list", "enter"),
		Edges: EdgeKeys{
			Open:   b("e", "edges and provenance", "e"),
			Follow: b("enter", "follow edge to its peer", "enter"),
			Back:   b("esc/e", "back", "esc", "e"),
		},
	}
}

// relabel returns a copy of b with a different description; the shared
// binding is never mutated.
func relabel(b key.Binding, desc string) key.Binding {
	b.SetHelp(b.Help().Key, desc)
	return b
}

// short is the compact form of the mark keys for one-line help.
func (k MarkKeys) short() []key.Binding {
	return []key.Binding{
		relabel(k.Compromise, "compromise"), relabel(k.Fail, "fail"),
		relabel(k.Quarantine, "quarantine"), relabel(k.Clear, "clear"),
	}
}

func (k MarkKeys) all() []key.Binding {
	return []key.Binding{k.Compromise, k.Fail, k.Quarantine, k.Clear}
}

func (k ListKeys) all() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom}
}

// ShortHelp is the global part of the one-line help.
func (k GlobalKeys) ShortHelp() []key.Binding {
	quit := k.Quit
	quit.SetHelp("q", "quit")
	return []key.Binding{relabel(k.NextPane, "pane"), k.Help, quit}
}

// FullHelp lists every global binding.
func (k GlobalKeys) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.NextPane, k.PrevPane, k.Reset, k.Help, k.Quit}}
}
