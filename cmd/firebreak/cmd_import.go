package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/firebreak/firebreak/graph"
)

func (a *app) importCmd() *cobra.Command {
	var note string
	cmd := &cobra.Command{
		Use:   "import FILE...",
		Short: "Import topology and journey files as a new workspace revision",
		Long: `Import reads every FILE, validates them together, and stores them as one new
revision of the workspace in a single transaction. If any file is bad, nothing is
written: the workspace stays exactly as it was (and is not created).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			var docs []*graph.Document
			for _, f := range files {
				data, err := os.ReadFile(f)
				if err != nil {
					return usagef("%v", err)
				}
				d, err := graph.ParseNative(f, data)
				if err != nil {
					return err
				}
				docs = append(docs, d)
			}
			m, err := graph.Build(docs...)
			if err != nil {
				return err
			}
			ix, err := graph.Compile(m)
			if err != nil {
				return err
			}
			ws, err := graph.Open(a.cfg.Workspace)
			if err != nil {
				return err
			}
			defer ws.Close()
			rev, err := ws.Import(cmd.Context(), m, ix, graph.RevisionMeta{CreatedBy: operator(), Note: note, Sources: files})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "imported revision %d into %s: %d nodes, %d edges, %d journeys\n",
				rev, a.cfg.Workspace, len(m.Nodes), len(m.Edges), len(m.Journeys))
			return nil
		},
	}
	cmd.Flags().StringVar(&note, "note", "", "a note stored with the revision")
	return cmd
}
