package tui

import (
	"strings"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
)

// Common is what every pane shares, passed by value to constructors. Styles
// is read-only after construction.
type Common struct {
	Styles *Styles
	Keys   KeyMap
}

// component is the contract every pane follows (soft-serve's Component, but
// Update returns the concrete type so the root needs no type assertions).
// Panes are values; SetSize returns the resized copy.
type component[T any] interface {
	Init() tea.Cmd
	Update(tea.Msg) (T, tea.Cmd)
	View() string
	SetSize(width, height int) T
	help.KeyMap
}

var (
	_ component[nodesPane]    = nodesPane{}
	_ component[journeysPane] = journeysPane{}
	_ component[blastPane]    = blastPane{}
	_ component[edgesPane]    = edgesPane{}
)

// fit truncates s to w cells (with an ellipsis) and pads it with spaces to
// exactly w cells. ANSI styling in s is kept and not counted.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) > w {
		s = ansi.Truncate(s, w, "…")
	}
	if pad := w - ansi.StringWidth(s); pad > 0 {
		s += strings.Repeat(" ", pad)
	}
	return s
}

// clip truncates s (which may be styled) to w cells without padding.
func clip(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "…")
}

// paneFrame is the border around a pane: the frame's horizontal and
// vertical sizes, for layout arithmetic. The title sits in the top border.
func paneFrame(s *Styles) frame {
	return frame{W: s.Pane.Frame.GetHorizontalFrameSize(), H: s.Pane.Frame.GetVerticalFrameSize()}
}

// renderPane draws lines (each already exactly the inner width) inside a
// border of outer size w×h with title in the top border. Missing lines are
// blank; extra lines are dropped.
func renderPane(s *Styles, title string, alarm, focused bool, w, h int, lines []string) string {
	if w <= 2 || h <= 2 {
		return ""
	}
	b, frame, edge, ts := s.Pane.Border, s.Pane.Frame, s.Pane.Edge, s.Pane.Title
	if focused {
		b, frame, edge, ts = s.Pane.BorderFocus, s.Pane.FrameFocus, s.Pane.EdgeFocus, s.Pane.TitleFocus
	}
	if alarm {
		ts = s.Pane.TitleAlarm
	}
	innerW, innerH := w-2, h-2

	title = clip(" "+title+" ", innerW-1)
	fill := innerW - 1 - ansi.StringWidth(title)
	top := edge.Render(b.TopLeft+b.Top) + ts.Render(title) + edge.Render(strings.Repeat(b.Top, max(fill, 0))+b.TopRight)

	body := make([]string, innerH)
	blank := strings.Repeat(" ", innerW)
	for i := range body {
		if i < len(lines) {
			body[i] = lines[i]
		} else {
			body[i] = blank
		}
	}
	rest := frame.BorderTop(false).Render(strings.Join(body, "\n"))
	return top + "\n" + rest
}

// window keeps a selection visible in a list of rows: it returns the new
// offset for cursor in a window of size rows.
func window(cursor, offset, rows, n int) int {
	if rows <= 0 || n == 0 {
		return 0
	}
	if cursor < offset {
		offset = cursor
	}
	if cursor >= offset+rows {
		offset = cursor - rows + 1
	}
	return max(0, min(offset, n-rows))
}

// listNav applies a list key to cursor over n rows with a page of rows;
// handled reports whether msg was a navigation key.
func listNav(k ListKeys, msg tea.KeyMsg, cursor, n, rows int) (int, bool) {
	page := max(rows-1, 1)
	switch {
	case key.Matches(msg, k.Up):
		cursor--
	case key.Matches(msg, k.Down):
		cursor++
	case key.Matches(msg, k.PageUp):
		cursor -= page
	case key.Matches(msg, k.PageDown):
		cursor += page
	case key.Matches(msg, k.Top):
		cursor = 0
	case key.Matches(msg, k.Bottom):
		cursor = n - 1
	default:
		return cursor, false
	}
	return max(0, min(cursor, n-1)), true
}
