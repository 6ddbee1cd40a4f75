package importer

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/firebreak/firebreak/graph"
)

// MergeReport lists the disagreements between sources.
type MergeReport struct {
	Conflicts []string
}

// precedence ranks formats by how deliberately they state a fact: what
// someone wrote down (native files) over declared configuration (manifests,
// catalogs, diagrams) over observed calls (traces) over observed packets
// (flows) over scans. On a disagreement the higher rank wins.
func precedence(source string) int {
	format, _, _ := strings.Cut(source, ":")
	switch format {
	case "native":
		return 5
	case "k8s", "backstage", "dot":
		return 4
	case "jaeger", "otel":
		return 3
	case "vpcflow", "zeek", "conntrack", "nfdump":
		return 2
	case "nmap":
		return 1
	}
	return 0
}

func rank(sources []string) int {
	r := 0
	for _, s := range sources {
		r = max(r, precedence(s))
	}
	return r
}

// Merge combines base (may be nil) and fragments into one model: nodes by id,
// edges by (from, to), journeys by id. Lists are unions, observed traffic is
// summed, and where two sources disagree on a single value the one with the
// higher precedence wins and the disagreement is reported. Provenance (the
// Sources of every node and edge) is the union of all contributors'.
func Merge(base *graph.Model, frags []*Fragment) (*graph.Model, MergeReport, error) {
	var rep MergeReport
	nodes := map[string]*graph.Node{}
	edges := map[graph.EdgeKey]*graph.Edge{}
	journeys := map[string]*graph.Journey{}
	conflict := func(format string, args ...any) { rep.Conflicts = append(rep.Conflicts, fmt.Sprintf(format, args...)) }

	addNode := func(n graph.Node) {
		cur, ok := nodes[n.ID]
		if !ok {
			c := n
			c.Labels = copyLabels(n.Labels)
			nodes[n.ID] = &c
			return
		}
		mergeNode(cur, n, conflict)
	}
	addEdge := func(e graph.Edge) {
		cur, ok := edges[e.Key()]
		if !ok {
			c := e
			if e.Observed != nil {
				o := *e.Observed
				c.Observed = &o
			}
			edges[e.Key()] = &c
			return
		}
		mergeEdge(cur, e, conflict)
	}
	addJourney := func(j graph.Journey, src string) {
		if cur, ok := journeys[j.ID]; ok {
			conflict("journey %s: defined again in %s; the first definition is kept", j.ID, src)
			_ = cur
			return
		}
		c := j
		journeys[j.ID] = &c
	}
	if base != nil {
		for _, n := range base.Nodes {
			addNode(n)
		}
		for _, e := range base.Edges {
			addEdge(e)
		}
		for _, j := range base.Journeys {
			addJourney(j, "the base revision")
		}
	}
	for _, f := range frags {
		for _, n := range f.Nodes {
			addNode(n)
		}
		for _, e := range f.Edges {
			addEdge(e)
		}
		for _, j := range f.Journeys {
			addJourney(j, f.File)
		}
	}
	m := &graph.Model{}
	for _, id := range sortedKeys(nodes) {
		m.Nodes = append(m.Nodes, *nodes[id])
	}
	for _, e := range edges {
		m.Edges = append(m.Edges, *e)
	}
	for _, id := range sortedKeys(journeys) {
		m.Journeys = append(m.Journeys, *journeys[id])
	}
	m.Sort()
	sort.Strings(rep.Conflicts)
	return m, rep, nil
}

func copyLabels(l map[string]string) map[string]string {
	if l == nil {
		return nil
	}
	out := make(map[string]string, len(l))
	for k, v := range l {
		out[k] = v
	}
	return out
}

// pick returns the value to keep of a single-valued field: the non-empty
// one, or on disagreement the higher-ranked source's, reporting it.
func pick[T comparable](field, id string, cur T, curRank int, next T, nextRank int, conflict func(string, ...any)) T {
	var zero T
	switch {
	case next == zero || next == cur:
		return cur
	case cur == zero:
		return next
	}
	keep := cur
	if nextRank > curRank {
		keep = next
	}
	conflict("%s: %s is %v in one source and %v in another; kept %v", id, field, cur, next, keep)
	return keep
}

