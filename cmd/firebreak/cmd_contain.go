package main

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/firebreak/firebreak/contain"
	"github.com/firebreak/firebreak/graph"
)

func (a *app) containCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "contain",
		Short: "Quarantine hosts and block flows with nftables, commit-confirmed",
	}
	cmd.AddCommand(a.quarantineCmd())
	return cmd
}

func (a *app) quarantineCmd() *cobra.Command {
	var (
		dryRun bool
		ttl    time.Duration
		keep   []string
	)
	cmd := &cobra.Command{
		Use:   "quarantine ID",
		Short: "Isolate a host: drop all traffic in and out except management access",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !dryRun {
				return usagef("live apply is not available yet; use --dry-run to see the ruleset")
			}
			s, err := a.load(cmd.Context(), cmd, needModel)
			if err != nil {
				return err
			}
			if ttl == 0 {
				ttl = a.cfg.Contain.TTL
			}
			act := contain.Action{ID: 1, Kind: contain.Quarantine, Node: args[0]}
			for _, k := range keep {
				p, err := keepPrefixes(s.model, k)
				if err != nil {
					return err
				}
				act.Keep = append(act.Keep, p...)
			}
			now := time.Now()
			act.Deadline = now.Add(ttl)
			if err := a.requireManagement(); err != nil {
				return err
			}
			plans, err := contain.Plan(s.model, a.cfg.Contain.Policy, []contain.Action{act}, now)
			if err != nil {
				return err
			}
			return writeDryRun(a.stdout, fmt.Sprintf("quarantine %s", args[0]), ttl, a.cfg.Contain.Policy, plans)
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the nftables ruleset that would be applied, change nothing")
	cmd.Flags().DurationVar(&ttl, "ttl", 0, "revert by itself after this long unless confirmed (default from config, 5m)")
	cmd.Flags().StringSliceVar(&keep, "keep", nil, "peers (node ids, addresses or CIDRs) whose traffic the quarantine keeps")
	return cmd
}

// requireManagement refuses containment when no management network is
// configured: a quarantine without one would cut the responders off too.
func (a *app) requireManagement() error {
	if len(a.cfg.Contain.Policy.Management) == 0 {
		return usagef("no management allowlist configured: set contain.management.cidrs in %s, FIREBREAK_CONTAIN_MANAGEMENT_CIDRS or --mgmt-cidr, so containment cannot lock responders out", configFileName)
	}
	return nil
}

// keepPrefixes resolves a --keep value: a node id (its addresses) or a CIDR.
func keepPrefixes(m *graph.Model, s string) ([]netip.Prefix, error) {
	if _, ok := m.NodeByID(s); ok {
		return contain.Addresses(m, s)
	}
	p, err := parsePrefix(s)
	if err != nil {
		return nil, usagef("--keep %q: not a node id, address or CIDR", s)
	}
	return []netip.Prefix{p}, nil
}

func writeDryRun(w io.Writer, what string, ttl time.Duration, pol contain.Policy, plans []contain.HostPlan) error {
	var mg []string
	for _, p := range pol.Management {
		mg = append(mg, p.String())
	}
	var ports []string
	for _, p := range pol.ManagementPorts {
		ports = append(ports, fmt.Sprint(p))
	}
	ports = append(ports, fmt.Sprintf("%d (agent)", pol.AgentPort))
	for i, p := range plans {
		if i > 0 {
			fmt.Fprintln(w)
		}
		target := p.Target
		if target == "" {
			target = "no enforce target set: firebreak cannot reach this host"
		}
		fmt.Fprintf(w, "# firebreak dry-run: %s\n", what)
		fmt.Fprintf(w, "# host %s (%s)\n", p.Host, target)
		fmt.Fprintf(w, "# provisional: the kernel removes the quarantine elements after %s unless confirmed\n", contain.NftDuration(ttl))
		fmt.Fprintf(w, "# management kept: %s on tcp %s\n", strings.Join(mg, ", "), strings.Join(ports, ", "))
		for _, n := range p.Notes {
			fmt.Fprintf(w, "# note: %s\n", n)
		}
		if err := contain.Render(w, p.Ruleset); err != nil {
			return err
		}
	}
	return nil
}
