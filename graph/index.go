package graph

import (
	"fmt"
	"sort"
	"strings"
)

// Index is the compiled, immutable form of a Model that the simulation walks.
// Nodes get dense int32 ids in lexicographic order of their string ids, so
// comparing dense ids compares string ids: "smallest path" tie-breaks need no
// string work. Adjacency is CSR, forward and reverse, with edge attributes in
// parallel arrays indexed by forward edge position. It holds no pointers to the
// Model and is safe for concurrent readers.
type Index struct {
	// Node ids, concatenated: id i is idData[idOff[i]:idOff[i+1]].
	idData string
	idOff  []uint32

	kind   []uint8 // position in Kinds
	crown  []bool
	runsOn []int32 // dense id of the host, or -1

	// Direct residents of each node (nodes whose runs_on is it), CSR.
	resOff []uint32
	res    []int32

	// Forward adjacency sorted by (from, to): what compromise spread walks.
	fwdOff []uint32
	fwdDst []int32
	portOf []uint32 // index into portSets

	// Reverse adjacency: for each node, the edges pointing at it, sorted by
	// source: what failure propagation walks. revSlot is the dependency slot
	// of each reverse entry's edge, -1 for reachability-only edges.
	revOff  []uint32
	revSrc  []int32
	revSlot []int32

	// A dependency slot is one replica group (or one ungrouped dependency
	// edge) of one source node: it is down when all its members are down.
	// slotInfo packs the member count (low 15 bits) and softness (top bit).
	slotInfo []uint16

	portSets [][]PortRange

	journeys []CJourney
}

// CJourney is a journey compiled to dense node ids.
type CJourney struct {
	ID               string
	Name             string
	Tier             string
	CustomersPerHour float64
	RevenuePerHour   float64
	Steps            []CStep
}

// CStep is a compiled journey step.
type CStep struct {
	Name     string
	Requires []int32
	AnyOf    [][]int32
}

// Compile builds the index of a validated, sorted model.
func Compile(m *Model) (*Index, error) {
	n := len(m.Nodes)
	if n > 1<<31-1 || len(m.Edges) > 1<<32-1 {
		return nil, fmt.Errorf("%w: model too large to index (%d nodes, %d edges)", ErrInvalid, n, len(m.Edges))
	}
	ix := &Index{
		idOff:  make([]uint32, n+1),
		kind:   make([]uint8, n),
		crown:  make([]bool, n),
		runsOn: make([]int32, n),
	}
	var ids strings.Builder
	for i := range m.Nodes {
		nd := &m.Nodes[i]
		if i > 0 && m.Nodes[i-1].ID >= nd.ID {
			return nil, fmt.Errorf("%w: nodes not sorted or duplicated at %q", ErrInvalid, nd.ID)
		}
		ids.WriteString(nd.ID)
		ix.idOff[i+1] = uint32(ids.Len())
		ix.kind[i] = kindCode(nd.Kind)
		ix.crown[i] = nd.CrownJewel
	}
	ix.idData = ids.String()
	for i := range m.Nodes {
		ix.runsOn[i] = -1
		if h := m.Nodes[i].RunsOn; h != "" {
			d, ok := ix.Lookup(h)
			if !ok {
				return nil, fmt.Errorf("node %q runs_on %q: %w", m.Nodes[i].ID, h, ErrNotFound)
			}
			ix.runsOn[i] = d
		}
	}
	ix.resOff, ix.res = invert(n, ix.runsOn)
	if err := ix.compileEdges(m); err != nil {
		return nil, err
	}
	if err := ix.compileJourneys(m.Journeys); err != nil {
		return nil, err
	}
	return ix, nil
}

// invert turns a parent array (-1 for none) into a children CSR.
func invert(n int, parent []int32) ([]uint32, []int32) {
	off := make([]uint32, n+1)
	for _, p := range parent {
		if p >= 0 {
			off[p+1]++
		}
	}
	for i := 0; i < n; i++ {
		off[i+1] += off[i]
	}
	out := make([]int32, off[n])
	fill := append([]uint32(nil), off[:n]...)
	for c, p := range parent {
		if p >= 0 {
			out[fill[p]] = int32(c)
			fill[p]++
		}
	}
	return off, out
}

func kindCode(k Kind) uint8 {
	for i, v := range Kinds {
		if v == k {
			return uint8(i)
		}
	}
	return 0
}

// maxGroup is the largest replica group a slot can count (15 bits).
const maxGroup = 1<<15 - 1

const slotSoftBit = 1 << 15

