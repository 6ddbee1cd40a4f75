package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"text/tabwriter"
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

func describeAction(a contain.Action) string {
	if a.Kind == contain.Block {
		ports := "all ports"
		if len(a.Ports) > 0 {
			var ps []string
			for _, p := range a.Ports {
				ps = append(ps, p.String())
			}
			ports = strings.Join(ps, ",")
		}
		return fmt.Sprintf("block %s → %s on %s", a.From, a.To, ports)
	}
	return "quarantine " + a.Node
}

func stateText(r contain.ActionRecord, now time.Time) string {
	switch s := r.StateAt(now); s {
	case contain.StateProvisional:
		return fmt.Sprintf("provisional, reverts at %s (in %s) unless confirmed", r.Deadline.UTC().Format(time.RFC3339),
			r.Deadline.Sub(now).Truncate(time.Second))
	case contain.StateFailed:
		return "failed: " + r.Error
	default:
		return string(s)
	}
}

type actionJSON struct {
	ID       int64    `json:"id"`
	Kind     string   `json:"kind"`
	Node     string   `json:"node,omitempty"`
	From     string   `json:"from,omitempty"`
	To       string   `json:"to,omitempty"`
	Ports    []string `json:"ports,omitempty"`
	State    string   `json:"state"`
	Deadline string   `json:"deadline,omitempty"`
	LeftS    int64    `json:"time_left_s,omitempty"`
	Hosts    []string `json:"hosts"`
	Incident string   `json:"incident,omitempty"`
	Reason   string   `json:"reason,omitempty"`
	Who      string   `json:"who"`
	Error    string   `json:"error,omitempty"`
}

func actionToJSON(r contain.ActionRecord, now time.Time) actionJSON {
	j := actionJSON{ID: r.ID, Kind: r.Kind.String(), Node: r.Node, From: r.From, To: r.To, State: string(r.StateAt(now)),
		Hosts: r.Hosts, Incident: r.Incident, Reason: r.Reason, Who: r.Who, Error: r.Error}
	if j.Hosts == nil {
		j.Hosts = []string{}
	}
	for _, p := range r.Ports {
		j.Ports = append(j.Ports, p.String())
	}
	if !r.Deadline.IsZero() {
		j.Deadline = r.Deadline.UTC().Format(time.RFC3339)
		if j.State == string(contain.StateProvisional) {
			j.LeftS = int64(r.Deadline.Sub(now) / time.Second)
		}
	}
	return j
}

func outcomeJSON(out contain.Outcome, now time.Time) any {
	type host struct {
		Host       string `json:"host"`
		Target     string `json:"target"`
		Generation int64  `json:"generation"`
		Error      string `json:"error,omitempty"`
	}
	hosts := []host{}
	for _, h := range out.Hosts {
		hj := host{Host: h.Host, Target: h.Target, Generation: h.Generation}
		if h.Err != nil {
			hj.Error = h.Err.Error()
		}
		hosts = append(hosts, hj)
	}
	return struct {
		Action actionJSON `json:"action"`
		Reused bool       `json:"reused"`
		Hosts  []host     `json:"hosts"`
	}{actionToJSON(out.Record, now), out.Reused, hosts}
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

func statusJSON(recs []contain.ActionRecord, hosts []contain.HostStatus, now time.Time) any {
	type host struct {
		Host       string `json:"host"`
		Target     string `json:"target"`
		Generation int64  `json:"generation"`
		Applied    string `json:"applied"`
		InSync     bool   `json:"in_sync"`
		Drift      string `json:"drift,omitempty"`
		Error      string `json:"error,omitempty"`
	}
	out := struct {
		Actions []actionJSON `json:"actions"`
		Hosts   []host       `json:"hosts"`
	}{Actions: []actionJSON{}, Hosts: []host{}}
	for _, r := range recs {
		out.Actions = append(out.Actions, actionToJSON(r, now))
	}
	for _, h := range hosts {
		hj := host{Host: h.Host, Target: h.Target, Generation: h.Generation, Applied: h.Applied.UTC().Format(time.RFC3339), InSync: h.InSync, Drift: h.Drift}
		if h.Err != nil {
			hj.Error = h.Err.Error()
		}
		out.Hosts = append(out.Hosts, hj)
	}
	return out
}

func writeStatus(w io.Writer, recs []contain.ActionRecord, hosts []contain.HostStatus, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACTION\tWHAT\tSTATE\tHOSTS\tINCIDENT\tWHO\tREASON")
	for _, r := range recs {
		state := string(r.StateAt(now))
		if r.StateAt(now) == contain.StateProvisional {
			state = fmt.Sprintf("provisional, %s left", r.Deadline.Sub(now).Truncate(time.Second))
		}
		if r.Stored == contain.StateFailed {
			state = "failed: " + r.Error
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, describeAction(r.Action), state, dash(strings.Join(r.Hosts, ",")),
			dash(r.Incident), r.Who, dash(r.Reason))
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "HOST\tTARGET\tGENERATION\tAPPLIED\tLIVE")
	for _, h := range hosts {
		live := "in sync"
		switch {
		case h.Err != nil:
			live = "UNREACHABLE: " + h.Err.Error()
		case !h.InSync:
			live = "DRIFT: " + h.Drift
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", h.Host, h.Target, h.Generation, h.Applied.UTC().Format(time.RFC3339), live)
	}
	return tw.Flush()
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
		fmt.Fprintf(w, "# provisional: the kernel removes the new elements after %s unless confirmed\n", contain.NftDuration(ttl))
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
