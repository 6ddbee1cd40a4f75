package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
)

// seg is a run of plain text with its style; bars are built from segments so
// widths are measured before styling.
type seg struct {
	text  string
	style lipgloss.Style
}

// renderSegs lays segments out in exactly width cells, truncating the last
// ones that do not fit and padding with fill.
func renderSegs(segs []seg, width int, fill lipgloss.Style) string {
	var b strings.Builder
	used := 0
	for _, s := range segs {
		w := ansi.StringWidth(s.text)
		if used+w > width {
			t := ansi.Truncate(s.text, width-used, "…")
			b.WriteString(s.style.Render(t))
			used += ansi.StringWidth(t)
			break
		}
		b.WriteString(s.style.Render(s.text))
		used += w
	}
	if used < width {
		b.WriteString(fill.Render(strings.Repeat(" ", width-used)))
	}
	return b.String()
}

// headerView is the top bar: the session title on the left, the scenario's
// counts on the right (they win when space is short).
func headerView(s *Styles, title string, sc scenario, width int) string {
	c, f, q := sc.counts()
	right := fmt.Sprintf("%d compromised, %d failed, %d quarantined ", c, f, q)
	if ansi.StringWidth(right) > width/2 {
		right = fmt.Sprintf(" C%d F%d Q%d ", c, f, q)
	}
	leftW := max(width-ansi.StringWidth(right), 0)
	left := renderSegs([]seg{
		{" firebreak", s.Header.Brand},
		{" · " + title, s.Header.Title},
	}, leftW, s.Header.Bar)
	return left + renderSegs([]seg{{right, s.Header.Counts}}, width-leftW, s.Header.Bar)
}

// statusView is the bottom bar: the impact of the last run, or the error.
func statusView(s *Styles, out *outcome, pending bool, err error, width int) string {
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), "\n", "; ")
		return renderSegs([]seg{{" error: " + msg, s.Status.Error}}, width, s.Status.Error)
	}
	label := " impact "
	if pending {
		label = " updating… "
	}
	segs := []seg{{label, s.Status.Label}}
	if out == nil {
		return renderSegs(segs, width, s.Status.Bar)
	}
	im := out.impact
	num := func(n int, word string) []seg {
		st := s.Status.Value
		if n > 0 {
			st = s.Status.Bad
		}
		return []seg{{fmt.Sprint(n), st}, {" " + word, s.Status.Label}}
	}
	segs = append(segs, num(im.Broken, "broken · ")...)
	segs = append(segs, num(im.Degraded, "degraded · ")...)
	segs = append(segs, num(im.Exposed, "exposed")...)
	risk := func(cust, rev string) []seg {
		return []seg{
			{"  at risk ", s.Status.Label},
			{thousands(im.CustomersPerHour), s.Status.Value},
			{cust, s.Status.Label},
			{thousands(im.RevenuePerHour), s.Status.Value},
			{rev, s.Status.Label},
		}
	}
	long := append(append([]seg(nil), segs...), risk(" customers/h · ", " revenue/h")...)
	if segsWidth(long) <= width {
		return renderSegs(long, width, s.Status.Bar)
	}
	return renderSegs(append(segs, risk(" cust/h · ", " rev/h")...), width, s.Status.Bar)
}

func segsWidth(segs []seg) int {
	n := 0
	for _, s := range segs {
		n += ansi.StringWidth(s.text)
	}
	return n
}

// detailView is the detail line: a label and the focused selection in full
// (truncated to the width).
func detailView(s *Styles, label, text string, width int) string {
	return renderSegs([]seg{{" " + label + " ", s.Detail.Label}, {text, s.Detail.Line}}, width, s.Detail.Line)
}
