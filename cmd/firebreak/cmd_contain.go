package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/firebreak/firebreak/contain"
	"github.com/firebreak/firebreak/graph"
	"github.com/firebreak/firebreak/simulate"
)

func (a *app) containCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "contain",
		Short: "Quarantine hosts and block flows with nftables, commit-confirmed",
		Long: `Containment writes one nftables table, inet firebreak, on each affected host, in one
atomic batch, and never touches any other table. Management access (contain.management
in the config) is always kept. Every change is provisional: its drop rules only match
while set elements with a timeout exist, so the kernel itself reverts it after --ttl unless
you run "contain confirm", even if firebreak and your SSH session are gone.`,
	}
	cmd.PersistentFlags().String("incident", "", "incident id recorded in the audit log")
	cmd.PersistentFlags().String("reason", "", "why: recorded in the audit log")
	cmd.PersistentFlags().Bool("json", false, "write the result as JSON")
	addAgentClientFlags(cmd.PersistentFlags())
	cmd.PersistentFlags().Bool("wait", false, "stay in the foreground, showing the time left, until the action is confirmed, released or reverts")
	cmd.AddCommand(a.quarantineCmd(), a.blockCmd(), a.confirmCmd(), a.releaseCmd(), a.statusCmd())
	return cmd
}

// containment is an open controller with what closes it.
type containment struct {
	ctl   *contain.Controller
	ws    *graph.Workspace
	model *graph.Model
}

func (c *containment) Close() { c.ws.Close() }

// openContainment loads the newest revision and wires the controller to the
// workspace's state, the audit log and the hosts' targets. A read-only
// containment (dry-runs) writes nothing to the workspace.
func (a *app) openContainment(cmd *cobra.Command, write bool) (*containment, error) {
	if err := a.requireManagement(); err != nil {
		return nil, err
	}
	s, err := a.load(cmd.Context(), cmd, needModel)
	if err != nil {
		return nil, err
	}
	ws, err := a.workspace()
	if err != nil {
		return nil, err
	}
	openStore := contain.ReadStore
	if write {
		openStore = contain.OpenStore
	}
	store, err := openStore(cmd.Context(), ws)
	if err != nil {
		ws.Close()
		return nil, err
	}
	tlsConf, err := agentClientTLS(cmd)
	if err != nil {
		ws.Close()
		return nil, err
	}
	opts := contain.TargetOptions{AgentTLS: tlsConf, AgentNetNS: a.cfg.Contain.AgentNetNS, Timeout: 15 * time.Second}
	incident, _ := cmd.Flags().GetString("incident")
	ctl := &contain.Controller{
		Model: s.model, Revision: s.rev, Policy: a.cfg.Contain.Policy, Store: store,
		Open: func(target string) (contain.Target, error) { return contain.OpenTarget(target, opts) },
		Now:  time.Now,
		Who:  contain.CurrentOperator(), Incident: incident,
	}
	if write {
		audit, err := contain.OpenAudit(ws)
		if err != nil {
			ws.Close()
			return nil, err
		}
		ctl.Record = func(ctx context.Context, tx *sql.Tx, ev contain.Event) error {
			detail, err := json.Marshal(ev.Detail)
			if err != nil {
				return err
			}
			_, err = audit.AppendTx(ctx, tx, contain.Entry{Incident: ev.Incident, Action: ev.Action, Target: ev.Target,
				Detail: detail, Reason: ev.Reason, Who: ev.Who})
			return err
		}
	}
	c := &containment{ws: ws, model: s.model}
	c.ctl = ctl
	return c, nil
}

func (a *app) ttlFlag(cmd *cobra.Command) time.Duration {
	if ttl, _ := cmd.Flags().GetDuration("ttl"); ttl > 0 {
		return ttl
	}
	return a.cfg.Contain.TTL
}

