package main

import "github.com/spf13/cobra"

// Placeholder, being written.
func (a *app) labCmd() *cobra.Command {
	return &cobra.Command{Use: "lab", Short: "(not yet available)", Hidden: true}
}
