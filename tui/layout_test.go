package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

func TestPaneFrame(t *testing.T) {
	for name, s := range map[string]*Styles{
		"default": DefaultStyles(nil, DefaultTheme()),
		"plain":   PlainStyles(nil),
	} {
		if got := paneFrame(s); got != (frame{W: 2, H: 2}) {
			t.Errorf("%s: pane frame %+v, want 2x2 (one border cell each side)", name, got)
		}
	}
}

func TestLayout(t *testing.T) {
	f := frame{W: 2, H: 2}
	cases := []struct {
		name                   string
		w, h                   int
		body                   int
		nodes, journeys, blast size
	}{
		{"80x24 typical SSH", 80, 24, 20, size{32, 20}, size{48, 10}, size{48, 10}},
		{"120x40", 120, 40, 36, size{48, 36}, size{72, 18}, size{72, 18}},
		{"40x12 tiny", 40, 12, 8, size{20, 8}, size{20, 4}, size{20, 4}},
		{"40x11 odd body", 40, 11, 7, size{20, 7}, size{20, 4}, size{20, 3}},
		{"300x100 huge", 300, 100, 96, size{56, 96}, size{244, 48}, size{244, 48}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := computeLayout(c.w, c.h, f)
			if l.TooSmall {
				t.Fatal("too small")
			}
			if l.Body != c.body || l.Nodes != c.nodes || l.Journeys != c.journeys || l.Blast != c.blast {
				t.Errorf("got body %d nodes %v journeys %v blast %v\nwant body %d nodes %v journeys %v blast %v",
					l.Body, l.Nodes, l.Journeys, l.Blast, c.body, c.nodes, c.journeys, c.blast)
			}
			// The regions tile the terminal exactly.
			if l.Body+chromeRows != c.h {
				t.Errorf("rows: body %d + chrome %d != %d", l.Body, chromeRows, c.h)
			}
			if l.Nodes.W+l.Journeys.W != c.w || l.Journeys.W != l.Blast.W {
				t.Errorf("columns do not add up to %d: %v %v %v", c.w, l.Nodes, l.Journeys, l.Blast)
			}
			if l.Journeys.H+l.Blast.H != l.Body || l.Nodes.H != l.Body {
				t.Errorf("pane heights do not fill the body %d: %v %v %v", l.Body, l.Nodes, l.Journeys, l.Blast)
			}
			for _, s := range []size{l.Nodes, l.Journeys, l.Blast} {
				if in := s.inner(f); in.W < 1 || in.H < 1 {
					t.Errorf("pane %v has no room inside its frame: %v", s, in)
				}
			}
		})
	}
}

func TestLayoutTooSmall(t *testing.T) {
	for _, s := range []size{{39, 24}, {80, 9}, {0, 0}, {10, 5}} {
		if l := computeLayout(s.W, s.H, frame{2, 2}); !l.TooSmall {
			t.Errorf("%dx%d: want TooSmall, got %+v", s.W, s.H, l)
		}
	}
	// A heavier frame needs more room: 40x10 fits 2-cell borders, not 4-cell.
	if l := computeLayout(40, 10, frame{2, 2}); l.TooSmall {
		t.Error("40x10 with a 2x2 frame: too small")
	}
	if l := computeLayout(40, 10, frame{4, 4}); !l.TooSmall {
		t.Errorf("40x10 with a 4x4 frame: want TooSmall, got %+v", l)
	}
}

// TestViewFillsTerminal renders the whole screen at each size: exactly h
// lines of exactly w cells, so nothing wraps or scrolls.
func TestViewFillsTerminal(t *testing.T) {
	base := newShop(t)
	base = update(t, base, cat(keys("/laptop"), one(keyEnter), keys("c"))...)
	for _, s := range []size{{80, 24}, {120, 40}, {40, 12}, {300, 100}, {40, 10}} {
		for _, helpShown := range []bool{false, true} {
			m := update(t, base, sizeMsg(s))
			if helpShown {
				m = update(t, m, keys("?")...)
			}
			lines := strings.Split(m.View(), "\n")
			if len(lines) != s.H {
				t.Errorf("%dx%d help=%v: %d lines", s.W, s.H, helpShown, len(lines))
			}
			for i, l := range lines[:len(lines)-1] { // the short help line may be shorter
				if w := ansi.StringWidth(l); w != s.W {
					t.Errorf("%dx%d help=%v: line %d is %d wide: %q", s.W, s.H, helpShown, i, w, l)
				}
			}
			if w := ansi.StringWidth(lines[len(lines)-1]); w > s.W {
				t.Errorf("%dx%d: help line is %d wide", s.W, s.H, w)
			}
		}
	}
	m := update(t, base, sizeMsg(size{30, 8}))
	if v := m.View(); !strings.Contains(v, "needs at least") || strings.Contains(v, "\n") {
		t.Errorf("tiny terminal: %q", v)
	}
}
