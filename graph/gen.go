package graph

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sort"
)

// GenOptions shapes a synthetic estate.
type GenOptions struct {
	Nodes    int     // total nodes (at least 64)
	Degree   float64 // mean out-degree to aim for (6–10 is typical of flow-derived graphs)
	Journeys int
	Seed     uint64
}

// Port lists shared by every generated edge of a kind, so a million-node
// estate does not allocate millions of identical slices.
var (
	genHTTPS = []PortRange{{ProtoTCP, 443, 443}}
	genApp   = []PortRange{{ProtoTCP, 8080, 8080}}
	genSvc   = []PortRange{{ProtoTCP, 9000, 9000}}
	genDB    = []PortRange{{ProtoTCP, 5432, 5432}}
	genSSH   = []PortRange{{ProtoTCP, 22, 22}}
	genRepl  = []PortRange{{ProtoTCP, 5433, 5433}}
)

// tier of a generated node inside its cell.
type genTier uint8

// Tiers are declared in the alphabetical order of their names, which is the
// order nodes are generated in, so generated ids come out sorted.
const (
	tierApp genTier = iota
	tierData
	tierLB
	tierOps
	tierSvc
	tierWeb
	numTiers
)

var tierName = [numTiers]string{"app", "db", "lb", "ops", "svc", "web"}

// opsGroup is how many cells share a pair of ops hosts (monitoring and
// deployment): every web and app host pushes metrics to them, and they reach
// back into every web and app host of their cells over SSH. That is the
// classic pivot of real estates, and what makes blast radii thousands of
// nodes wide rather than one application's.
const opsGroup = 16

var genMetrics = []PortRange{{ProtoTCP, 9091, 9091}}

// genCell is one application: a load balancer pair, a web tier, app hosts,
// services running on them and datastores. Cells 0..platform-1 are shared
// platform cells (identity, payments, messaging…) that other cells call.
type genCell struct {
	tiers [numTiers][]int // node indices per tier
}

// Generate builds a realistic tiered estate: cells of a few hundred nodes
// (LB → web → app → services → data, replica groups at every tier, lateral
// SSH inside each tier), a few shared platform cells every application calls,
// and journeys entering through a cell's web tier. Node ids sort in the order
// they are generated and edges are emitted in (from, to) order, so the model
// comes out canonical without sorting. The same options give the same estate.
func Generate(o GenOptions) (*Model, error) {
	if o.Nodes < 64 {
		return nil, fmt.Errorf("%w: gen needs at least 64 nodes, got %d", ErrInvalid, o.Nodes)
	}
	if o.Degree <= 0 {
		o.Degree = 8
	}
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	const cellSize = 256
	ncells := (o.Nodes + cellSize - 1) / cellSize
	platform := max(1, ncells/20)
	m := &Model{Nodes: make([]Node, 0, o.Nodes)}
	cells := make([]genCell, ncells)
	tier := make([]genTier, 0, o.Nodes)
	cellOf := make([]int32, 0, o.Nodes)
	// Tier shares of a cell; the remainder goes to app hosts.
	var shares [numTiers]float64
	shares[tierWeb], shares[tierApp], shares[tierSvc], shares[tierData] = 0.18, 0.40, 0.26, 0.15
	for c := 0; c < ncells; c++ {
		size := min(cellSize, o.Nodes-c*cellSize)
		var counts [numTiers]int
		sum := 0
		for t := range counts {
			counts[t] = max(1, int(shares[t]*float64(size)))
			switch genTier(t) {
			case tierLB:
				counts[t] = min(2, size/8+1)
			case tierOps:
				counts[t] = 0
				if c%opsGroup == 0 && size >= 64 {
					counts[t] = 2
				}
			}
			sum += counts[t]
		}
		counts[tierApp] += size - sum
		if counts[tierApp] < 1 { // tiny last cell: borrow from the service tier
			counts[tierSvc] -= 1 - counts[tierApp]
			counts[tierApp] = 1
		}
		for t := genTier(0); t < numTiers; t++ {
			for k := 0; k < counts[t]; k++ {
				idx := len(m.Nodes)
				n := Node{ID: fmt.Sprintf("c%05d-%s-%03d", c, tierName[t], k)}
				n.Labels = map[string]string{"tier": tierName[t]}
				if c < platform {
					n.Labels["cell"] = "platform"
				}
				switch t {
				case tierLB:
					n.Kind = KindLB
				case tierWeb, tierApp, tierOps:
					n.Kind = KindHost
				case tierSvc:
					n.Kind = KindService
					apps := cells[c].tiers[tierApp]
					n.RunsOn = m.Nodes[apps[k%len(apps)]].ID
				case tierData:
					n.Kind = KindDatastore
					n.CrownJewel = k == 0 && c%7 == 0
				}
				if t != tierSvc {
					a := netip.AddrFrom4([4]byte{10, byte(idx >> 16), byte(idx >> 8), byte(idx)})
					n.Addresses = []netip.Prefix{netip.PrefixFrom(a, 32)}
				}
				m.Nodes = append(m.Nodes, n)
				tier = append(tier, t)
				cellOf = append(cellOf, int32(c))
				cells[c].tiers[t] = append(cells[c].tiers[t], idx)
			}
		}
	}
	// Lateral SSH per host, tuned so the mean out-degree lands near Degree:
	// the structural edges below average about 5.1 per node (3.4 in the
	// tiers, 1.7 to and from the ops hosts), and 73% of nodes (web, app and
	// data tiers) get the lateral ones.
	lateral := max(1, int((o.Degree-5.1)/0.73+0.5))
	opsOf := func(c int) []int { return cells[c-c%opsGroup].tiers[tierOps] }
	targets := make(map[int]Edge, 16)
	for i := range m.Nodes {
		clear(targets)
		c := &cells[cellOf[i]]
		add := func(to int, ports []PortRange, dep Dependency, group string) {
			if to == i {
				return
			}
			if _, dup := targets[to]; !dup {
				targets[to] = Edge{From: m.Nodes[i].ID, To: m.Nodes[to].ID, Ports: ports, Dependency: dep, Group: group}
			}
		}
		pick := func(pool []int, k int, ports []PortRange, dep Dependency, group string) {
			if len(pool) == 0 {
				return
			}
			start := rng.IntN(len(pool))
			for j := 0; j < k && j < len(pool); j++ {
				add(pool[(start+j)%len(pool)], ports, dep, group)
			}
		}
		switch tier[i] {
		case tierLB:
			pick(c.tiers[tierWeb], 8, genHTTPS, DepHard, "web")
		case tierWeb:
			pick(c.tiers[tierApp], 4, genApp, DepHard, "app")
			pick(c.tiers[tierWeb], lateral, genSSH, DepNone, "")
			pick(opsOf(int(cellOf[i])), 1, genMetrics, DepNone, "")
		case tierOps:
			for g := int(cellOf[i]); g < min(int(cellOf[i])+opsGroup, ncells); g++ {
				for _, t := range []genTier{tierWeb, tierApp} {
					for _, h := range cells[g].tiers[t] {
						add(h, genSSH, DepNone, "")
					}
				}
			}
		case tierApp:
			pick(c.tiers[tierSvc], 2, genSvc, DepHard, "")
			pick(c.tiers[tierData], 2, genDB, DepHard, "db")
			pick(c.tiers[tierApp], lateral, genSSH, DepNone, "")
			pick(opsOf(int(cellOf[i])), 1, genMetrics, DepNone, "")
			if int(cellOf[i]) >= platform && rng.IntN(4) == 0 {
				pc := &cells[rng.IntN(platform)]
				pick(pc.tiers[tierSvc], 1, genHTTPS, DepSoft, "")
			}
		case tierSvc:
			pick(c.tiers[tierData], 2, genDB, DepHard, "db")
			pick(c.tiers[tierSvc], 1, genSvc, DepSoft, "")
		case tierData:
			pick(c.tiers[tierData], 1+lateral, genRepl, DepNone, "")
		}
		for _, e := range sortedTargets(targets, m.Nodes) {
			m.Edges = append(m.Edges, e)
		}
	}
	m.Journeys = genJourneys(o, rng, cells, m, platform)
	return m, nil
}

