package main

import (
	"github.com/spf13/cobra"

	"github.com/firebreak/firebreak/graph"
)

func (a *app) dotCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "dot",
		Short: "Write the workspace's topology as a Graphviz digraph (dot -Tsvg to draw it)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.load(cmd.Context(), cmd, needModel)
			if err != nil {
				return err
			}
			return graph.WriteDOT(a.stdout, s.model)
		},
	}
}