func (a *app) quarantineCmd() *cobra.Command {
	var keep []string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "quarantine ID",
		Short: "Isolate a host: drop all traffic in and out except management access",
		Long: `Quarantine isolates the host a node runs on: every packet in and out is dropped,
existing connections included, except the management allowlist and peers given with
--keep. It is provisional for --ttl (default 5m): confirm it or it reverts by itself.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.openContainment(cmd, !dryRun)
			if err != nil {
				return err
			}
			defer c.Close()
			var peers []netip.Prefix
			for _, k := range keep {
				p, err := keepPrefixes(c.model, k)
				if err != nil {
					return err
				}
				peers = append(peers, p...)
			}
			ttl := a.ttlFlag(cmd)
			if dryRun {
				plans, err := c.ctl.Preview(cmd.Context(), contain.Action{Kind: contain.Quarantine, Node: args[0], Keep: peers}, ttl)
				if err != nil {
					return err
				}
				return writeDryRun(a.stdout, "quarantine "+args[0], ttl, a.cfg.Contain.Policy, plans)
			}
			reason, _ := cmd.Flags().GetString("reason")
			out, err := c.ctl.Quarantine(cmd.Context(), args[0], ttl, peers, reason)
			return a.report(cmd, out, err)
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the nftables ruleset that would be applied, change nothing")
	cmd.Flags().Duration("ttl", 0, "revert by itself after this long unless confirmed (default from config, 5m)")
	cmd.Flags().StringSliceVar(&keep, "keep", nil, "peers (node ids, addresses or CIDRs) whose traffic the quarantine keeps")
	return cmd
}

func (a *app) blockCmd() *cobra.Command {
	var ports []string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "block FROM:TO",
		Short: "Drop one flow: FROM to TO on the edge's ports (or --ports)",
		Long: `Block drops traffic from FROM's addresses to TO's on the given ports, on TO's host
(inbound) and, where firebreak can reach it, FROM's host (outbound). It is provisional
for --ttl like a quarantine.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.openContainment(cmd, !dryRun)
			if err != nil {
				return err
			}
			defer c.Close()
			known := func(id string) bool { _, ok := c.model.NodeByID(id); return ok }
			ref, err := simulate.ParseEdgeRef(args[0], known)
			if err != nil {
				return err
			}
			edge, ok := c.model.EdgeByKey(graph.EdgeKey{From: ref.From, To: ref.To})
			if !ok {
				return usagef("block %s: no such edge", args[0])
			}
			pr := edge.Ports
			if len(ports) > 0 {
				pr = nil
				for _, p := range ports {
					r, err := graph.ParsePortRange(p)
					if err != nil {
						return usagef("--ports %q: %v", p, err)
					}
					pr = append(pr, r)
				}
			}
			ttl := a.ttlFlag(cmd)
			if dryRun {
				plans, err := c.ctl.Preview(cmd.Context(), contain.Action{Kind: contain.Block, From: ref.From, To: ref.To, Ports: pr}, ttl)
				if err != nil {
					return err
				}
				return writeDryRun(a.stdout, "block "+args[0], ttl, a.cfg.Contain.Policy, plans)
			}
			reason, _ := cmd.Flags().GetString("reason")
			out, err := c.ctl.Block(cmd.Context(), ref.From, ref.To, pr, ttl, reason)
			return a.report(cmd, out, err)
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the nftables rulesets that would be applied, change nothing")
	cmd.Flags().Duration("ttl", 0, "revert by itself after this long unless confirmed (default from config, 5m)")
	cmd.Flags().StringSliceVar(&ports, "ports", nil, "ports to block, e.g. 443/tcp,53/udp (default: the edge's ports)")
	return cmd
}

func (a *app) actionCmd(use, short string, run func(*contain.Controller, context.Context, int64, string) (contain.Outcome, error)) *cobra.Command {
	return &cobra.Command{
		Use:   use + " ACTION",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(strings.TrimPrefix(args[0], "#"), 10, 64)
			if err != nil || id <= 0 {
				return usagef("%q is not an action number (see contain status)", args[0])
			}
			c, err := a.openContainment(cmd, true)
			if err != nil {
				return err
			}
			defer c.Close()
			reason, _ := cmd.Flags().GetString("reason")
			out, err := run(c.ctl, cmd.Context(), id, reason)
			return a.report(cmd, out, err)
		},
	}
}

