package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/user"

	"github.com/spf13/cobra"

	"github.com/firebreak/firebreak/graph"
	"github.com/firebreak/firebreak/simulate"
)

// app carries the streams and the config of one invocation to the commands.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	cfg            Config
}

func newRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "firebreak",
		Short: "See what a compromise or outage breaks for customers, and contain it safely",
		Long: `firebreak imports a network topology and customer-journey maps into one graph,
simulates a compromised or failed node, shows the blast radius and which customer
journeys break or are exposed, and applies containment as nftables quarantine rules
with a commit-confirmed rollback. With no command it opens the TUI on the workspace.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			a.cfg = cfg
			return err
		},
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.runTUI(cmd.Context(), cmd) },
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	addConfigFlags(root.PersistentFlags())
	root.PersistentFlags().Int64("rev", 0, "workspace revision to read (default: the newest)")
	root.AddCommand(
		a.demoCmd(),
		a.importCmd(),
		a.nodesCmd(),
		a.edgesCmd(),
		a.journeysCmd(),
		a.revisionsCmd(),
		a.diffCmd(),
		a.simulateCmd(),
		a.genCmd(),
		a.dotCmd(),
		a.auditCmd(),
		a.agentCmd(),
		a.pkiCmd(),
		a.labCmd(),
		a.containCmd(),
		a.tuiCmd(),
	)
	// Wrong argument counts are usage errors (exit 2) like unknown flags.
	for _, c := range root.Commands() {
		wrapArgs(c)
	}
	return root
}

func wrapArgs(c *cobra.Command) {
	if c.Args != nil {
		orig := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := orig(cmd, args); err != nil {
				return usageError{err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		wrapArgs(sub)
	}
}

// workspace opens the configured workspace, which must exist.
func (a *app) workspace() (*graph.Workspace, error) {
	return graph.OpenExisting(a.cfg.Workspace)
}

// snapshot is one revision loaded for reading: its index and an engine over
// it, and the full model when the command needs node details.
type snapshot struct {
	rev    int64
	model  *graph.Model // nil unless asked for
	index  *graph.Index
	engine *simulate.Engine
}

// need says what a command reads from a revision.
type need uint8

const (
	needIndex need = iota // simulation only: the cached index, one blob read
	needModel             // node and edge details as well
)

// load reads the revision named by --rev (default the newest).
func (a *app) load(ctx context.Context, cmd *cobra.Command, what need) (*snapshot, error) {
	ws, err := a.workspace()
	if err != nil {
		return nil, err
	}
	defer ws.Close()
	rev, _ := cmd.Flags().GetInt64("rev")
	if rev == 0 {
		if rev, err = ws.Latest(ctx); err != nil {
			return nil, fmt.Errorf("workspace %s: %w", a.cfg.Workspace, err)
		}
	} else if _, err := ws.Revision(ctx, rev); errors.Is(err, graph.ErrNotFound) {
		return nil, usagef("revision %d: not in workspace %s", rev, a.cfg.Workspace)
	}
	s := &snapshot{rev: rev}
	if what == needModel {
		if s.model, err = ws.Load(ctx, rev); err != nil {
			return nil, err
		}
	}
	if s.index, err = ws.Index(ctx, rev); err != nil {
		return nil, err
	}
	s.engine = simulate.New(s.index, a.cfg.Simulate)
	return s, nil
}

// compile builds a snapshot from a model held in memory (the demo).
func (a *app) compile(rev int64, m *graph.Model) (*snapshot, error) {
	ix, err := graph.Compile(m)
	if err != nil {
		return nil, fmt.Errorf("revision %d: %w", rev, err)
	}
	return &snapshot{rev: rev, model: m, index: ix, engine: simulate.New(ix, a.cfg.Simulate)}, nil
}

// operator names who is acting, for revisions and the audit log.
func operator() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}
