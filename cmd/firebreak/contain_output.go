package main

// How containment results are shown: the outcome of a change, the status
// table, their JSON shapes, and the dry-run header.

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/firebreak/firebreak/contain"
)

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