func (a *app) confirmCmd() *cobra.Command {
	return a.actionCmd("confirm", "Make a provisional action stick until released",
		func(c *contain.Controller, ctx context.Context, id int64, reason string) (contain.Outcome, error) {
			return c.Confirm(ctx, id, reason)
		})
}

func (a *app) releaseCmd() *cobra.Command {
	return a.actionCmd("release", "Remove an action, restoring its hosts' previous firebreak state",
		func(c *contain.Controller, ctx context.Context, id int64, reason string) (contain.Outcome, error) {
			return c.Release(ctx, id, reason)
		})
}

// report prints an outcome. A failure still prints what happened on every
// host before the error.
func (a *app) report(cmd *cobra.Command, out contain.Outcome, err error) error {
	if asJSON, _ := cmd.Flags().GetBool("json"); asJSON && (err == nil || out.Record.ID != 0) {
		if jerr := graph.WriteJSON(a.stdout, outcomeJSON(out, time.Now())); jerr != nil {
			return jerr
		}
		return err
	}
	if out.Record.ID == 0 {
		return err
	}
	now := time.Now()
	r := out.Record
	verb := describeAction(r.Action)
	switch {
	case out.Reused:
		fmt.Fprintf(a.stdout, "action %d: %s was already in place (%s); re-applied\n", r.ID, verb, stateText(r, now))
	default:
		fmt.Fprintf(a.stdout, "action %d: %s — %s\n", r.ID, verb, stateText(r, now))
	}
	for _, h := range out.Hosts {
		status := fmt.Sprintf("applied, generation %d", h.Generation)
		if h.Err != nil {
			status = "FAILED: " + h.Err.Error()
		}
		fmt.Fprintf(a.stdout, "  %-20s %-36s %s\n", h.Host, h.Target, status)
	}
	if err == nil && r.StateAt(now) == contain.StateProvisional {
		fmt.Fprintf(a.stdout, "Keep it: firebreak contain confirm %d    Undo now: firebreak contain release %d\n", r.ID, r.ID)
		if wait, _ := cmd.Flags().GetBool("wait"); wait {
			return a.waitFor(cmd, r.ID)
		}
	}
	return err
}

// waitFor follows a provisional action until it is confirmed, released or
// reverts. Nothing depends on this process: killing it changes nothing, the
// kernel still reverts the action on time.
func (a *app) waitFor(cmd *cobra.Command, id int64) error {
	ctx := cmd.Context()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		ws, err := a.workspace()
		if err != nil {
			return err
		}
		store, err := contain.ReadStore(ctx, ws)
		var r contain.ActionRecord
		if err == nil {
			r, err = store.Get(ctx, store.DB(), id)
		}
		ws.Close()
		if err != nil {
			return err
		}
		now := time.Now()
		if s := r.StateAt(now); s != contain.StateProvisional {
			fmt.Fprintf(a.stdout, "action %d is %s\n", id, s)
			return nil
		}
		fmt.Fprintf(a.stdout, "action %d: provisional, %s left\n", id, r.Deadline.Sub(now).Truncate(time.Second))
		select {
		case <-ctx.Done():
			fmt.Fprintf(a.stdout, "stopped waiting; action %d still reverts at %s unless confirmed\n", id, r.Deadline.UTC().Format(time.RFC3339))
			return nil
		case <-tick.C:
		}
	}
}

func (a *app) statusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Every action with its state, and each host's generation and drift",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.openContainment(cmd, false)
			if err != nil {
				return err
			}
			defer c.Close()
			recs, hosts, err := c.ctl.Status(cmd.Context())
			if err != nil {
				return err
			}
			now := time.Now()
			if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
				return graph.WriteJSON(a.stdout, statusJSON(recs, hosts, now))
			}
			return writeStatus(a.stdout, recs, hosts, now)
		},
	}
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
