// Package tui is firebreak's terminal interface: a node list with a filter,
// keys to mark nodes compromised, failed or quarantined, and a journeys board
// and blast-radius list that follow every change.
//
// Structure: a root Model (app.go) routes messages, owns the scenario and the
// simulation runs, handles global keys and lays out three panes (nodes.go,
// journeys.go, blast.go) and the edges view that covers them (edges.go). Every pane follows one contract (common.go) and
// takes its styles and keys from one Common value; styles come from one
// Theme (theme.go, styles.go). Simulations run as commands over a snapshot
// of the scenario, tagged with a run id (scenario.go).
package tui

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/charmbracelet/bubbles/help"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/firebreak/firebreak/graph"
	"github.com/firebreak/firebreak/simulate"
)

// Session is what the TUI works on.
type Session struct {
	Title  string // e.g. "demo: Larkspur Outfitters" or the workspace path and revision
	Model  *graph.Model
	Engine *simulate.Engine // built over graph.Compile(Model); built here when nil
}

// Options are display choices, made once by the caller.
type Options struct {
	// NoColor renders without colour. The NO_COLOR environment variable
	// does the same.
	NoColor bool
	// Renderer renders styles, e.g. one per SSH session. Nil means
	// lipgloss's default renderer (the process's stdout).
	Renderer *lipgloss.Renderer
}

// New builds the root model. The empty scenario is simulated here, so the
// first frame already shows every journey's status. Problems with the
// session are shown in the status bar rather than returned.
func New(s Session, opts Options) Model {
	r := opts.Renderer
	if r == nil {
		r = lipgloss.DefaultRenderer()
	}
	var styles *Styles
	if opts.NoColor || os.Getenv("NO_COLOR") != "" {
		styles = PlainStyles(r)
	} else {
		// Ask the terminal for its background now, before the program
		// owns the input, and cache the answer for adaptive colours.
		r.HasDarkBackground()
		styles = DefaultStyles(r, DefaultTheme())
	}
	c := Common{Styles: styles, Keys: DefaultKeyMap()}

	model := s.Model
	if model == nil {
		model = &graph.Model{}
	}
	m := Model{
		common:   c,
		title:    s.Title,
		engine:   s.Engine,
		help:     newHelp(styles),
		nodes:    newNodesPane(c, model.Nodes),
		journeys: newJourneysPane(c),
		blast:    newBlastPane(c),
		edges:    newEdgesPane(c, model),
	}
	m = m.setFocus(paneNodes)
	if m.engine == nil && s.Model != nil {
		ix, err := graph.Compile(s.Model)
		if err != nil {
			m.err = fmt.Errorf("compile model: %w", err)
			return m
		}
		m.engine = simulate.New(ix, simulate.Options{})
	}
	if m.engine == nil {
		m.err = errors.New("no model to show")
		return m
	}
	if n := m.engine.Index().Len(); n != len(model.Nodes) {
		m.err = fmt.Errorf("engine has %d nodes but the model has %d: build the engine over this model", n, len(model.Nodes))
		m.engine = nil
		return m
	}
	m.edges = m.edges.SetIndex(m.engine.Index())
	out, err := evaluate(m.engine, simulate.Scenario{})
	if err != nil {
		m.err = err
		return m
	}
	return m.setOutcome(out)
}

func newHelp(s *Styles) help.Model {
	h := help.New()
	h.ShortSeparator = "  "
	h.Styles.ShortKey = s.Help.ShortKey
	h.Styles.ShortDesc = s.Help.ShortDesc
	h.Styles.ShortSeparator = s.Help.ShortSep
	h.Styles.Ellipsis = s.Help.ShortSep
	h.Styles.FullKey = s.Help.Key
	h.Styles.FullDesc = s.Help.Desc
	h.Styles.FullSeparator = s.Help.ShortSep
	return h
}

// Run shows the TUI on the terminal (alternate screen) until the user quits
// or ctx is cancelled. progOpts are added after firebreak's own, e.g. to
// redirect input and output.
func Run(ctx context.Context, s Session, opts Options, progOpts ...tea.ProgramOption) error {
	all := append([]tea.ProgramOption{tea.WithAltScreen(), tea.WithContext(ctx)}, progOpts...)
	_, err := tea.NewProgram(New(s, opts), all...).Run()
	if err != nil && ctx.Err() != nil && errors.Is(err, tea.ErrProgramKilled) {
		return ctx.Err()
	}
	return err
}
