package importer

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/firebreak/firebreak/graph"
)

// DOT ids, attributes and ports → firebreak nodes, kinds and port ranges.

// dotPorts parses "443", "443/tcp", "tcp/443", "8000-8100/tcp", "any",
// separated by commas or spaces.
func dotPorts(s string) ([]graph.PortRange, bool) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || unicode.IsSpace(r) })
	if len(fields) == 0 || len(fields) > 1024 {
		return nil, false
	}
	var out []graph.PortRange
	for _, f := range fields {
		f = strings.ToLower(f)
		if proto, num, ok := strings.Cut(f, "/"); ok && (proto == "tcp" || proto == "udp") {
			f = num + "/" + proto
		}
		pr, err := graph.ParsePortRange(f)
		if err != nil {
			return nil, false
		}
		out = append(out, pr)
	}
	return out, true
}

// dotUnquote turns a DOT id into its text: quotes and \" escapes and
// backslash-newline continuations removed; HTML ids lose their <>.
func dotUnquote(s string) string {
	switch {
	case len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"':
		s = s[1 : len(s)-1]
		if strings.Contains(s, `\`) {
			s = strings.NewReplacer("\\\r\n", "", "\\\n", "", `\"`, `"`).Replace(s)
		}
	case len(s) >= 2 && s[0] == '<' && s[len(s)-1] == '>':
		s = s[1 : len(s)-1]
	}
	return s
}

func isSpaceOrControl(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }

// safeNodeID maps any string to a valid node id: runs of white space,
// commas and control characters become "_", invalid UTF-8 too, and an id
// over 256 bytes is cut and suffixed with a hash of the whole.
func safeNodeID(s string) string {
	var b strings.Builder
	bad := false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r == utf8.RuneError && size <= 1 || r == ',' || r == 0x7f || isSpaceOrControl(r) {
			if !bad {
				b.WriteByte('_')
			}
			bad = true
			continue
		}
		bad = false
		b.WriteRune(r)
	}
	out := b.String()
	if out == "" {
		out = "_"
	}
	if len(out) > 256 {
		sum := sha256.Sum256([]byte(s))
		cut := 240
		for cut > 0 && !utf8.RuneStart(out[cut]) {
			cut--
		}
		out = out[:cut] + "~" + hex.EncodeToString(sum[:4])
	}
	return out
}

var dotKindWords = map[string]graph.Kind{
	"host": graph.KindHost, "server": graph.KindHost, "vm": graph.KindHost, "machine": graph.KindHost, "container": graph.KindHost,
	"service": graph.KindService, "svc": graph.KindService, "app": graph.KindService, "application": graph.KindService, "microservice": graph.KindService,
	"datastore": graph.KindDatastore, "database": graph.KindDatastore, "db": graph.KindDatastore, "storage": graph.KindDatastore, "cache": graph.KindDatastore,
	"gateway": graph.KindGateway, "firewall": graph.KindGateway, "fw": graph.KindGateway, "proxy": graph.KindGateway,
	"lb": graph.KindLB, "loadbalancer": graph.KindLB, "load-balancer": graph.KindLB, "load_balancer": graph.KindLB,
	"client": graph.KindClient, "user": graph.KindClient, "browser": graph.KindClient, "customer": graph.KindClient,
	"saas": graph.KindSaaS, "external": graph.KindSaaS, "thirdparty": graph.KindSaaS, "third-party": graph.KindSaaS,
	"network": graph.KindNetwork, "router": graph.KindNetwork, "switch": graph.KindNetwork, "vpc": graph.KindNetwork, "subnet": graph.KindNetwork,
}

func dotKind(attrs map[string]string) graph.Kind {
	for _, k := range []string{"kind", "type", "role"} {
		if kind, ok := dotKindWords[strings.ToLower(attrs[k])]; ok {
			return kind
		}
	}
	if strings.EqualFold(attrs["shape"], "cylinder") {
		return graph.KindDatastore
	}
	return graph.KindHost
}

// finish maps ids and builds the fragment.
func (p *dotParser) finish() *Fragment {
	order := make([]*dotNode, 0, len(p.nodes))
	for _, n := range p.nodes {
		order = append(order, n)
	}
	sort.Slice(order, func(i, j int) bool { return order[i].order < order[j].order })
	ids := map[string]string{}  // original → node id
	used := map[string]string{} // node id → original
	for _, n := range order {
		if k8sCheckID(n.orig) == "" {
			ids[n.orig], used[n.orig] = n.orig, n.orig
		}
	}
	for _, n := range order {
		if _, ok := ids[n.orig]; ok {
			continue
		}
		id := safeNodeID(n.orig)
		for i := 2; used[id] != ""; i++ {
			id = fmt.Sprintf("%s~%d", safeNodeID(n.orig), i)
		}
		ids[n.orig], used[id] = id, n.orig
		p.notes.add("node %q is not a valid id (white space, commas or control characters, or too long): it is %s", dotClip(n.orig), id)
	}
	for _, n := range order {
		gn := graph.Node{ID: ids[n.orig], Kind: dotKind(n.attrs), Sources: []string{Provenance("dot", p.file)}, Pos: graph.Pos{File: p.file}}
		if len(n.attrs) > 0 || n.cluster != "" {
			gn.Labels = map[string]string{}
			for k, v := range n.attrs {
				gn.Labels[k] = v
			}
			if n.cluster != "" {
				gn.Labels["cluster"] = n.cluster
			}
		}
		if l := n.attrs["label"]; l != "" && l != `\N` && l != n.orig {
			gn.Name = strings.NewReplacer(`\n`, " ", `\l`, " ", `\r`, " ").Replace(l)
		}
		for _, cand := range append([]string{n.orig}, strings.FieldsFunc(n.attrs["ip"]+" "+n.attrs["address"]+" "+n.attrs["addr"]+" "+n.attrs["addresses"], func(r rune) bool { return r == ',' || unicode.IsSpace(r) })...) {
			if a, err := graph.ParseAddress(cand); err == nil {
				gn.Addresses = unionPrefixes(gn.Addresses, []netip.Prefix{a})
			}
		}
		p.frag.Nodes = append(p.frag.Nodes, gn)
	}
	sort.Slice(p.frag.Nodes, func(i, j int) bool { return p.frag.Nodes[i].ID < p.frag.Nodes[j].ID })
	keys := make([][2]string, 0, len(p.links))
	for k := range p.links {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i][0] < keys[j][0] || keys[i][0] == keys[j][0] && keys[i][1] < keys[j][1]
	})
	for _, k := range keys {
		if l := p.links[k]; l.n > 1 && l.undirected {
			p.notes.add("%s -- %s: %d parallel links merged into one edge each way (ports unioned)", ids[k[0]], ids[k[1]], l.n)
		} else if l.n > 1 {
			p.notes.add("%s -> %s: %d parallel edges merged into one (ports unioned)", ids[k[0]], ids[k[1]], l.n)
		}
	}
	var edges []graph.Edge
	for _, e := range p.edges {
		ge := graph.Edge{From: ids[e.from], To: ids[e.to], Dependency: e.dep, Group: e.group,
			Sources: []string{Provenance("dot", p.file)}, Pos: graph.Pos{File: p.file}}
		if !e.anyPort {
			ge.Ports = e.ports
		}
		edges = append(edges, ge)
	}
	sort.Slice(edges, func(i, j int) bool {
		return edges[i].From < edges[j].From || edges[i].From == edges[j].From && edges[i].To < edges[j].To
	})
	// A replica group must share one dependency strength.
	groupDep := map[[2]string]graph.Dependency{}
	for i := range edges {
		e := &edges[i]
		if e.Group == "" {
			continue
		}
		k := [2]string{e.From, e.Group}
		if d, ok := groupDep[k]; !ok {
			groupDep[k] = e.Dependency
		} else if d != e.Dependency {
			p.notes.add("edge %s -> %s: group %q mixes %s and %s dependencies; the group is dropped from this edge", e.From, e.To, e.Group, d, e.Dependency)
			e.Group = ""
		}
	}
	p.frag.Edges = edges
	p.frag.Report.Records = p.stmts
	p.frag.Report.Notes = p.notes.out("notes")
	return p.frag
}

func dotClip(s string) string {
	if len(s) > 80 {
		cut := 80
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return s[:cut] + "…"
	}
	return s
}
