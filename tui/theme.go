package tui

import "github.com/charmbracelet/lipgloss"

// Theme is the palette every style is built from. Colours are adaptive, so
// one theme serves light and dark terminals.
type Theme struct {
	Text        lipgloss.TerminalColor
	Muted       lipgloss.TerminalColor
	Accent      lipgloss.TerminalColor
	Border      lipgloss.TerminalColor
	BorderFocus lipgloss.TerminalColor
	SelectedFg  lipgloss.TerminalColor
	SelectedBg  lipgloss.TerminalColor
	OK          lipgloss.TerminalColor
	Warn        lipgloss.TerminalColor
	Bad         lipgloss.TerminalColor
	Exposed     lipgloss.TerminalColor
	Crown       lipgloss.TerminalColor
	CrownBg     lipgloss.TerminalColor
	BarFg       lipgloss.TerminalColor
	BarBg       lipgloss.TerminalColor
}

// DefaultTheme is firebreak's palette.
func DefaultTheme() Theme {
	ac := func(light, dark string) lipgloss.AdaptiveColor {
		return lipgloss.AdaptiveColor{Light: light, Dark: dark}
	}
	return Theme{
		Text:        ac("#1a1a1a", "#dddddd"),
		Muted:       ac("#6c6c6c", "#8a8a8a"),
		Accent:      ac("#5a3fc0", "#b69cff"),
		Border:      ac("#a8a8a8", "#4e4e4e"),
		BorderFocus: ac("#5a3fc0", "#b69cff"),
		SelectedFg:  ac("#ffffff", "#ffffff"),
		SelectedBg:  ac("#5a3fc0", "#5b45a8"),
		OK:          ac("#1f7a1f", "#5fd75f"),
		Warn:        ac("#a15c00", "#ffaf00"),
		Bad:         ac("#c00000", "#ff5f5f"),
		Exposed:     ac("#a0009a", "#ff87ff"),
		Crown:       ac("#ffffff", "#ffffff"),
		CrownBg:     ac("#c00000", "#af0000"),
		BarFg:       ac("#1a1a1a", "#dddddd"),
		BarBg:       ac("#e4e4e4", "#303030"),
	}
}

// PlainTheme has no colours at all: NO_COLOR and the NoColor option use it.
// Meaning never rests on colour alone (every state also has a word or a
// glyph), so nothing is lost but decoration.
func PlainTheme() Theme {
	n := lipgloss.NoColor{}
	return Theme{
		Text: n, Muted: n, Accent: n, Border: n, BorderFocus: n, SelectedFg: n, SelectedBg: n,
		OK: n, Warn: n, Bad: n, Exposed: n, Crown: n, CrownBg: n, BarFg: n, BarBg: n,
	}
}
