package tui

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/lipgloss"
)

// helpSection is one titled block of the help screen.
type helpSection struct {
	title string
	rows  [][2]string // key, description
}

func bindingRows(bs ...key.Binding) [][2]string {
	var out [][2]string
	for _, b := range bs {
		if b.Enabled() {
			out = append(out, [2]string{b.Help().Key, b.Help().Desc})
		}
	}
	return out
}

// pair shows two bindings' keys as one row.
func pair(a, b key.Binding) string { return a.Help().Key + " " + b.Help().Key }

// helpSections is everything the help screen explains, taken from the key
// map itself so it cannot drift from the bindings. Opened from the edges
// view, it explains that view in place of the blast radius.
func helpSections(k KeyMap, edges bool) []helpSection {
	g := k.Global
	third := helpSection{"Blast radius", append(bindingRows(k.GoTo), [2]string{"c f i x e", "as in the node list"})}
	if edges {
		third = helpSection{"Edges view", bindingRows(k.Edges.Follow, k.Edges.Back)}
	}
	return []helpSection{
		{"Global", bindingRows(g.NextPane, g.PrevPane, k.Filter.Start, g.Reset, g.Help, g.Quit)},
		{"Node list", bindingRows(k.Filter.Start, k.Filter.Accept, k.Filter.Cancel, k.Edges.Open,
			k.Mark.Compromise, k.Mark.Fail, k.Mark.Quarantine, k.Mark.Clear)},
		third,
		{"Every list", [][2]string{
			{pair(k.List.Up, k.List.Down), "move"},
			{pair(k.List.PageUp, k.List.PageDown), "page"},
			{pair(k.List.Top, k.List.Bottom), "first, last"},
		}},
		{"Legend", [][2]string{
			{"C", "marked compromised"},
			{"F", "marked failed"},
			{"Q", "marked quarantined"},
			{"!", "reached by the compromise"},
			{"x", "down (failed/quarantined)"},
			{"~", "degraded"},
			{"*", "crown jewel"},
			{"EXP", "journey exposed"},
		}},
	}
}

// helpMinColumn is the narrowest column the help screen packs into; below it
// the sections are stacked in one column that scrolls.
const helpMinColumn = 30

// helpLines renders the help screen's content for a w×h area: sections
// packed into columns top to bottom, left to right, or stacked in one column
// when the area is too narrow for columns (then it is taller than h and the
// caller scrolls it).
func helpLines(s *Styles, k KeyMap, edges bool, w, h int) []string {
	avail := h - 2 // heading and a blank line
	blocks := make([][]string, 0, 5)
	for _, sec := range helpSections(k, edges) {
		block := []string{"\x00" + sec.title}
		for _, r := range sec.rows {
			block = append(block, r[0]+"\x00"+r[1])
		}
		blocks = append(blocks, block)
	}
	cols := pack(blocks, avail)
	if w/len(cols) < helpMinColumn {
		cols = pack(blocks, 1<<30)
	}
	colW := max(min(w/len(cols), 44), 1)
	keyW := 10
	if colW >= 40 {
		keyW = 13
	}
	rendered := make([]string, len(cols))
	for i, c := range cols {
		lines := make([]string, 0, len(c))
		for _, l := range c {
			var line string
			switch {
			case l == "":
				line = fit("", colW)
			case strings.HasPrefix(l, "\x00"):
				t := clip(l[1:], colW)
				line = s.Help.Section.Render(t) + fit("", colW-lipgloss.Width(t))
			default:
				kd := strings.SplitN(l, "\x00", 2)
				line = s.Help.Key.Render(fit(kd[0], min(keyW, colW))) + s.Help.Desc.Render(fit(" "+kd[1], colW-keyW))
			}
			lines = append(lines, line)
		}
		rendered[i] = strings.Join(lines, "\n")
	}
	head := s.Help.Section.Render("Keys") + s.Help.Legend.Render("  (? or esc closes this screen)")
	out := strings.Split(head+"\n\n"+lipgloss.JoinHorizontal(lipgloss.Top, rendered...), "\n")
	for i := range out {
		out[i] = clip(out[i], w)
		if pad := w - lipgloss.Width(out[i]); pad > 0 {
			out[i] += strings.Repeat(" ", pad)
		}
	}
	return out
}

// pack puts blocks into columns of at most height lines, a blank line
// between blocks; a block taller than height gets a column of its own.
func pack(blocks [][]string, height int) [][]string {
	var cols [][]string
	var col []string
	for _, b := range blocks {
		if len(col) > 0 && len(col)+1+len(b) > height {
			cols = append(cols, col)
			col = nil
		}
		if len(col) > 0 {
			col = append(col, "")
		}
		col = append(col, b...)
	}
	if len(col) > 0 || len(cols) == 0 {
		cols = append(cols, col)
	}
	return cols
}

// helpView shows the help screen in w×h cells, scrolled down by offset
// lines (clamped).
func helpView(s *Styles, k KeyMap, edges bool, w, h, offset int) string {
	if w <= 0 || h <= 0 {
		return ""
	}
	lines := helpLines(s, k, edges, w, h)
	offset = max(0, min(offset, len(lines)-h))
	lines = lines[offset:]
	for len(lines) < h {
		lines = append(lines, strings.Repeat(" ", w))
	}
	return strings.Join(lines[:h], "\n")
}
