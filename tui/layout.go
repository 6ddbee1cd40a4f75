package tui

// Screen layout, as pure arithmetic (tested in layout_test.go):
//
//	header                                 1 row
//	┌ nodes ──┐┌ journeys ─────────────┐
//	│         ││                       │   body: the rest
//	│         │└───────────────────────┘
//	│         │┌ blast radius ─────────┐
//	│         ││                       │
//	└─────────┘└───────────────────────┘
//	detail line                            1 row
//	status (impact) line                   1 row
//	short help                             1 row
//
// The help screen replaces the body.

// Fixed rows around the body.
const (
	headerRows = 1
	detailRows = 1
	statusRows = 1
	helpRows   = 1
	chromeRows = headerRows + detailRows + statusRows + helpRows
)

// The smallest terminal the layout serves; below it the TUI asks for more room.
const (
	minWidth  = 40
	minHeight = 10
)

// Node pane width bounds; it takes 40% of the width in between.
const (
	minNodesWidth = 20
	maxNodesWidth = 56
)

// frame is the space a pane's border takes.
type frame struct{ W, H int }

// size is a width and height in cells.
type size struct{ W, H int }

// inner is the content size of a pane of outer size s.
func (s size) inner(f frame) size {
	return size{W: max(s.W-f.W, 0), H: max(s.H-f.H, 0)}
}

// layout is the size of every region for one terminal size.
type layout struct {
	Width, Height int
	TooSmall      bool
	Body          int // rows between header and detail line
	// Outer sizes of the panes, borders included.
	Nodes, Journeys, Blast size
}

// computeLayout divides a w×h terminal for panes whose border takes f. Panes
// never overlap and always add up to exactly the body, so the screen is
// filled without wrapping. A terminal that leaves a pane no room inside its
// border is TooSmall.
func computeLayout(w, h int, f frame) layout {
	l := layout{Width: w, Height: h}
	if w < minWidth || h < minHeight {
		l.TooSmall = true
		return l
	}
	l.Body = h - chromeRows
	nw := min(max(w*2/5, minNodesWidth), maxNodesWidth)
	rw := w - nw
	jh := (l.Body + 1) / 2
	l.Nodes = size{W: nw, H: l.Body}
	l.Journeys = size{W: rw, H: jh}
	l.Blast = size{W: rw, H: l.Body - jh}
	for _, p := range []size{l.Nodes, l.Journeys, l.Blast} {
		if in := p.inner(f); in.W < 1 || in.H < 1 {
			return layout{Width: w, Height: h, TooSmall: true}
		}
	}
	return l
}
