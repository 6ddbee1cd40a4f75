// Package graph owns firebreak's domain model (nodes, edges, journeys), its
// native file format and validation, the SQLite workspace, the compiled index
// used by the simulation, and DOT export.
package graph

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// Kind classifies a node.
type Kind string

// The node kinds DESIGN.md names.
const (
	KindHost      Kind = "host"
	KindService   Kind = "service"
	KindDatastore Kind = "datastore"
	KindGateway   Kind = "gateway"
	KindLB        Kind = "lb"
	KindClient    Kind = "client"
	KindSaaS      Kind = "saas"
	KindNetwork   Kind = "network"
)

// Kinds lists every valid kind in a stable order.
var Kinds = []Kind{KindHost, KindService, KindDatastore, KindGateway, KindLB, KindClient, KindSaaS, KindNetwork}

func (k Kind) valid() bool {
	for _, v := range Kinds {
		if v == k {
			return true
		}
	}
	return false
}

// Sensitivity grades how much harm a node's compromise does.
type Sensitivity string

// Sensitivity levels, lowest first. Empty means unspecified.
const (
	SensitivityLow      Sensitivity = "low"
	SensitivityMedium   Sensitivity = "medium"
	SensitivityHigh     Sensitivity = "high"
	SensitivityCritical Sensitivity = "critical"
)

func (s Sensitivity) valid() bool {
	switch s {
	case "", SensitivityLow, SensitivityMedium, SensitivityHigh, SensitivityCritical:
		return true
	}
	return false
}

// Dependency says what happens to an edge's source when its target is down.
type Dependency uint8

// Dependency strengths. The zero value is hard: an edge that says nothing is
// assumed to be needed, which overstates rather than hides an outage.
const (
	DepHard Dependency = iota // from fails without to
	DepSoft                   // from degrades without to
	DepNone                   // pure reachability (admin SSH, monitoring)
)

func (d Dependency) String() string {
	switch d {
	case DepHard:
		return "hard"
	case DepSoft:
		return "soft"
	case DepNone:
		return "none"
	}
	return "dependency(" + strconv.Itoa(int(d)) + ")"
}

// ParseDependency reads "hard", "soft" or "none".
func ParseDependency(s string) (Dependency, error) {
	switch s {
	case "hard":
		return DepHard, nil
	case "soft":
		return DepSoft, nil
	case "none":
		return DepNone, nil
	}
	return 0, fmt.Errorf("%w: dependency %q (want hard, soft or none)", ErrInvalid, s)
}

// Proto is a transport protocol of a port range.
type Proto uint8

// Protocols. ProtoAny matches every protocol and port ("all traffic").
const (
	ProtoTCP Proto = iota
	ProtoUDP
	ProtoAny
)

func (p Proto) String() string {
	switch p {
	case ProtoTCP:
		return "tcp"
	case ProtoUDP:
		return "udp"
	case ProtoAny:
		return "any"
	}
	return "proto(" + strconv.Itoa(int(p)) + ")"
}

// PortRange is an inclusive range of ports on one protocol. For ProtoAny the
// range is ignored.
type PortRange struct {
	Proto  Proto
	Lo, Hi uint16
}

func (r PortRange) String() string {
	if r.Proto == ProtoAny {
		return "any"
	}
	if r.Lo == r.Hi {
		return fmt.Sprintf("%d/%s", r.Lo, r.Proto)
	}
	return fmt.Sprintf("%d-%d/%s", r.Lo, r.Hi, r.Proto)
}

// Contains reports whether port on proto falls in the range.
func (r PortRange) Contains(proto Proto, port uint16) bool {
	if r.Proto == ProtoAny {
		return true
	}
	return r.Proto == proto && r.Lo <= port && port <= r.Hi
}

// ParsePortRange reads "443", "443/tcp", "8000-8100/tcp", "53/udp" or "any".
// A bare number means TCP.
func ParsePortRange(s string) (PortRange, error) {
	if s == "any" {
		return PortRange{Proto: ProtoAny}, nil
	}
	spec, proto := s, ProtoTCP
	if i := strings.IndexByte(s, '/'); i >= 0 {
		spec = s[:i]
		switch s[i+1:] {
		case "tcp":
			proto = ProtoTCP
		case "udp":
			proto = ProtoUDP
		default:
			return PortRange{}, fmt.Errorf("%w: port %q: protocol must be tcp or udp", ErrInvalid, s)
		}
	}
	lo, hi := spec, spec
	if i := strings.IndexByte(spec, '-'); i >= 0 {
		lo, hi = spec[:i], spec[i+1:]
	}
	l, err1 := strconv.ParseUint(lo, 10, 16)
	h, err2 := strconv.ParseUint(hi, 10, 16)
	if err1 != nil || err2 != nil || l == 0 || h < l {
		return PortRange{}, fmt.Errorf("%w: port %q: want N, N/proto or LO-HI/proto with 1 <= LO <= HI <= 65535", ErrInvalid, s)
	}
	return PortRange{Proto: proto, Lo: uint16(l), Hi: uint16(h)}, nil
}

