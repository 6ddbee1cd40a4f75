package contain

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/firebreak/firebreak/graph"
)

// The lab builds a topology out of network namespaces so that tests (and
// responders rehearsing) can check, with real connections, that what
// `firebreak simulate` predicts is what the network does:
//
//   - one namespace per network endpoint (a node without runs_on; services
//     share their host's), joined by veth pairs to a bridge that lives in a
//     lab namespace of its own — nothing is added to the root namespace;
//   - a responder on every node's edge ports, on port 22 of every endpoint
//     and on a per-node probe port, which judges the node by dialling its
//     dependencies from its own namespace (lab_serve_linux.go,
//     lab_rounds_linux.go);
//   - a prober in the lab namespace that has every node judge itself and
//     then judges each journey step as the simulation does
//     (lab_probe_linux.go, lab_verdict.go).
//
// This file holds the plan: namespaces, addresses, ports and the lab model.
// lab_state.go keeps the state file, lab_net_linux.go builds and removes
// the network.

// Lab limits and defaults.
const (
	// DefaultLabName names the lab when the user does not.
	DefaultLabName = "fb"
	// DefaultLabDir holds the state files of running labs.
	DefaultLabDir = "/run/firebreak/lab"
	// MaxLabEndpoints bounds the namespaces of one lab.
	MaxLabEndpoints = 64
	// LabSSHPort is the stand-in SSH listener every endpoint gets, so
	// management-access checks have something to connect to.
	LabSSHPort = 22
	// LabProbePortBase is where per-node probe ports start.
	LabProbePortBase = 17000
	// labMaxRangePorts bounds the listeners opened for one port range: a
	// range's first ports stand for the whole range.
	labMaxRangePorts = 64
	// labBridge names the bridge inside the lab namespace.
	labBridge = "br0"
	// labNodeLink names every endpoint's side of its veth pair.
	labNodeLink = "eth0"
)

// Sentinel errors of the lab.
var (
	// ErrLabExists means a lab of that name is already up (or left over).
	ErrLabExists = errors.New("lab already exists")
	// ErrNoLab means no lab of that name is up.
	ErrNoLab = errors.New("no such lab")
)

// LabOptions configures a lab.
type LabOptions struct {
	// Name prefixes every namespace of the lab; default DefaultLabName.
	Name string
	// Dir holds the state file; default DefaultLabDir.
	Dir string
	// Avoid lists address ranges the lab must not take its own addresses
	// from (the management networks: the prober must not be allowlisted).
	Avoid []netip.Prefix
}

func (o LabOptions) withDefaults() LabOptions {
	if o.Name == "" {
		o.Name = DefaultLabName
	}
	if o.Dir == "" {
		o.Dir = DefaultLabDir
	}
	return o
}

var labNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,15}$`)

// CheckLabName reports whether name can name a lab: a lower-case letter,
// then up to 15 lower-case letters, digits or hyphens.
func CheckLabName(name string) error {
	if !labNameRE.MatchString(name) {
		return fmt.Errorf("%w: lab name %q: want a lower-case letter then up to 15 of [a-z0-9-]", graph.ErrInvalid, name)
	}
	return nil
}

// LabState is what a running lab looks like: saved as JSON next to the lab
// model, read by `lab probe`, `lab serve` and `lab down`.
type LabState struct {
	Name string `json:"name"`
	// LabNetNS holds the bridge and the prober.
	LabNetNS string `json:"lab_netns"`
	// Prober is the lab namespace's own address, outside every range the
	// model uses and outside the management networks.
	Prober netip.Addr `json:"prober"`
	// Nodes maps every node id to where it lives in the lab.
	Nodes map[string]LabNode `json:"nodes"`
	// ServerPID is the daemonised responder process, 0 if none.
	ServerPID int `json:"server_pid,omitempty"`
}

// LabNode is one node in the lab.
type LabNode struct {
	// NetNS is the node's namespace: its own for an endpoint, its host's
	// for a node that runs on one.
	NetNS string `json:"netns"`
	// Endpoint is the node whose namespace this is (the node itself for an
	// endpoint).
	Endpoint string `json:"endpoint"`
	// Addr is the address peers dial to reach the node: its endpoint's
	// first IPv4 address, or one the lab assigned.
	Addr netip.Addr `json:"addr"`
	// ProbePort answers PROBE for this node alone.
	ProbePort uint16 `json:"probe_port"`
	// Ports are the node's listeners besides the probe port: every TCP
	// port of every edge into it, and 22 for an endpoint unless a
	// co-resident node owns it.
	Ports []uint16 `json:"ports"`
	// Link is the endpoint's veth end on the bridge (endpoints only).
	Link string `json:"link,omitempty"`
	// Addresses are all of the endpoint's addresses (endpoints only).
	Addresses []netip.Addr `json:"addresses,omitempty"`
	// Assigned says the lab gave the endpoint its address (the model has no
	// IPv4 address for it).
	Assigned bool `json:"assigned,omitempty"`
}

// Endpoints returns the endpoint node ids, sorted.
func (s *LabState) Endpoints() []string {
	var out []string
	for id, n := range s.Nodes {
		if n.Endpoint == id {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// NetNSes returns every namespace of the lab, the lab namespace first.
func (s *LabState) NetNSes() []string {
	out := []string{s.LabNetNS}
	for _, id := range s.Endpoints() {
		out = append(out, s.Nodes[id].NetNS)
	}
	return out
}

// ProbeAddr is where node id answers PROBE.
func (s *LabState) ProbeAddr(id string) (string, bool) {
	n, ok := s.Nodes[id]
	if !ok {
		return "", false
	}
	return netip.AddrPortFrom(n.Addr, n.ProbePort).String(), true
}

// labNetNSName and labLinkName keep names short: interface names have at
// most 15 bytes, namespace names are bounded by the lab name's length.
func labNetNSName(lab string, i int) string { return lab + "-n" + strconv.Itoa(i) }
func labMainNetNS(lab string) string        { return lab + "-lab" }
func labLinkName(i int) string              { return "v" + strconv.Itoa(i) }

// isLabNetNS reports whether a namespace name belongs to lab: exactly
// <lab>-lab or <lab>-n<digits>, so lab "fb" never claims "fb-x"'s.
func isLabNetNS(lab, ns string) bool {
	if ns == labMainNetNS(lab) {
		return true
	}
	rest, ok := strings.CutPrefix(ns, lab+"-n")
	if !ok || rest == "" {
		return false
	}
	for _, c := range rest {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// labPools are the ranges the lab takes its own addresses from (prober,
// endpoints the model gives no IPv4 address), the first that overlaps
// nothing in the model or the avoid list: the benchmarking range, the
// carrier-grade NAT range, then a documentation range.
var labPools = []netip.Prefix{
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.2.0/24"),
}

// PlanLab computes a lab for m without touching the system: namespaces,
// addresses and ports (the state) and the lab model, a copy of m where
// every endpoint's enforce is netns:<its namespace> and endpoints without an
// IPv4 address carry the one the lab gives them. It refuses what the lab
// cannot build — more than MaxLabEndpoints endpoints, edges without a TCP
// port, co-resident nodes needing the same port — naming the nodes, as
// graph.ErrInvalid.
func PlanLab(m *graph.Model, opt LabOptions) (*LabState, *graph.Model, error) {
	opt = opt.withDefaults()
	if err := CheckLabName(opt.Name); err != nil {
		return nil, nil, err
	}
	if err := graph.Validate(m); err != nil {
		return nil, nil, err
	}
	lm := &graph.Model{
		Nodes:    append([]graph.Node(nil), m.Nodes...),
		Edges:    append([]graph.Edge(nil), m.Edges...),
		Journeys: append([]graph.Journey(nil), m.Journeys...),
	}
	lm.Sort()
	var problems []string
	byID := make(map[string]int, len(lm.Nodes))
	for i, n := range lm.Nodes {
		byID[n.ID] = i
	}
	// endpointOf follows runs_on to the node that owns a namespace; the
	// model was validated, so chains end.
	endpointOf := func(id string) string {
		for {
			n := &lm.Nodes[byID[id]]
			if n.RunsOn == "" {
				return id
			}
			id = n.RunsOn
		}
	}
	var endpoints []string
	for _, n := range lm.Nodes {
		if n.RunsOn == "" {
			endpoints = append(endpoints, n.ID)
		}
	}
	if len(endpoints) > MaxLabEndpoints {
		problems = append(problems, fmt.Sprintf("%d network endpoints (nodes without runs_on); the lab builds at most %d", len(endpoints), MaxLabEndpoints))
	}

	// Listeners: every TCP port of every edge into a node (the first
	// ports of a wide range); claims: the whole ranges, per namespace.
	ports := map[string][]uint16{}
	claims := map[string][]portClaim{}
	st := &LabState{Name: opt.Name, LabNetNS: labMainNetNS(opt.Name), Nodes: make(map[string]LabNode, len(lm.Nodes))}
	epIndex := map[string]int{}
	for i, id := range endpoints {
		epIndex[id] = i
	}
	nsOf := func(id string) string { return labNetNSName(opt.Name, epIndex[endpointOf(id)]) }
	for _, e := range lm.Edges {
		ps := labTCPPorts(e.Ports)
		if len(ps) == 0 {
			problems = append(problems, fmt.Sprintf("edge %s has no TCP port: the lab connects over TCP only", e.Key()))
			continue
		}
		ports[e.To] = append(ports[e.To], ps...)
		for _, r := range e.Ports {
			if r.Proto == graph.ProtoTCP {
				claims[nsOf(e.To)] = append(claims[nsOf(e.To)], portClaim{r.Lo, r.Hi, e.To})
			}
		}
	}
	for _, n := range lm.Nodes {
		ep := endpointOf(n.ID)
		ln := LabNode{NetNS: nsOf(n.ID), Endpoint: ep, Ports: uniquePorts(ports[n.ID])}
		if ep == n.ID {
			ln.Link = labLinkName(epIndex[ep])
		}
		st.Nodes[n.ID] = ln
	}
	for _, ns := range sortedKeys(claims) {
		problems = append(problems, portClashes(claims[ns], endpointOf)...)
	}
	taken := func(ns string, p int) bool {
		for _, c := range claims[ns] {
			if int(c.lo) <= p && p <= int(c.hi) {
				return true
			}
		}
		return false
	}
	// The stand-in SSH port belongs to the endpoint unless a resident
	// needs it for an edge.
	for _, ep := range endpoints {
		ln := st.Nodes[ep]
		if !taken(ln.NetNS, LabSSHPort) {
			ln.Ports = uniquePorts(append(ln.Ports, LabSSHPort))
			st.Nodes[ep] = ln
		}
	}
	// Probe ports: the lowest ports from LabProbePortBase that no edge
	// into the namespace covers (so no rule on an edge's ports touches
	// them), one per node, in node order.
	next := map[string]int{}
	for _, n := range lm.Nodes {
		ln := st.Nodes[n.ID]
		p := max(next[ln.NetNS], LabProbePortBase)
		for p <= 65535 && taken(ln.NetNS, p) {
			p++
		}
		if p > 65535 {
			problems = append(problems, fmt.Sprintf("node %s: no free probe port", n.ID))
			continue
		}
		ln.ProbePort = uint16(p)
		next[ln.NetNS] = p + 1
		st.Nodes[n.ID] = ln
	}

	// Addresses: the model's single IPv4 addresses; a pool address for an
	// endpoint without one, and for the prober.
	used := map[netip.Addr]string{}
	var modelRanges []netip.Prefix
	for _, n := range lm.Nodes {
		for _, p := range n.Addresses {
			modelRanges = append(modelRanges, p)
			if p.Addr().Is4() && p.IsSingleIP() && n.RunsOn == "" {
				if other, dup := used[p.Addr()]; dup && other != n.ID {
					problems = append(problems, fmt.Sprintf("nodes %s and %s share address %s", other, n.ID, p.Addr()))
				}
				used[p.Addr()] = n.ID
			}
		}
	}
	pool, err := labPool(modelRanges, opt.Avoid)
	if err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return nil, nil, labProblems(problems)
	}
	nextAddr := pool.Addr().Next()
	take := func() netip.Addr {
		a := nextAddr
		nextAddr = nextAddr.Next()
		return a
	}
	st.Prober = take()
	for _, ep := range endpoints {
		i := byID[ep]
		n := &lm.Nodes[i]
		ln := st.Nodes[ep]
		for _, p := range n.Addresses {
			if p.Addr().Is4() && p.IsSingleIP() {
				ln.Addresses = append(ln.Addresses, p.Addr())
			}
		}
		if len(ln.Addresses) == 0 {
			a := take()
			ln.Addresses, ln.Assigned = []netip.Addr{a}, true
			n.Addresses = append(append([]netip.Prefix(nil), n.Addresses...), netip.PrefixFrom(a, 32))
		}
		ln.Addr = ln.Addresses[0]
		st.Nodes[ep] = ln
		n.Enforce = "netns:" + ln.NetNS
	}
	for id, ln := range st.Nodes {
		if ln.Endpoint != id {
			ln.Addr = st.Nodes[ln.Endpoint].Addr
			st.Nodes[id] = ln
		}
	}
	return st, lm, nil
}

func labProblems(problems []string) error {
	const maxListed = 20
	more := ""
	if len(problems) > maxListed {
		more = fmt.Sprintf("\n  … and %d more", len(problems)-maxListed)
		problems = problems[:maxListed]
	}
	return fmt.Errorf("%w: the lab cannot build this topology:\n  %s%s", graph.ErrInvalid, strings.Join(problems, "\n  "), more)
}

// portClaim is a TCP port range some edge into node needs.
type portClaim struct {
	lo, hi uint16
	node   string
}

// portClashes finds co-resident nodes whose claimed ranges overlap, once
// per pair, naming the first shared port and the host.
func portClashes(cs []portClaim, host func(string) string) []string {
	cs = append([]portClaim(nil), cs...)
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].lo != cs[j].lo {
			return cs[i].lo < cs[j].lo
		}
		return cs[i].node < cs[j].node
	})
	var out []string
	seen := map[[2]string]bool{}
	for i, c := range cs {
		for _, d := range cs[:i] {
			if d.node == c.node || d.hi < c.lo {
				continue
			}
			pair := [2]string{min(c.node, d.node), max(c.node, d.node)}
			if seen[pair] {
				continue
			}
			seen[pair] = true
			out = append(out, fmt.Sprintf("nodes %s and %s share host %s and both need port %d", pair[0], pair[1], host(c.node), c.lo))
		}
	}
	return out
}

// labTCPPorts lists the TCP ports the lab listens on for an edge's ranges:
// every port of a small range, the first labMaxRangePorts of a large one.
func labTCPPorts(rs []graph.PortRange) []uint16 {
	var out []uint16
	for _, r := range rs {
		if r.Proto != graph.ProtoTCP {
			continue
		}
		for p := int(r.Lo); p <= int(r.Hi) && p < int(r.Lo)+labMaxRangePorts; p++ {
			out = append(out, uint16(p))
		}
	}
	return out
}

// labDialPort is the port a node dials to reach an edge's target: the first
// port of its first TCP range. A block on the edge covers it.
func labDialPort(rs []graph.PortRange) (uint16, bool) {
	for _, r := range rs {
		if r.Proto == graph.ProtoTCP {
			return r.Lo, true
		}
	}
	return 0, false
}

func uniquePorts(ps []uint16) []uint16 {
	out := append([]uint16(nil), ps...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	k := 0
	for i, p := range out {
		if i == 0 || p != out[k-1] {
			out[k] = p
			k++
		}
	}
	return out[:k]
}

// labPool picks the first pool range that overlaps neither the model's
// addresses (widened to their /16, so a whole estate plan stays clear) nor
// the ranges to avoid.
func labPool(model, avoid []netip.Prefix) (netip.Prefix, error) {
	var clear []netip.Prefix
	for _, p := range model {
		if p.Addr().Is4() && p.Bits() > 16 {
			p = netip.PrefixFrom(p.Addr(), 16).Masked()
		}
		clear = append(clear, p)
	}
	clear = append(clear, avoid...)
next:
	for _, pool := range labPools {
		for _, p := range clear {
			if pool.Overlaps(p) {
				continue next
			}
		}
		return pool, nil
	}
	return netip.Prefix{}, fmt.Errorf("no free range for the lab's own addresses: the model or the management networks overlap all of %v", labPools)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