func (ix *Index) compileEdges(m *Model) error {
	n, e := ix.Len(), len(m.Edges)
	ix.fwdOff = make([]uint32, n+1)
	ix.fwdDst = make([]int32, e)
	ix.portOf = make([]uint32, e)
	slot := make([]int32, e)
	portKey := map[string]uint32{}
	src := make([]int32, e)
	groupSlot := map[string]int32{} // group name -> slot, reset per source node
	prevFrom := int32(-1)
	for i := range m.Edges {
		ed := &m.Edges[i]
		f, ok1 := ix.Lookup(ed.From)
		t, ok2 := ix.Lookup(ed.To)
		if !ok1 || !ok2 {
			return fmt.Errorf("edge %s: %w", ed.Key(), ErrNotFound)
		}
		if f < prevFrom || (f == prevFrom && i > 0 && ix.fwdDst[i-1] >= t) {
			return fmt.Errorf("%w: edges not sorted or duplicated at %s", ErrInvalid, ed.Key())
		}
		if f != prevFrom {
			clear(groupSlot)
			prevFrom = f
		}
		src[i] = f
		ix.fwdOff[f+1]++
		ix.fwdDst[i] = t
		slot[i] = -1
		if ed.Dependency != DepNone {
			s, grouped := groupSlot[ed.Group]
			if ed.Group == "" || !grouped {
				s = int32(len(ix.slotInfo))
				var info uint16
				if ed.Dependency == DepSoft {
					info = slotSoftBit
				}
				ix.slotInfo = append(ix.slotInfo, info)
				if ed.Group != "" {
					groupSlot[ed.Group] = s
				}
			}
			if ix.slotInfo[s]&^slotSoftBit == maxGroup {
				return fmt.Errorf("%w: replica group %q of %q has more than %d members", ErrInvalid, ed.Group, ed.From, maxGroup)
			}
			slot[i] = s
			ix.slotInfo[s]++
		}
		k := portSetKey(ed.Ports)
		p, seen := portKey[k]
		if !seen {
			p = uint32(len(ix.portSets))
			portKey[k] = p
			ix.portSets = append(ix.portSets, append([]PortRange(nil), ed.Ports...))
		}
		ix.portOf[i] = p
	}
	for i := 0; i < n; i++ {
		ix.fwdOff[i+1] += ix.fwdOff[i]
	}
	ix.buildReverse(src, slot)
	return nil
}

func portSetKey(ps []PortRange) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.String())
		b.WriteByte(',')
	}
	return b.String()
}

// buildReverse fills the reverse CSR. Counting sort by destination keeps
// sources in increasing order within each destination, because forward edges
// are visited in source order.
func (ix *Index) buildReverse(src, slot []int32) {
	n := ix.Len()
	ix.revOff = make([]uint32, n+1)
	for _, t := range ix.fwdDst {
		ix.revOff[t+1]++
	}
	for i := 0; i < n; i++ {
		ix.revOff[i+1] += ix.revOff[i]
	}
	ix.revSrc = make([]int32, len(ix.fwdDst))
	ix.revSlot = make([]int32, len(ix.fwdDst))
	fill := append([]uint32(nil), ix.revOff[:n]...)
	for i, t := range ix.fwdDst {
		p := fill[t]
		ix.revSrc[p] = src[i]
		ix.revSlot[p] = slot[i]
		fill[t]++
	}
}

func (ix *Index) compileJourneys(js []Journey) error {
	ix.journeys = make([]CJourney, len(js))
	for i, j := range js {
		cj := CJourney{ID: j.ID, Name: j.Name, Tier: j.Tier, CustomersPerHour: j.CustomersPerHour, RevenuePerHour: j.RevenuePerHour}
		for _, s := range j.Steps {
			cs := CStep{Name: s.Name}
			for _, r := range s.Requires {
				d, ok := ix.Lookup(r)
				if !ok {
					return fmt.Errorf("journey %q requires %q: %w", j.ID, r, ErrNotFound)
				}
				cs.Requires = append(cs.Requires, d)
			}
			for _, alt := range s.AnyOf {
				var ca []int32
				for _, r := range alt {
					d, ok := ix.Lookup(r)
					if !ok {
						return fmt.Errorf("journey %q any_of %q: %w", j.ID, r, ErrNotFound)
					}
					ca = append(ca, d)
				}
				cs.AnyOf = append(cs.AnyOf, ca)
			}
			cj.Steps = append(cj.Steps, cs)
		}
		ix.journeys[i] = cj
	}
	return nil
}

// Len is the number of nodes.
func (ix *Index) Len() int { return len(ix.idOff) - 1 }

// EdgeCount is the number of edges.
func (ix *Index) EdgeCount() int { return len(ix.fwdDst) }

// SlotCount is the number of dependency slots (replica groups and ungrouped
// dependency edges).
func (ix *Index) SlotCount() int { return len(ix.slotInfo) }

// ID returns the string id of dense node d.
func (ix *Index) ID(d int32) string { return ix.idData[ix.idOff[d]:ix.idOff[d+1]] }