// sortedTargets returns a node's generated edges in target-id order. Node
// indices follow id order, so sorting indices sorts ids.
func sortedTargets(t map[int]Edge, _ []Node) []Edge {
	idx := make([]int, 0, len(t))
	for k := range t {
		idx = append(idx, k)
	}
	sort.Ints(idx)
	out := make([]Edge, len(idx))
	for i, k := range idx {
		out[i] = t[k]
	}
	return out
}

func genJourneys(o GenOptions, rng *rand.Rand, cells []genCell, m *Model, platform int) []Journey {
	js := make([]Journey, 0, o.Journeys)
	tiers := []string{"critical", "high", "standard"}
	for j := 0; j < o.Journeys; j++ {
		c := &cells[(platform+rng.IntN(max(1, len(cells)-platform)))%len(cells)]
		if len(c.tiers[tierWeb]) == 0 || len(c.tiers[tierSvc]) == 0 {
			c = &cells[0]
		}
		web := c.tiers[tierWeb]
		var entry []string
		for k := 0; k < 3 && k < len(web); k++ {
			entry = append(entry, m.Nodes[web[(j+k)%len(web)]].ID)
		}
		svc := c.tiers[tierSvc]
		steps := []Step{
			{Name: "enter", AnyOf: [][]string{entry}},
			{Name: "work", Requires: []string{m.Nodes[svc[j%len(svc)]].ID}},
		}
		if pc := &cells[rng.IntN(platform)]; len(pc.tiers[tierSvc]) > 0 {
			steps = append(steps, Step{Name: "platform", Requires: []string{m.Nodes[pc.tiers[tierSvc][j%len(pc.tiers[tierSvc])]].ID}})
		}
		js = append(js, Journey{
			ID:               fmt.Sprintf("j%05d", j),
			Name:             fmt.Sprintf("journey %d", j),
			Tier:             tiers[j%len(tiers)],
			CustomersPerHour: float64(10 + rng.IntN(5000)),
			RevenuePerHour:   float64(rng.IntN(20000)),
			Steps:            steps,
		})
	}
	return js
}
