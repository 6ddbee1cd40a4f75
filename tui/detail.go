package tui

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak/firebreak/graph"
	"github.com/firebreak/firebreak/simulate"
)

// The detail line shows the focused pane's selection in full: a node's
// facts, a journey's cause, a blast-radius entry's attack path.

// addrString prints a single address without its /32 or /128.
func addrString(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

// nodeDetail: id, kind, crown jewel, addresses, runs_on, sources, then the
// scenario's marks and what the last run did to it.
func nodeDetail(n *graph.Node, pos int32, m mark, out *outcome) string {
	parts := []string{n.ID}
	if n.Name != "" && n.Name != n.ID {
		parts[0] += " (" + n.Name + ")"
	}
	parts = append(parts, string(n.Kind))
	if n.CrownJewel {
		parts = append(parts, "CROWN JEWEL")
	}
	if len(n.Addresses) > 0 {
		var as []string
		for i, a := range n.Addresses {
			if i == 3 {
				as = append(as, fmt.Sprintf("+%d", len(n.Addresses)-3))
				break
			}
			as = append(as, addrString(a))
		}
		parts = append(parts, strings.Join(as, ", "))
	}
	if n.RunsOn != "" {
		parts = append(parts, "runs on "+n.RunsOn)
	}
	// What happened to the node matters more during an incident than where
	// its record came from, so its state comes before its provenance (the
	// line is cut at the terminal's width; e shows every source in full).
	if m != 0 {
		parts = append(parts, "marked "+markWords(m))
	}
	if st := nodeState(pos, out); st != "" {
		parts = append(parts, st)
	}
	if len(n.Sources) > 0 {
		parts = append(parts, "sources: "+strings.Join(n.Sources, ", "))
	}
	return strings.Join(parts, " · ")
}

func markWords(m mark) string {
	var w []string
	if m&markCompromised != 0 {
		w = append(w, "compromised")
	}
	if m&markFailed != 0 {
		w = append(w, "failed")
	}
	if m&markQuarantined != 0 {
		w = append(w, "quarantined")
	}
	return strings.Join(w, "+")
}

// nodeState says what the last run did to node pos.
func nodeState(pos int32, out *outcome) string {
	if out == nil || int(pos) >= len(out.nodes) {
		return ""
	}
	ns := out.nodes[pos]
	var w []string
	if ns.flags&stReached != 0 {
		w = append(w, fmt.Sprintf("compromised at hop %d", ns.hops))
	}
	if ns.flags&(stFailed|stDegraded) != 0 {
		word := "down"
		if ns.flags&stFailed == 0 {
			word = "degraded"
		}
		if c, ok := out.result.CauseOf(pos); ok {
			if c.By >= 0 {
				word += fmt.Sprintf(": %s ← %s", c.Reason, out.result.Index().ID(c.By))
			} else {
				word += fmt.Sprintf(" (%s)", c.Reason)
			}
		}
		w = append(w, word)
	}
	return strings.Join(w, ", ")
}

// journeyDetail: name, tier, weight, cause.
func journeyDetail(r journeyRow) string {
	j := r.j
	parts := []string{j.ID}
	if j.Name != "" && j.Name != j.ID {
		parts[0] = j.Name + " (" + j.ID + ")"
	}
	if j.Tier != "" {
		parts = append(parts, j.Tier)
	}
	parts = append(parts, fmt.Sprintf("%s customers/h, %s revenue/h", thousands(j.CustomersPerHour), thousands(j.RevenuePerHour)))
	w := statusWord(r.status)
	if r.exposed {
		w += "+EXPOSED"
	}
	parts = append(parts, w)
	if r.cause != "" {
		parts = append(parts, r.cause)
	}
	return strings.Join(parts, " · ")
}

// blastDetail: the attack path to the entry's node.
func blastDetail(r blastRow, out *outcome) string {
	if out == nil {
		return r.id
	}
	path := out.result.Path(r.node)
	ids := make([]string, len(path))
	for i, d := range path {
		ids[i] = out.result.Index().ID(d)
	}
	s := strings.Join(ids, " → ") + " · " + plural(int(r.hops), "hop") + " · T+" + simulate.FormatSeconds(max(r.at, 0))
	if r.hops == 0 && len(path) == 1 {
		s = r.id + " · seed: marked compromised"
	} else if early := out.result.EarliestPath(r.node); len(early) > 0 && !slices.Equal(early, path) {
		eids := make([]string, len(early))
		for i, d := range early {
			eids[i] = out.result.Index().ID(d)
		}
		s += " · soonest via " + strings.Join(eids, " → ")
	}
	if r.crown {
		s += " · CROWN JEWEL"
	}
	return s
}

// thousands formats a rate as a rounded integer with thousands separators.
func thousands(f float64) string {
	neg := f < 0
	if neg {
		f = -f
	}
	s := strconv.FormatFloat(f, 'f', 0, 64)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// plural writes "1 hop", "2 hops".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// edgeFacts are an edge's facts in three paragraphs: what it is, what was
// observed on it, and where it comes from (its full provenance).
func edgeFacts(e *graph.Edge) []string {
	what := []string{e.From + " → " + e.To}
	if len(e.Ports) == 0 {
		what = append(what, "any port")
	} else {
		what = append(what, "ports "+portList(e.Ports))
	}
	what = append(what, e.Dependency.String()+" dependency")
	if e.Group != "" {
		what = append(what, "group "+e.Group)
	}
	seen := "not observed"
	if o := e.Observed; o != nil {
		w := []string{"observed count " + thousands(float64(o.Count))}
		if o.Bytes > 0 {
			w = append(w, thousands(float64(o.Bytes))+" bytes")
		}
		if o.FirstSeen > 0 {
			w = append(w, "first "+utcTime(o.FirstSeen))
		}
		if o.LastSeen > 0 {
			w = append(w, "last "+utcTime(o.LastSeen))
		}
		seen = strings.Join(w, " · ")
	}
	src := "sources: none recorded"
	if len(e.Sources) > 0 {
		src = "sources: " + strings.Join(e.Sources, ", ")
	}
	return []string{strings.Join(what, " · "), seen, src}
}

// edgeDetail is the detail line of an edge: every fact on one line.
func edgeDetail(e *graph.Edge) string { return strings.Join(edgeFacts(e), " · ") }

// portList prints ports compactly; empty means any port.
func portList(ps []graph.PortRange) string {
	if len(ps) == 0 {
		return "any"
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// sourceFormats names the formats that reported an edge ("jaeger:deps.json"
// is jaeger), for the list column; the detail has the files.
func sourceFormats(sources []string) string {
	var out []string
	for _, s := range sources {
		f, _, _ := strings.Cut(s, ":")
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return strings.Join(out, "+")
}

// compactCount writes a count in at most 5 cells: 950, 12.3k, 4.5M.
func compactCount(n uint64) string {
	switch {
	case n < 10_000:
		return strconv.FormatUint(n, 10)
	case n < 1_000_000:
		return strconv.FormatFloat(float64(n)/1e3, 'f', 1, 64) + "k"
	case n < 1_000_000_000:
		return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + "M"
	}
	return strconv.FormatFloat(float64(n)/1e9, 'f', 1, 64) + "G"
}

// utcTime prints Unix seconds as a UTC minute.
func utcTime(sec int64) string { return time.Unix(sec, 0).UTC().Format("2006-01-02 15:04 UTC") }
