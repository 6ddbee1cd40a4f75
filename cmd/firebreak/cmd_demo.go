package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/firebreak/firebreak/internal/demo"
)

func (a *app) demoCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Open the TUI on the embedded demo retailer (nothing is written)",
		Long: `Demo opens the TUI on an embedded, fictional online retailer: no set-up, no
workspace file, nothing left behind. With --write DIR it writes the demo out in the
native format instead, as a starting point for your own maps.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir != "" {
				if err := demo.Write(dir); err != nil {
					return err
				}
				for _, f := range demo.Files() {
					fmt.Fprintf(a.stdout, "wrote %s/%s\n", dir, f.Name)
				}
				return nil
			}
			m, err := demo.Model()
			if err != nil {
				return err
			}
			s, err := a.compile(0, m)
			if err != nil {
				return err
			}
			return a.openTUI(cmd.Context(), "demo: "+demo.Title, s)
		},
	}
	cmd.Flags().StringVar(&dir, "write", "", "write the demo's native files into DIR instead of opening the TUI")
	return cmd
}
