package importer

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/firebreak/firebreak/graph"
)

// Address → node resolution for flow formats. Flow records name addresses;
// the graph names nodes. An address resolves to the node that declares it,
// or the node whose CIDR is the longest to contain it. When several nodes
// declare one address (a host and the services running on it), the
// outermost one (the host) is the address's owner: traffic from it is the
// host's. On the server side the port refines that: the owner, or one of the
// nodes running on it, that is known to listen on the port (a manifest's
// containerPort, a scan's open port) is the server; the most specific (the
// deepest in runs_on) wins. Addresses no node declares are grouped: public
// ones into one node "internet", private, CGNAT, loopback and link-local
// ones into "unknown-internal", so unknown traffic does not explode the graph.

// Group nodes, and what an address can resolve to besides a known node.
const (
	groupInternet = "internet"
	groupInternal = "unknown-internal"

	refInternet int32 = -1 // unknown public address
	refInternal int32 = -2 // unknown private/CGNAT/loopback/link-local address
	refNotPeer  int32 = -3 // broadcast, multicast, unspecified: no node talks from or to it
)

// resolver maps addresses to nodes of Context.Known.
type resolver struct {
	ids      []string // known node ids, then the two group nodes
	internet int32    // index of the internet group in ids
	internal int32    // index of unknown-internal in ids
	// groupDeclared says whether a group id is a known node already (then
	// the fragment must not define it again).
	groupDeclared [2]bool
	entries       []addrEntry
	exact         map[netip.Addr]int32 // full-length prefixes → entry
	prefixes      []prefixTable        // shorter prefixes, longest first
	cache         map[netip.Addr]int32 // address → entry or ref*, bounded
	notes         []string             // ambiguities found while building
}

// addrEntry is one declared address or CIDR.
type addrEntry struct {
	owner     int32      // node index: the outermost claimant
	listeners []listener // candidates for the server side, most specific first
}

// listener is a port range some node serves, on an address.
type listener struct {
	ports graph.PortRange
	node  int32
}

type prefixTable struct {
	bits int
	is4  bool
	m    map[netip.Prefix]int32
}

// maxResolveCache bounds the per-address cache: flows from the whole
// internet must not grow memory with every distinct source address.
const maxResolveCache = 1 << 16

// maxResolveNotes bounds the ambiguity notes.
const maxResolveNotes = 10

func newResolver(known *graph.Model) *resolver {
	r := &resolver{exact: map[netip.Addr]int32{}, cache: map[netip.Addr]int32{}}
	var nodes []graph.Node
	if known != nil {
		nodes = known.Nodes
	}
	index := make(map[string]int32, len(nodes))
	for i, n := range nodes {
		r.ids = append(r.ids, n.ID)
		index[n.ID] = int32(i)
	}
	r.internet, r.internal = int32(len(r.ids)), int32(len(r.ids)+1)
	for g, id := range []string{groupInternet, groupInternal} {
		if i, ok := index[id]; ok {
			r.groupDeclared[g] = true
			if g == 0 {
				r.internet = i
			} else {
				r.internal = i
			}
		}
	}
	r.ids = append(r.ids, groupInternet, groupInternal)

	// runs_on: parent, depth, residents.
	parent := make([]int32, len(nodes))
	residents := make([][]int32, len(nodes))
	for i, n := range nodes {
		parent[i] = -1
		if p, ok := index[n.RunsOn]; ok && n.RunsOn != n.ID {
			parent[i] = p
			residents[p] = append(residents[p], int32(i))
		}
	}
	depth := make([]int, len(nodes))
	for i := range nodes {
		for p, d := parent[i], 0; p >= 0 && d <= len(nodes); p, d = parent[p], d+1 {
			depth[i]++
		}
	}

	claims := map[netip.Prefix][]int32{}
	var order []netip.Prefix
	for i, n := range nodes {
		for _, p := range n.Addresses {
			p = normPrefix(p)
			if _, ok := claims[p]; !ok {
				order = append(order, p)
			}
			claims[p] = append(claims[p], int32(i))
		}
	}
	tables := map[[2]int]int{} // (bits, is4) → index in r.prefixes
	for _, p := range order {
		cl := claims[p]
		e := addrEntry{owner: cl[0]}
		for _, c := range cl[1:] {
			if depth[c] < depth[e.owner] || depth[c] == depth[e.owner] && nodes[c].ID < nodes[e.owner].ID {
				e.owner = c
			}
		}
		if unrelated := unrelatedClaimants(cl, e.owner, parent); len(unrelated) > 0 && len(r.notes) < maxResolveNotes {
			names := []string{nodes[e.owner].ID}
			for _, c := range unrelated {
				names = append(names, nodes[c].ID)
			}
			r.notes = append(r.notes, fmt.Sprintf("address %s is declared by %s: flows resolve to %s unless another listens on the port",
				graph.FormatAddress(p), strings.Join(names, ", "), nodes[e.owner].ID))
		}
		e.listeners = listenersOf(nodes, cl, residents, depth)
		idx := int32(len(r.entries))
		r.entries = append(r.entries, e)
		if p.IsSingleIP() {
			r.exact[p.Addr()] = idx
			continue
		}
		k := [2]int{p.Bits(), b2i(p.Addr().Is4())}
		t, ok := tables[k]
		if !ok {
			t = len(r.prefixes)
			tables[k] = t
			r.prefixes = append(r.prefixes, prefixTable{bits: p.Bits(), is4: p.Addr().Is4(), m: map[netip.Prefix]int32{}})
		}
		r.prefixes[t].m[p] = idx
	}
	sort.Slice(r.prefixes, func(i, j int) bool { return r.prefixes[i].bits > r.prefixes[j].bits })
	return r
}

