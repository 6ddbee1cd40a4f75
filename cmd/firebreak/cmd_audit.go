package main

import "github.com/spf13/cobra"

// Placeholder, being written.
func (a *app) auditCmd() *cobra.Command {
	return &cobra.Command{Use: "audit", Short: "(not yet available)", Hidden: true}
}
