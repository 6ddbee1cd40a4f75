package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/firebreak/firebreak/tui"
)

func (a *app) tuiCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "tui",
		Short: "Open the terminal UI on the workspace (the default command)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return a.runTUI(cmd.Context(), cmd) },
	}
}

func (a *app) runTUI(ctx context.Context, cmd *cobra.Command) error {
	s, err := a.load(ctx, cmd, needModel)
	if err != nil {
		return err
	}
	return a.openTUI(ctx, fmt.Sprintf("%s @ revision %d", a.cfg.Workspace, s.rev), s)
}

func (a *app) openTUI(ctx context.Context, title string, s *snapshot) error {
	_, noColor := os.LookupEnv("NO_COLOR")
	return tui.Run(ctx, tui.Session{Title: title, Model: s.model, Engine: s.engine}, tui.Options{NoColor: noColor})
}
