package main

import (
	"github.com/spf13/cobra"

	"github.com/firebreak/firebreak/graph"
	"github.com/firebreak/firebreak/simulate"
)

func (a *app) simulateCmd() *cobra.Command {
	var (
		sc     simulate.Scenario
		blocks []string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Simulate a compromise, failure or containment on the workspace",
		Long: `Simulate spreads a compromise from --compromise, propagates failure from --fail,
and applies containment what-ifs (--quarantine, --block FROM:TO), then reports the
blast radius with hop counts and attack paths, failed and degraded nodes, and the
status of every customer journey. Node lists are comma-separated or repeated.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.load(cmd.Context(), cmd, needIndex)
			if err != nil {
				return err
			}
			known := func(id string) bool { _, ok := s.index.Lookup(id); return ok }
			for _, b := range blocks {
				ref, err := simulate.ParseEdgeRef(b, known)
				if err != nil {
					return err
				}
				sc.Blocked = append(sc.Blocked, ref)
			}
			res, err := s.engine.Run(sc)
			if err != nil {
				return err
			}
			rep := res.Report()
			if asJSON {
				return graph.WriteJSON(a.stdout, rep)
			}
			return rep.WriteText(a.stdout)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&sc.Compromised, "compromise", nil, "compromised node ids")
	f.StringSliceVar(&sc.Failed, "fail", nil, "failed node ids")
	f.StringSliceVar(&sc.Quarantined, "quarantine", nil, "node ids to quarantine (what-if)")
	f.StringSliceVar(&blocks, "block", nil, "edges to block, FROM:TO (what-if)")
	f.BoolVar(&sc.CompromisedOffline, "offline", false, "take compromised nodes offline (they fail too)")
	f.BoolVar(&asJSON, "json", false, "write the result as JSON")
	return cmd
}