func mergeNode(cur *graph.Node, n graph.Node, conflict func(string, ...any)) {
	cr, nr := rank(cur.Sources), rank(n.Sources)
	id := "node " + cur.ID
	cur.Kind = pick("kind", id, cur.Kind, cr, n.Kind, nr, conflict)
	cur.Name = pick("name", id, cur.Name, cr, n.Name, nr, conflict)
	cur.RunsOn = pick("runs_on", id, cur.RunsOn, cr, n.RunsOn, nr, conflict)
	cur.Enforce = pick("enforce", id, cur.Enforce, cr, n.Enforce, nr, conflict)
	cur.Sensitivity = pick("sensitivity", id, cur.Sensitivity, cr, n.Sensitivity, nr, conflict)
	cur.CrownJewel = cur.CrownJewel || n.CrownJewel
	for k, v := range n.Labels {
		if cur.Labels == nil {
			cur.Labels = map[string]string{}
		}
		cur.Labels[k] = pick("label "+k, id, cur.Labels[k], cr, v, nr, conflict)
	}
	cur.Addresses = unionPrefixes(cur.Addresses, n.Addresses)
	cur.Listens = unionPorts(cur.Listens, n.Listens)
	cur.Sources = unionStrings(cur.Sources, n.Sources)
}

func mergeEdge(cur *graph.Edge, e graph.Edge, conflict func(string, ...any)) {
	cr, er := rank(cur.Sources), rank(e.Sources)
	id := "edge " + cur.Key().String()
	switch {
	case cur.Dependency == e.Dependency:
	case er > cr:
		cur.Dependency = e.Dependency
	case er == cr:
		// Same standing: keep the stronger claim, it overstates rather than
		// hides an outage.
		kept := min(cur.Dependency, e.Dependency) // hard < soft < none
		conflict("%s: dependency is %s in one source and %s in another; kept %s", id, cur.Dependency, e.Dependency, kept)
		cur.Dependency = kept
	}
	cur.Group = pick("group", id, cur.Group, cr, e.Group, er, conflict)
	cur.Ports = unionPorts(cur.Ports, e.Ports)
	if e.Observed != nil {
		if cur.Observed == nil {
			o := *e.Observed
			cur.Observed = &o
		} else {
			cur.Observed.Count += e.Observed.Count
			cur.Observed.Bytes += e.Observed.Bytes
			cur.Observed.FirstSeen = minNonZero(cur.Observed.FirstSeen, e.Observed.FirstSeen)
			cur.Observed.LastSeen = max(cur.Observed.LastSeen, e.Observed.LastSeen)
		}
	}
	cur.Sources = unionStrings(cur.Sources, e.Sources)
}

func minNonZero(a, b int64) int64 {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}

func unionStrings(a, b []string) []string {
	if len(b) == 0 {
		return a
	}
	seen := map[string]bool{}
	var out []string
	for _, s := range append(append([]string{}, a...), b...) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func unionPrefixes(a, b []netip.Prefix) []netip.Prefix {
	if len(b) == 0 {
		return a
	}
	seen := map[netip.Prefix]bool{}
	var out []netip.Prefix
	for _, p := range append(append([]netip.Prefix{}, a...), b...) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if c := out[i].Addr().Compare(out[j].Addr()); c != 0 {
			return c < 0
		}
		return out[i].Bits() < out[j].Bits()
	})
	return out
}

// unionPorts merges port lists, keeping them sorted; "any" absorbs the rest.
func unionPorts(a, b []graph.PortRange) []graph.PortRange {
	if len(b) == 0 {
		return a
	}
	seen := map[graph.PortRange]bool{}
	var out []graph.PortRange
	for _, p := range append(append([]graph.PortRange{}, a...), b...) {
		if p.Proto == graph.ProtoAny {
			return []graph.PortRange{p}
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Proto != out[j].Proto {
			return out[i].Proto < out[j].Proto
		}
		return out[i].Lo < out[j].Lo
	})
	return out
}
