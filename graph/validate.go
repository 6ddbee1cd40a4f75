package graph

import (
	"fmt"
	"sort"
)

// Build merges parsed documents into one model and validates everything that
// crosses elements or files: duplicate ids, dangling references, runs_on
// cycles, replica groups that mix dependency strengths. It reports every
// problem (up to a bound) with file, line and field.
func Build(docs ...*Document) (*Model, error) {
	m := &Model{}
	errs := &errList{}
	for _, d := range docs {
		m.Nodes = concat(m.Nodes, d.Nodes)
		m.Edges = concat(m.Edges, d.Edges)
		m.Journeys = concat(m.Journeys, d.Journeys)
	}
	validateModel(m, errs, docs)
	if err := errs.err(); err != nil {
		return nil, err
	}
	m.Sort()
	return m, nil
}

// concat appends b to a, reusing b when a is empty: one big topology file is
// then not copied.
func concat[T any](a, b []T) []T {
	if len(a) == 0 {
		return b
	}
	return append(a, b...)
}

// Validate checks a model that did not come from native files (importers,
// generators). Positions are whatever the elements carry.
func Validate(m *Model) error {
	errs := &errList{}
	validateModel(m, errs, nil)
	return errs.err()
}

// fieldPaths gives each element's field path inside its own document, so
// cross-file errors still say nodes[3].runs_on rather than just a line. Paths
// are formatted only when an error needs one: a big import has millions of
// elements and, with luck, no errors.
type fieldPaths struct {
	m                                  *Model
	nodeStart, edgeStart, journeyStart []int // global index where each document begins
}

func pathsOf(m *Model, docs []*Document) fieldPaths {
	p := fieldPaths{m: m}
	if docs == nil {
		p.nodeStart, p.edgeStart, p.journeyStart = []int{0}, []int{0}, []int{0}
		return p
	}
	var n, e, j int
	for _, d := range docs {
		p.nodeStart = append(p.nodeStart, n)
		p.edgeStart = append(p.edgeStart, e)
		p.journeyStart = append(p.journeyStart, j)
		n, e, j = n+len(d.Nodes), e+len(d.Edges), j+len(d.Journeys)
	}
	return p
}

func local(starts []int, i int) int {
	for k := len(starts) - 1; k >= 0; k-- {
		if i >= starts[k] {
			return i - starts[k]
		}
	}
	return i
}

func (p fieldPaths) node(i int) string { return fmt.Sprintf("nodes[%d]", local(p.nodeStart, i)) }
func (p fieldPaths) edge(i int) string { return fmt.Sprintf("edges[%d]", local(p.edgeStart, i)) }
func (p fieldPaths) journey(i int) string {
	return fmt.Sprintf("journeys[%d]", local(p.journeyStart, i))
}

