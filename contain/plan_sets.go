package contain

// Set and port helpers of the planner: how a block turns ports into named
// sets, how elements are normalised the way the kernel holds them, and what
// a block really cuts.

import (
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/firebreak/firebreak/graph"
)

// portRules gives one match per protocol of a block's port list, each through
// a named port set of the action (created on b once), or one rule matching
// every protocol when the block covers all ports.
func portRules(id int64, ports []graph.PortRange, ttl time.Duration, expired bool, b *builder) []Rule {
	var tcp, udp []graph.PortRange
	for _, p := range ports {
		switch p.Proto {
		case graph.ProtoAny:
			return []Rule{{}}
		case graph.ProtoTCP:
			tcp = append(tcp, p)
		case graph.ProtoUDP:
			udp = append(udp, p)
		}
	}
	if len(tcp)+len(udp) == 0 {
		return []Rule{{}}
	}
	var out []Rule
	for _, proto := range []struct {
		l4    L4
		name  string
		ports []graph.PortRange
	}{{L4TCP, "tcp", tcp}, {L4UDP, "udp", udp}} {
		if len(proto.ports) == 0 {
			continue
		}
		name := fmt.Sprintf("b%d_ports_%s", id, proto.name)
		if !b.hasSet(name) {
			set := Set{Name: name, Type: SetPort, Interval: true, Timeout: true}
			for _, p := range proto.ports {
				if !expired {
					set.Elements = append(set.Elements, Element{Port: p.Lo, PortEnd: p.Hi, Timeout: ttl})
				}
			}
			b.plan.Ruleset.Sets = append(b.plan.Ruleset.Sets, set)
		}
		out = append(out, Rule{L4: proto.l4, DPort: name})
	}
	return out
}

func (b *builder) hasSet(name string) bool {
	for _, s := range b.plan.Ruleset.Sets {
		if s.Name == name {
			return true
		}
	}
	return false
}

func cutsManagement(pol Policy, src []netip.Prefix, ports []graph.PortRange) bool {
	overlaps := false
	for _, s := range src {
		for _, mg := range pol.Management {
			if s.Overlaps(mg) {
				overlaps = true
			}
		}
	}
	if !overlaps {
		return false
	}
	if len(ports) == 0 {
		return true
	}
	for _, mp := range pol.mgmtPorts() {
		for _, p := range ports {
			if p.Contains(graph.ProtoTCP, mp) {
				return true
			}
		}
	}
	return false
}

func splitFamilies(ps []netip.Prefix) (v4, v6 []netip.Prefix) {
	for _, p := range ps {
		if p.Addr().Is4() {
			v4 = append(v4, p)
		} else {
			v6 = append(v6, p)
		}
	}
	return v4, v6
}

// normaliseElements masks prefixes, drops duplicates and prefixes inside a
// broader one (interval sets reject overlaps), and sorts the rest ascending,
// as the kernel lists an interval set.
func normaliseElements(es []Element) []Element {
	for i := range es {
		if es[i].Prefix.IsValid() {
			es[i].Prefix = es[i].Prefix.Masked()
		}
	}
	sortElements(es)
	out := es[:0]
	for _, e := range es {
		if len(out) > 0 {
			last := out[len(out)-1]
			if e.Prefix.IsValid() && last.Prefix.IsValid() && last.Prefix.Overlaps(e.Prefix) {
				if e.Prefix.Bits() < last.Prefix.Bits() {
					out[len(out)-1] = e // the broader one covers both
				}
				continue
			}
			if !e.Prefix.IsValid() && !last.Prefix.IsValid() && e.Port <= last.PortEnd {
				if e.PortEnd > last.PortEnd {
					out[len(out)-1].PortEnd = e.PortEnd
				}
				continue
			}
		}
		out = append(out, e)
	}
	return out
}

// commentText keeps a rule comment to what nft prints verbatim: printable
// ASCII without quotes or backslashes, at most 120 bytes.
func commentText(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			b[i] = '?'
		}
	}
	if len(b) > 120 {
		b = b[:120]
	}
	return string(b)
}

// sortElements orders a set's elements ascending.
func sortElements(es []Element) {
	sort.Slice(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if a.Prefix.IsValid() && b.Prefix.IsValid() {
			if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
				return c < 0
			}
			return a.Prefix.Bits() < b.Prefix.Bits()
		}
		return a.Port < b.Port
	})
}

// BlockedEdges returns every edge of the model that a block of from→to on
// ports really cuts. nftables matches addresses and ports, not processes: the
// rule drops traffic from every node sharing from's addresses (the other
// services on its host) to every node sharing to's addresses, on those
// ports. Simulating exactly these edges predicts what the block does.
func BlockedEdges(m *graph.Model, from, to string, ports []graph.PortRange) ([]graph.EdgeKey, error) {
	src, err := Addresses(m, from)
	if err != nil {
		return nil, err
	}
	dst, err := Addresses(m, to)
	if err != nil {
		return nil, err
	}
	var out []graph.EdgeKey
	for _, e := range m.Edges {
		es, err1 := Addresses(m, e.From)
		ed, err2 := Addresses(m, e.To)
		if err1 != nil || err2 != nil || !overlapsAny(es, src) || !overlapsAny(ed, dst) || !portsOverlap(e.Ports, ports) {
			continue
		}
		out = append(out, e.Key())
	}
	return out, nil
}

func overlapsAny(a, b []netip.Prefix) bool {
	for _, x := range a {
		for _, y := range b {
			if x.Overlaps(y) {
				return true
			}
		}
	}
	return false
}

// portsOverlap reports whether traffic on an edge's ports can match a block's
// ports; an empty list means every port.
func portsOverlap(edge, block []graph.PortRange) bool {
	if len(edge) == 0 || len(block) == 0 {
		return true
	}
	for _, e := range edge {
		for _, b := range block {
			if e.Proto == graph.ProtoAny || b.Proto == graph.ProtoAny || (e.Proto == b.Proto && e.Lo <= b.Hi && b.Lo <= e.Hi) {
				return true
			}
		}
	}
	return false
}