// Lookup finds the dense id of a node by binary search over the sorted ids.
func (ix *Index) Lookup(id string) (int32, bool) {
	n := ix.Len()
	i := sort.Search(n, func(i int) bool { return ix.ID(int32(i)) >= id })
	if i < n && ix.ID(int32(i)) == id {
		return int32(i), true
	}
	return -1, false
}

// Kind returns the kind of node d.
func (ix *Index) Kind(d int32) Kind { return Kinds[ix.kind[d]] }

// CrownJewel reports whether node d is a crown jewel.
func (ix *Index) CrownJewel(d int32) bool { return ix.crown[d] }

// RunsOn returns the host of node d, or -1.
func (ix *Index) RunsOn(d int32) int32 { return ix.runsOn[d] }

// Residents returns the nodes whose runs_on is d (direct residents only).
func (ix *Index) Residents(d int32) []int32 { return ix.res[ix.resOff[d]:ix.resOff[d+1]] }

// Out returns the forward edge positions of node d as a half-open range.
func (ix *Index) Out(d int32) (lo, hi uint32) { return ix.fwdOff[d], ix.fwdOff[d+1] }

// OutTargets returns the targets of node d's edges, sorted.
func (ix *Index) OutTargets(d int32) []int32 { return ix.fwdDst[ix.fwdOff[d]:ix.fwdOff[d+1]] }

// In returns the reverse entries of node d as a half-open range into
// RevSource/RevSlot.
func (ix *Index) In(d int32) (lo, hi uint32) { return ix.revOff[d], ix.revOff[d+1] }

// RevSource is the source node of reverse entry r.
func (ix *Index) RevSource(r uint32) int32 { return ix.revSrc[r] }

// RevSlot is the dependency slot of reverse entry r's edge, or -1 when the
// edge is reachability only.
func (ix *Index) RevSlot(r uint32) int32 { return ix.revSlot[r] }

// Target is the destination of forward edge e.
func (ix *Index) Target(e uint32) int32 { return ix.fwdDst[e] }

// Source finds the source of forward edge e by binary search over offsets.
func (ix *Index) Source(e uint32) int32 {
	i := sort.Search(ix.Len(), func(i int) bool { return ix.fwdOff[i+1] > e })
	return int32(i)
}

// EdgeSlot is the dependency slot of forward edge e, or -1. It searches the
// target's reverse list, so it is for the few edges a scenario names, not for
// traversal.
func (ix *Index) EdgeSlot(e uint32) int32 {
	if r, ok := ix.reverseOf(ix.Source(e), ix.fwdDst[e]); ok {
		return ix.revSlot[r]
	}
	return -1
}

// reverseOf finds the reverse entry of edge from->to.
func (ix *Index) reverseOf(from, to int32) (uint32, bool) {
	lo, hi := ix.In(to)
	srcs := ix.revSrc[lo:hi]
	i := sort.Search(len(srcs), func(i int) bool { return srcs[i] >= from })
	if i < len(srcs) && srcs[i] == from {
		return lo + uint32(i), true
	}
	return 0, false
}

// Dependency is the dependency strength of forward edge e.
func (ix *Index) Dependency(e uint32) Dependency {
	s := ix.EdgeSlot(e)
	switch {
	case s < 0:
		return DepNone
	case ix.SlotSoft(s):
		return DepSoft
	}
	return DepHard
}

// SlotSize is the number of member edges of slot s.
func (ix *Index) SlotSize(s int32) int32 { return int32(ix.slotInfo[s] &^ slotSoftBit) }

// SlotSoft reports whether slot s is a soft dependency.
func (ix *Index) SlotSoft(s int32) bool { return ix.slotInfo[s]&slotSoftBit != 0 }

// Ports returns the port ranges of edge e (empty means any port).
func (ix *Index) Ports(e uint32) []PortRange { return ix.portSets[ix.portOf[e]] }

// PortSet returns the port-set id of edge e; edges with identical port lists
// share one id, so per-port-class work can be done once per set.
func (ix *Index) PortSet(e uint32) uint32 { return ix.portOf[e] }

// PortSets returns every distinct port list, indexed by port-set id.
func (ix *Index) PortSets() [][]PortRange { return ix.portSets }

// FindEdge returns the forward position of edge from->to.
func (ix *Index) FindEdge(from, to int32) (uint32, bool) {
	lo, hi := ix.Out(from)
	dst := ix.fwdDst[lo:hi]
	i := sort.Search(len(dst), func(i int) bool { return dst[i] >= to })
	if i < len(dst) && dst[i] == to {
		return lo + uint32(i), true
	}
	return 0, false
}

// Journeys returns the compiled journeys, sorted by id.
func (ix *Index) Journeys() []CJourney { return ix.journeys }
