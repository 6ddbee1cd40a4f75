package main

import "github.com/spf13/cobra"

// Placeholder, being written.
func (a *app) agentCmd() *cobra.Command {
	return &cobra.Command{Use: "agent", Short: "(not yet available)", Hidden: true}
}
