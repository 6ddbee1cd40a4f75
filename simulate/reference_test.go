package simulate_test

import (
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/firebreak/firebreak/graph"
	"github.com/firebreak/firebreak/simulate"
)

// A deliberately naive reference of DESIGN.md's semantics over the model's
// strings and maps: no index, no worklists, fixpoints by repetition. The
// property tests hold the engine to it on random graphs.

type refResult struct {
	hops     map[string]int
	failed   map[string]bool
	degraded map[string]bool
	status   map[string]string
	exposed  map[string]bool
}

func refRun(m *graph.Model, s simulate.Scenario) refResult {
	blocked := map[graph.EdgeKey]bool{}
	for _, b := range s.Blocked {
		blocked[graph.EdgeKey{From: b.From, To: b.To}] = true
	}
	runsOn := map[string]string{}
	for _, n := range m.Nodes {
		if n.RunsOn != "" {
			runsOn[n.ID] = n.RunsOn
		}
	}
	// onHost reports whether n runs (transitively) on any node of set.
	onHost := func(n string, set map[string]bool) bool {
		for h := runsOn[n]; h != ""; h = runsOn[h] {
			if set[h] {
				return true
			}
		}
		return false
	}
	quar := map[string]bool{}
	for _, q := range s.Quarantined {
		quar[q] = true
	}
	effQuar := map[string]bool{}
	for _, n := range m.Nodes {
		if quar[n.ID] || onHost(n.ID, quar) {
			effQuar[n.ID] = true
		}
	}
	usable := func(e graph.Edge) bool {
		return !blocked[e.Key()] && !effQuar[e.From] && !effQuar[e.To]
	}

	// Compromise: hop-by-hop layers; co-residents of a reached host join its
	// layer.
	hops := map[string]int{}
	var layer []string
	addWithResidents := func(n string, k int, into *[]string) {
		var add func(string)
		add = func(x string) {
			if _, ok := hops[x]; ok {
				return
			}
			hops[x] = k
			*into = append(*into, x)
			for _, o := range m.Nodes {
				if o.RunsOn == x {
					add(o.ID)
				}
			}
		}
		add(n)
	}
	for _, c := range s.Compromised {
		addWithResidents(c, 0, &layer)
	}
	for k := 1; len(layer) > 0; k++ {
		var next []string
		for _, u := range layer {
			for _, e := range m.Edges {
				if e.From == u && usable(e) {
					addWithResidents(e.To, k, &next)
				}
			}
		}
		layer = next
	}

	// Failure: least fixpoint by repetition.
	failed := map[string]bool{}
	for _, f := range s.Failed {
		failed[f] = true
	}
	for q := range effQuar {
		failed[q] = true
	}
	if s.CompromisedOffline {
		for n := range hops {
			failed[n] = true
		}
	}
	type group struct {
		from, name string
		soft       bool
		members    []graph.Edge
	}
	groups := map[string]*group{}
	var order []string
	for i, e := range m.Edges {
		if e.Dependency == graph.DepNone {
			continue
		}
		key := fmt.Sprintf("%s/%s", e.From, e.Group)
		if e.Group == "" {
			key = fmt.Sprintf("%s//%d", e.From, i)
		}
		g, ok := groups[key]
		if !ok {
			g = &group{from: e.From, soft: e.Dependency == graph.DepSoft}
			groups[key] = g
			order = append(order, key)
		}
		g.members = append(g.members, e)
	}
	down := func(g *group) bool {
		for _, e := range g.members {
			if !failed[e.To] && !blocked[e.Key()] {
				return false
			}
		}
		return true
	}
	for changed := true; changed; {
		changed = false
		for _, n := range m.Nodes {
			if failed[n.ID] {
				continue
			}
			if onHost(n.ID, failed) {
				failed[n.ID], changed = true, true
				continue
			}
			for _, k := range order {
				if g := groups[k]; g.from == n.ID && !g.soft && down(g) {
					failed[n.ID], changed = true, true
					break
				}
			}
		}
	}
	degraded := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for _, n := range m.Nodes {
			if failed[n.ID] || degraded[n.ID] {
				continue
			}
			for _, k := range order {
				g := groups[k]
				if g.from != n.ID {
					continue
				}
				if g.soft && down(g) {
					degraded[n.ID], changed = true, true
					break
				}
				for _, e := range g.members {
					if degraded[e.To] && !blocked[e.Key()] {
						degraded[n.ID], changed = true, true
						break
					}
				}
				if degraded[n.ID] {
					break
				}
			}
		}
	}

	status := map[string]string{}
	exposed := map[string]bool{}
	for _, j := range m.Journeys {
		st := "ok"
		for _, step := range j.Steps {
			broken := false
			deg := false
			for _, r := range step.Requires {
				broken = broken || failed[r]
				deg = deg || degraded[r]
			}
			for _, alt := range step.AnyOf {
				allDown, healthy := true, false
				for _, a := range alt {
					if !failed[a] {
						allDown = false
					}
					if !failed[a] && !degraded[a] {
						healthy = true
					}
				}
				broken = broken || allDown
				deg = deg || !healthy
			}
			for _, x := range step.Nodes() {
				if _, ok := hops[x]; ok {
					exposed[j.ID] = true
				}
			}
			switch {
			case broken:
				st = "broken"
			case deg && st == "ok":
				st = "degraded"
			}
		}
		status[j.ID] = st
	}
	return refResult{hops: hops, failed: failed, degraded: degraded, status: status, exposed: exposed}
}

