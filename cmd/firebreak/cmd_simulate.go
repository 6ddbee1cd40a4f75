package main

import (
	"encoding/json"
	"strings"

	"github.com/spf13/cobra"

	"github.com/firebreak/firebreak/contain"
	"github.com/firebreak/firebreak/graph"
	"github.com/firebreak/firebreak/simulate"
)

func (a *app) simulateCmd() *cobra.Command {
	var (
		sc       simulate.Scenario
		blocks   []string
		asJSON   bool
		trials   int
		seed     uint64
		incident string
		reason   string
	)
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Simulate a compromise, failure or containment on the workspace",
		Long: `Simulate spreads a compromise from --compromise, propagates failure from --fail,
and applies containment what-ifs (--quarantine, --block FROM:TO), then reports the
blast radius with hop counts, earliest compromise times and attack paths, failed and
degraded nodes, and the status of every customer journey. Node lists are
comma-separated or repeated.

Each edge's dwell time and success probability come from its port class
(simulate.port_classes in the config). --at limits the blast radius to what is
compromised by then; --trials runs seeded Monte Carlo trials of probabilistic
spread and adds per-node, per-crown-jewel and per-journey probabilities.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("trials") && (trials < 1 || trials > simulate.MaxTrials) {
				return usagef("--trials must be 1..%d", simulate.MaxTrials)
			}
			if sc.At < 0 {
				return usagef("--at must not be negative")
			}
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
			sc.Timed = true
			res, err := s.engine.Run(sc)
			if err != nil {
				return err
			}
			rep := res.Report()
			if trials > 0 {
				mc, err := s.engine.MonteCarlo(cmd.Context(), sc, simulate.MCOptions{Trials: trials, Seed: seed})
				if err != nil {
					return err
				}
				rep.MonteCarlo = mc.Report(s.index)
			}
			if incident != "" {
				if err := a.auditSimulation(cmd, s.rev, sc, trials, seed, incident, reason, rep); err != nil {
					return err
				}
			}
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
	f.BoolVar(&sc.LateralOnly, "lateral-only", false, "spread only over lateral-movement port classes (SSH, RDP, SMB…)")
	f.DurationVar(&sc.At, "at", 0, "blast radius at this time after the compromise, e.g. 30m or 2h (default: no limit)")
	f.IntVar(&trials, "trials", 0, "Monte Carlo trials of probabilistic spread (0: none)")
	f.Uint64Var(&seed, "seed", 1, "seed for the Monte Carlo trials: the same seed gives the same answer")
	f.BoolVar(&asJSON, "json", false, "write the result as JSON")
	f.StringVar(&incident, "incident", "", "record this run in the audit log under this incident id")
	f.StringVar(&reason, "reason", "", "why the run was made (audit log)")
	return cmd
}

// auditSimulation appends a simulation run on an incident to the audit log:
// the scenario asked and what it predicted.
func (a *app) auditSimulation(cmd *cobra.Command, rev int64, sc simulate.Scenario, trials int, seed uint64, incident, reason string, rep simulate.Report) error {
	audit, done, err := a.openAudit()
	if err != nil {
		return err
	}
	defer done()
	detail, err := json.Marshal(map[string]any{
		"revision": rev, "seeds": rep.Seeds, "trials": trials, "seed": seed,
		"reached": len(rep.Reached), "crown_jewels_reached": rep.CrownJewelsReached, "impact": rep.Impact,
	})
	if err != nil {
		return err
	}
	target := strings.Join(append(append(append([]string{}, sc.Compromised...), sc.Failed...), sc.Quarantined...), ",")
	_, err = audit.Append(cmd.Context(), contain.Entry{Incident: incident, Action: "simulate", Target: target,
		Detail: detail, Reason: reason, Who: contain.CurrentOperator()})
	return err
}