func validateModel(m *Model, errs *errList, docs []*Document) {
	paths := pathsOf(m, docs)
	byID := make(map[string]int, len(m.Nodes))
	for i := range m.Nodes {
		n := &m.Nodes[i]
		if msg := checkID(n.ID); msg != "" {
			errs.add(n.Pos, paths.node(i)+".id", "%s", msg)
			continue
		}
		if !n.Kind.valid() {
			errs.add(n.Pos, paths.node(i)+".kind", "unknown kind %q", n.Kind)
		}
		if first, dup := byID[n.ID]; dup {
			errs.add(n.Pos, paths.node(i)+".id", "duplicate node id %q (first defined at %s)", n.ID, m.Nodes[first].Pos)
			continue
		}
		byID[n.ID] = i
	}
	for i := range m.Nodes {
		n := &m.Nodes[i]
		if n.RunsOn == "" {
			continue
		}
		if n.RunsOn == n.ID {
			errs.add(n.Pos, paths.node(i)+".runs_on", "node %q cannot run on itself", n.ID)
		} else if _, ok := byID[n.RunsOn]; !ok {
			errs.add(n.Pos, paths.node(i)+".runs_on", "unknown node %q", n.RunsOn)
		}
	}
	checkRunsOnCycles(m, byID, errs, paths)

	// Big inputs (generators, exporters) arrive sorted: then duplicates are
	// neighbours and groups are per source run, and no map over all edges is
	// needed. Otherwise fall back to maps.
	sorted := edgesSorted(m.Edges)
	type groupKey struct{ from, group string }
	groupDep := map[groupKey]int{}
	var seen map[EdgeKey]int
	if !sorted {
		seen = make(map[EdgeKey]int, len(m.Edges))
	}
	for i := range m.Edges {
		e := &m.Edges[i]
		ok := true
		if _, found := byID[e.From]; !found {
			errs.add(e.Pos, paths.edge(i)+".from", "unknown node %q", e.From)
			ok = false
		}
		if _, found := byID[e.To]; !found {
			errs.add(e.Pos, paths.edge(i)+".to", "unknown node %q", e.To)
			ok = false
		}
		if ok && e.From == e.To {
			errs.add(e.Pos, paths.edge(i)+".to", "edge from %q to itself", e.From)
			continue
		}
		if sorted {
			if i > 0 && m.Edges[i-1].Key() == e.Key() {
				errs.add(e.Pos, paths.edge(i), "duplicate edge %s (first at %s); list every port on one edge", e.Key(), m.Edges[i-1].Pos)
				continue
			}
			if i > 0 && m.Edges[i-1].From != e.From {
				clear(groupDep)
			}
		} else if first, dup := seen[e.Key()]; dup {
			errs.add(e.Pos, paths.edge(i), "duplicate edge %s (first at %s); list every port on one edge", e.Key(), m.Edges[first].Pos)
			continue
		} else {
			seen[e.Key()] = i
		}
		if e.Group != "" {
			k := groupKey{e.From, e.Group}
			if first, found := groupDep[k]; found && m.Edges[first].Dependency != e.Dependency {
				errs.add(e.Pos, paths.edge(i)+".dependency", "group %q from %q mixes %s and %s dependencies (first at %s)",
					e.Group, e.From, m.Edges[first].Dependency, e.Dependency, m.Edges[first].Pos)
			} else if !found {
				groupDep[k] = i
			}
		}
	}

	jseen := map[string]int{}
	for i := range m.Journeys {
		j := &m.Journeys[i]
		p := paths.journey(i)
		if msg := checkID(j.ID); msg != "" {
			errs.add(j.Pos, p+".id", "%s", msg)
		} else if first, dup := jseen[j.ID]; dup {
			errs.add(j.Pos, p+".id", "duplicate journey id %q (first defined at %s)", j.ID, m.Journeys[first].Pos)
		} else {
			jseen[j.ID] = i
		}
		if len(j.Steps) == 0 {
			errs.add(j.Pos, p+".steps", "a journey needs at least one step")
		}
		for si, s := range j.Steps {
			sp := fmt.Sprintf("%s.steps[%d]", p, si)
			for ri, ref := range s.Requires {
				checkRef(errs, byID, s, ref, fmt.Sprintf("%s.requires[%d]", sp, ri))
			}
			for ai, alt := range s.AnyOf {
				for ri, ref := range alt {
					checkRef(errs, byID, s, ref, fmt.Sprintf("%s.any_of[%d][%d]", sp, ai, ri))
				}
			}
		}
	}
}

func checkRef(errs *errList, byID map[string]int, s Step, ref, field string) {
	if _, ok := byID[ref]; ok {
		return
	}
	pos := s.Pos
	if line, ok := s.refPos[ref]; ok {
		pos.Line = line
	}
	errs.add(pos, field, "unknown node %q", ref)
}

// checkRunsOnCycles follows runs_on chains; each node is walked once, so this
// is linear even on million-node estates.
func checkRunsOnCycles(m *Model, byID map[string]int, errs *errList, paths fieldPaths) {
	const (
		unseen = iota
		onPath
		done
	)
	state := make([]uint8, len(m.Nodes))
	for start := range m.Nodes {
		if state[start] != unseen {
			continue
		}
		var chain []int
		cur := start
		for {
			if state[cur] == done {
				break
			}
			if state[cur] == onPath {
				ids := []string{}
				for _, c := range chain {
					ids = append(ids, m.Nodes[c].ID)
				}
				sort.Strings(ids)
				errs.add(m.Nodes[cur].Pos, paths.node(cur)+".runs_on", "runs_on cycle through %v", ids)
				break
			}
			state[cur] = onPath
			chain = append(chain, cur)
			next, ok := byID[m.Nodes[cur].RunsOn]
			if m.Nodes[cur].RunsOn == "" || !ok || next == cur {
				break
			}
			cur = next
		}
		for _, c := range chain {
			state[c] = done
		}
	}
}

// edgesSorted reports whether edges are in (from, to) order, duplicates
// allowed.
func edgesSorted(es []Edge) bool {
	for i := 1; i < len(es); i++ {
		a, b := &es[i-1], &es[i]
		if a.From > b.From || (a.From == b.From && a.To > b.To) {
			return false
		}
	}
	return true
}