// randomModel draws a small topology with every feature the semantics cover:
// cycles, replica groups, soft and reachability-only edges, runs_on chains,
// and journeys with alternatives.
func randomModel(rng *rand.Rand, withRunsOn bool) *graph.Model {
	n := 3 + rng.IntN(18)
	m := &graph.Model{}
	id := func(i int) string { return fmt.Sprintf("n%02d", i) }
	for i := 0; i < n; i++ {
		nd := graph.Node{ID: id(i), Kind: graph.KindHost}
		if withRunsOn && i > 0 && rng.IntN(4) == 0 {
			nd.RunsOn = id(rng.IntN(i)) // only earlier nodes: no cycles
			nd.Kind = graph.KindService
		}
		m.Nodes = append(m.Nodes, nd)
	}
	seen := map[graph.EdgeKey]bool{}
	for k := 0; k < n*2+rng.IntN(n*2); k++ {
		a, b := rng.IntN(n), rng.IntN(n)
		key := graph.EdgeKey{From: id(a), To: id(b)}
		if a == b || seen[key] {
			continue
		}
		seen[key] = true
		e := graph.Edge{From: id(a), To: id(b), Ports: []graph.PortRange{{Proto: graph.ProtoTCP, Lo: uint16(20 + rng.IntN(3)*400), Hi: uint16(20 + rng.IntN(3)*400)}}}
		switch rng.IntN(5) {
		case 0:
			e.Dependency = graph.DepSoft
		case 1:
			e.Dependency = graph.DepNone
		}
		if e.Dependency != graph.DepNone && rng.IntN(3) == 0 {
			e.Group = fmt.Sprintf("g%d", e.Dependency) // one group per strength: never mixed
		}
		if e.Ports[0].Lo > e.Ports[0].Hi {
			e.Ports[0].Lo, e.Ports[0].Hi = e.Ports[0].Hi, e.Ports[0].Lo
		}
		m.Edges = append(m.Edges, e)
	}
	for j := 0; j < 1+rng.IntN(4); j++ {
		jr := graph.Journey{ID: fmt.Sprintf("j%d", j), CustomersPerHour: float64(rng.IntN(100))}
		for s := 0; s < 1+rng.IntN(3); s++ {
			st := graph.Step{Requires: []string{id(rng.IntN(n))}}
			if rng.IntN(2) == 0 {
				st.AnyOf = [][]string{{id(rng.IntN(n)), id(rng.IntN(n))}}
			}
			jr.Steps = append(jr.Steps, st)
		}
		m.Journeys = append(m.Journeys, jr)
	}
	m.Sort()
	return m
}

func randomScenario(rng *rand.Rand, m *graph.Model) simulate.Scenario {
	pick := func(k int) []string {
		var out []string
		for i := 0; i < k; i++ {
			out = append(out, m.Nodes[rng.IntN(len(m.Nodes))].ID)
		}
		return out
	}
	s := simulate.Scenario{
		Compromised: pick(rng.IntN(3)),
		Failed:      pick(rng.IntN(3)),
		Quarantined: pick(rng.IntN(2)),
	}
	if len(m.Edges) > 0 {
		for i := 0; i < rng.IntN(3); i++ {
			e := m.Edges[rng.IntN(len(m.Edges))]
			s.Blocked = append(s.Blocked, simulate.EdgeRef{From: e.From, To: e.To})
		}
	}
	s.CompromisedOffline = rng.IntN(4) == 0
	return s
}

func keys(m map[string]bool) []string {
	out := []string{}
	for k, v := range m {
		if v {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
