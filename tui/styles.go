package tui

import "github.com/charmbracelet/lipgloss"

// Styles holds every style the TUI renders with, grouped per component. It is
// built once from a Theme and shared read-only through Common; views never
// create styles of their own.
type Styles struct {
	Header struct {
		Bar, Brand, Title, Counts lipgloss.Style
	}
	Pane struct {
		Border, BorderFocus     lipgloss.Border
		Frame, FrameFocus       lipgloss.Style // sides and bottom; the top line carries the title
		Edge, EdgeFocus         lipgloss.Style // the top line's border characters
		Title, TitleFocus       lipgloss.Style
		TitleAlarm              lipgloss.Style // e.g. crown jewels reached
		Hint                    lipgloss.Style // empty-pane hints
		Item, Selected, Blurred lipgloss.Style
	}
	Nodes struct {
		Marks, Reached, Down, Degraded, Kind, Crown lipgloss.Style
		FilterPrompt, FilterText, FilterInfo        lipgloss.Style
	}
	Journeys struct {
		OK, Degraded, Broken, Exposed, Name, Cause lipgloss.Style
	}
	Blast struct {
		Hops, Node, Crown lipgloss.Style
	}
	Edges struct {
		Header, Rule, Info lipgloss.Style
	}
	Detail struct {
		Line, Label lipgloss.Style
	}
	Status struct {
		Bar, Label, Value, Bad, Running, Error lipgloss.Style
	}
	Help struct {
		ShortKey, ShortDesc, ShortSep lipgloss.Style
		Section, Key, Desc, Legend    lipgloss.Style
	}
}

// DefaultStyles builds the styles of theme t on renderer r (nil means the
// default renderer; SSH sessions pass their own).
func DefaultStyles(r *lipgloss.Renderer, t Theme) *Styles {
	if r == nil {
		r = lipgloss.DefaultRenderer()
	}
	st := func() lipgloss.Style { return r.NewStyle() }
	s := &Styles{}

	s.Header.Bar = st().Foreground(t.BarFg).Background(t.BarBg)
	s.Header.Brand = st().Foreground(t.Accent).Background(t.BarBg).Bold(true)
	s.Header.Title = st().Foreground(t.BarFg).Background(t.BarBg)
	s.Header.Counts = st().Foreground(t.BarFg).Background(t.BarBg)

	s.Pane.Border = lipgloss.RoundedBorder()
	s.Pane.BorderFocus = lipgloss.ThickBorder()
	s.Pane.Frame = st().Border(s.Pane.Border).BorderForeground(t.Border)
	s.Pane.FrameFocus = st().Border(s.Pane.BorderFocus).BorderForeground(t.BorderFocus)
	s.Pane.Edge = st().Foreground(t.Border)
	s.Pane.EdgeFocus = st().Foreground(t.BorderFocus)
	s.Pane.Title = st().Foreground(t.Muted)
	s.Pane.TitleFocus = st().Foreground(t.Accent).Bold(true)
	s.Pane.TitleAlarm = st().Foreground(t.Crown).Background(t.CrownBg).Bold(true)
	s.Pane.Hint = st().Foreground(t.Muted).Italic(true)
	s.Pane.Item = st().Foreground(t.Text)
	s.Pane.Selected = st().Foreground(t.SelectedFg).Background(t.SelectedBg).Bold(true)
	s.Pane.Blurred = st().Foreground(t.Text).Bold(true)

	s.Nodes.Marks = st().Foreground(t.Accent).Bold(true)
	s.Nodes.Reached = st().Foreground(t.Bad).Bold(true)
	s.Nodes.Down = st().Foreground(t.Bad)
	s.Nodes.Degraded = st().Foreground(t.Warn)
	s.Nodes.Kind = st().Foreground(t.Muted)
	s.Nodes.Crown = st().Foreground(t.Crown).Background(t.CrownBg).Bold(true)
	s.Nodes.FilterPrompt = st().Foreground(t.Accent).Bold(true)
	s.Nodes.FilterText = st().Foreground(t.Text)
	s.Nodes.FilterInfo = st().Foreground(t.Muted)

	s.Journeys.OK = st().Foreground(t.OK)
	s.Journeys.Degraded = st().Foreground(t.Warn).Bold(true)
	s.Journeys.Broken = st().Foreground(t.Bad).Bold(true)
	s.Journeys.Exposed = st().Foreground(t.Exposed).Bold(true)
	s.Journeys.Name = st().Foreground(t.Text)
	s.Journeys.Cause = st().Foreground(t.Muted)

	s.Blast.Hops = st().Foreground(t.Muted)
	s.Blast.Node = st().Foreground(t.Text)
	s.Blast.Crown = st().Foreground(t.Crown).Background(t.CrownBg).Bold(true)

	s.Edges.Header = st().Foreground(t.Muted).Bold(true)
	s.Edges.Rule = st().Foreground(t.Border)
	s.Edges.Info = st().Foreground(t.Text)

	s.Detail.Line = st().Foreground(t.Text)
	s.Detail.Label = st().Foreground(t.Accent).Bold(true)

	s.Status.Bar = st().Foreground(t.BarFg).Background(t.BarBg)
	s.Status.Label = st().Foreground(t.Muted).Background(t.BarBg)
	s.Status.Value = st().Foreground(t.BarFg).Background(t.BarBg).Bold(true)
	s.Status.Bad = st().Foreground(t.Bad).Background(t.BarBg).Bold(true)
	s.Status.Running = st().Foreground(t.Warn).Background(t.BarBg)
	s.Status.Error = st().Foreground(t.Crown).Background(t.CrownBg).Bold(true)

	s.Help.ShortKey = st().Foreground(t.Accent)
	s.Help.ShortDesc = st().Foreground(t.Muted)
	s.Help.ShortSep = st().Foreground(t.Border)
	s.Help.Section = st().Foreground(t.Accent).Bold(true).Underline(true)
	s.Help.Key = st().Foreground(t.Accent).Bold(true)
	s.Help.Desc = st().Foreground(t.Text)
	s.Help.Legend = st().Foreground(t.Muted)
	return s
}

// PlainStyles is DefaultStyles without colour. Selection and alarms use
// reverse video and bold, which NO_COLOR allows.
func PlainStyles(r *lipgloss.Renderer) *Styles {
	s := DefaultStyles(r, PlainTheme())
	s.Pane.Selected = s.Pane.Selected.Reverse(true)
	s.Pane.TitleAlarm = s.Pane.TitleAlarm.Reverse(true)
	s.Nodes.Crown = s.Nodes.Crown.Reverse(true)
	s.Blast.Crown = s.Blast.Crown.Reverse(true)
	s.Status.Error = s.Status.Error.Reverse(true)
	s.Header.Bar = s.Header.Bar.Reverse(true)
	s.Header.Brand = s.Header.Brand.Reverse(true)
	s.Header.Title = s.Header.Title.Reverse(true)
	s.Header.Counts = s.Header.Counts.Reverse(true)
	return s
}