// Pos locates an element in an input file, for error messages: the file,
// the line and the element's field path there (nodes[3]).
type Pos struct {
	File string
	Line int
	Path string
}

func (p Pos) String() string {
	if p.File == "" {
		return ""
	}
	if p.Line == 0 {
		return p.File
	}
	return p.File + ":" + strconv.Itoa(p.Line)
}

// Node is a host, service, datastore or any other thing that can be reached,
// compromised or fail.
type Node struct {
	ID          string
	Kind        Kind
	Name        string // human-readable, optional
	Labels      map[string]string
	Addresses   []netip.Prefix // single IPs are stored as full-length prefixes
	RunsOn      string         // the host this node lives on, or ""
	CrownJewel  bool
	Sensitivity Sensitivity
	Enforce     string      // "", "local", "netns:NAME" or "agent:https://HOST:PORT"
	Listens     []PortRange // ports the node is known to serve on (scans, manifests)
	Sources     []string    // provenance: which imports produced or confirmed it

	Pos Pos // where it was read; not stored
}

// Observed carries what flow data or traces saw on an edge.
type Observed struct {
	Count     uint64 // flows, connections or calls
	Bytes     uint64
	FirstSeen int64 // Unix seconds, 0 if unknown
	LastSeen  int64
}

// Edge says From can open connections to To on Ports.
type Edge struct {
	From, To   string
	Ports      []PortRange // empty means any port
	Dependency Dependency
	Group      string // replicas: edges from one node sharing a group are interchangeable
	Observed   *Observed
	Sources    []string

	Pos Pos
}

// Key identifies an edge: at most one edge joins an ordered pair of nodes.
func (e Edge) Key() EdgeKey { return EdgeKey{e.From, e.To} }

// EdgeKey is an ordered node pair.
type EdgeKey struct{ From, To string }

func (k EdgeKey) String() string { return k.From + "->" + k.To }

// Step is one stage of a journey: it needs every node in Requires and at least
// one node of each AnyOf list.
type Step struct {
	Name     string
	Requires []string
	AnyOf    [][]string

	Pos    Pos
	refPos map[string]int // line of each reference, for dangling-reference errors
}

// Nodes returns every node the step names, alternatives included.
func (s Step) Nodes() []string {
	out := append([]string(nil), s.Requires...)
	for _, alt := range s.AnyOf {
		out = append(out, alt...)
	}
	return out
}

// Journey is a customer journey: an ordered list of steps with a weight.
type Journey struct {
	ID               string
	Name             string
	Tier             string // e.g. critical, high, standard
	CustomersPerHour float64
	RevenuePerHour   float64
	Steps            []Step

	Pos Pos
}

// Model is a whole topology with its journeys: the content of one workspace
// revision. Nodes, edges and journeys are kept sorted by id / key.
type Model struct {
	Nodes    []Node
	Edges    []Edge
	Journeys []Journey
}

// Sort puts nodes, edges and journeys in canonical order. Input that is
// already in order (the common case for big generated files) costs one pass.
func (m *Model) Sort() {
	if !sort.SliceIsSorted(m.Nodes, func(i, j int) bool { return m.Nodes[i].ID < m.Nodes[j].ID }) {
		sort.SliceStable(m.Nodes, func(i, j int) bool { return m.Nodes[i].ID < m.Nodes[j].ID })
	}
	if !edgesSorted(m.Edges) {
		sort.SliceStable(m.Edges, func(i, j int) bool {
			a, b := &m.Edges[i], &m.Edges[j]
			if a.From != b.From {
				return a.From < b.From
			}
			return a.To < b.To
		})
	}
	if !sort.SliceIsSorted(m.Journeys, func(i, j int) bool { return m.Journeys[i].ID < m.Journeys[j].ID }) {
		sort.SliceStable(m.Journeys, func(i, j int) bool { return m.Journeys[i].ID < m.Journeys[j].ID })
	}
}

// NodeByID finds a node by binary search; the model must be sorted.
func (m *Model) NodeByID(id string) (*Node, bool) {
	i := sort.Search(len(m.Nodes), func(i int) bool { return m.Nodes[i].ID >= id })
	if i < len(m.Nodes) && m.Nodes[i].ID == id {
		return &m.Nodes[i], true
	}
	return nil, false
}

// EdgeByKey finds an edge by binary search; the model must be sorted.
func (m *Model) EdgeByKey(k EdgeKey) (*Edge, bool) {
	i := sort.Search(len(m.Edges), func(i int) bool {
		e := m.Edges[i]
		return e.From > k.From || (e.From == k.From && e.To >= k.To)
	})
	if i < len(m.Edges) && m.Edges[i].From == k.From && m.Edges[i].To == k.To {
		return &m.Edges[i], true
	}
	return nil, false
}