// normPrefix unmaps IPv4-mapped IPv6 prefixes and drops zones, as lookup
// does with addresses.
func normPrefix(p netip.Prefix) netip.Prefix {
	a, bits := p.Addr().WithZone(""), p.Bits()
	if a.Is4In6() && bits >= 96 {
		a, bits = a.Unmap(), bits-96
	}
	return netip.PrefixFrom(a, bits).Masked()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// unrelatedClaimants lists the claimants of an address that neither run on
// its owner (directly or not) nor are run on by it: two separate nodes
// declaring one address.
func unrelatedClaimants(cl []int32, owner int32, parent []int32) []int32 {
	var out []int32
	for _, c := range cl {
		if c == owner {
			continue
		}
		related := false
		for p, d := parent[c], 0; p >= 0 && d <= len(parent); p, d = parent[p], d+1 {
			if p == owner {
				related = true
				break
			}
		}
		if !related {
			out = append(out, c)
		}
	}
	return out
}

// listenersOf collects the ports the claimants of an address and everything
// running on them listen on, most specific node first.
func listenersOf(nodes []graph.Node, claimants []int32, residents [][]int32, depth []int) []listener {
	if c := claimants[0]; len(claimants) == 1 && len(residents[c]) == 0 { // the common case: one node
		out := make([]listener, len(nodes[c].Listens))
		for i, pr := range nodes[c].Listens {
			out[i] = listener{ports: pr, node: c}
		}
		return out
	}
	seen := map[int32]bool{}
	var cand []int32
	queue := append([]int32(nil), claimants...)
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if seen[n] {
			continue
		}
		seen[n] = true
		cand = append(cand, n)
		queue = append(queue, residents[n]...)
	}
	sort.Slice(cand, func(i, j int) bool {
		a, b := cand[i], cand[j]
		if depth[a] != depth[b] {
			return depth[a] > depth[b]
		}
		return nodes[a].ID < nodes[b].ID
	})
	var out []listener
	for _, n := range cand {
		for _, pr := range nodes[n].Listens {
			out = append(out, listener{ports: pr, node: n})
		}
	}
	return out
}

// lookup resolves an address to an entry index, or to one of the ref*
// groups.
func (r *resolver) lookup(a netip.Addr) int32 {
	if a.Is4In6() {
		a = a.Unmap()
	}
	if a.Zone() != "" {
		a = a.WithZone("")
	}
	if ref, ok := r.cache[a]; ok {
		return ref
	}
	ref := r.lookupSlow(a)
	if len(r.cache) >= maxResolveCache {
		clear(r.cache)
	}
	r.cache[a] = ref
	return ref
}

func (r *resolver) lookupSlow(a netip.Addr) int32 {
	if e, ok := r.exact[a]; ok {
		return e
	}
	is4 := a.Is4()
	for _, t := range r.prefixes {
		if t.is4 != is4 {
			continue
		}
		p, err := a.Prefix(t.bits)
		if err != nil {
			continue
		}
		if e, ok := t.m[p]; ok {
			return e
		}
	}
	return classify(a)
}

// cgnat is the shared address space of RFC 6598.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// classify groups an address no node declares.
func classify(a netip.Addr) int32 {
	switch {
	case !a.IsValid(), a.IsUnspecified(), a.IsMulticast(), a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return refNotPeer
	case a.IsPrivate(), a.IsLoopback(), a.IsLinkLocalUnicast(), a.Is4() && cgnat.Contains(a):
		return refInternal
	}
	return refInternet
}

// node is the node an address resolves to as the client of a flow.
func (r *resolver) node(ref int32) int32 {
	switch ref {
	case refInternet:
		return r.internet
	case refInternal:
		return r.internal
	}
	return r.entries[ref].owner
}

// listener returns the node at ref that listens on port/proto, or -1.
func (r *resolver) listener(ref int32, proto graph.Proto, port uint16) int32 {
	if ref < 0 {
		return -1
	}
	for _, l := range r.entries[ref].listeners {
		if l.ports.Contains(proto, port) {
			return l.node
		}
	}
	return -1
}

// serverNode is the node an address resolves to as the server of a flow on
// port/proto: the most specific node there listening on it, else the owner.
func (r *resolver) serverNode(ref int32, proto graph.Proto, port uint16) int32 {
	if n := r.listener(ref, proto, port); n >= 0 {
		return n
	}
	return r.node(ref)
}

// isGroup reports whether node index n is one of the group nodes this
// fragment must define.
func (r *resolver) isGroup(n int32) (kind graph.Kind, define bool) {
	switch {
	case n == r.internet && !r.groupDeclared[0]:
		return graph.KindClient, true
	case n == r.internal && !r.groupDeclared[1]:
		return graph.KindNetwork, true
	}
	return "", false
}
