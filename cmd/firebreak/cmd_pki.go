package main

import "github.com/spf13/cobra"

// Placeholder, being written.
func (a *app) pkiCmd() *cobra.Command {
	return &cobra.Command{Use: "pki", Short: "(not yet available)", Hidden: true}
}
