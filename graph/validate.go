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
		m.Nodes = append(m.Nodes, d.Nodes...)
		m.Edges = append(m.Edges, d.Edges...)
		m.Journeys = append(m.Journeys, d.Journeys...)
	}
	validateModel(m, errs, docs)
	if err := errs.err(); err != nil {
		return nil, err
	}
	m.Sort()
	return m, nil
}

// Validate checks a model that did not come from native files (importers,
// generators). Positions are whatever the elements carry.
func Validate(m *Model) error {
	errs := &errList{}
	validateModel(m, errs, nil)
	return errs.err()
}

// fieldPaths gives each element's field path inside its own document, so
// cross-file errors still say nodes[3].runs_on rather than just a line.
type fieldPaths struct {
	node, edge, journey []string
}

func pathsOf(m *Model, docs []*Document) fieldPaths {
	var p fieldPaths
	if docs == nil {
		for i := range m.Nodes {
			p.node = append(p.node, fmt.Sprintf("nodes[%d]", i))
		}
		for i := range m.Edges {
			p.edge = append(p.edge, fmt.Sprintf("edges[%d]", i))
		}
		for i := range m.Journeys {
			p.journey = append(p.journey, fmt.Sprintf("journeys[%d]", i))
		}
		return p
	}
	for _, d := range docs {
		for i := range d.Nodes {
			p.node = append(p.node, fmt.Sprintf("nodes[%d]", i))
		}
		for i := range d.Edges {
			p.edge = append(p.edge, fmt.Sprintf("edges[%d]", i))
		}
		for i := range d.Journeys {
			p.journey = append(p.journey, fmt.Sprintf("journeys[%d]", i))
		}
	}
	return p
}

func validateModel(m *Model, errs *errList, docs []*Document) {
	paths := pathsOf(m, docs)
	byID := make(map[string]int, len(m.Nodes))
	for i := range m.Nodes {
		n := &m.Nodes[i]
		if msg := checkID(n.ID); msg != "" {
			errs.add(n.Pos, paths.node[i]+".id", "%s", msg)
			continue
		}
		if !n.Kind.valid() {
			errs.add(n.Pos, paths.node[i]+".kind", "unknown kind %q", n.Kind)
		}
		if first, dup := byID[n.ID]; dup {
			errs.add(n.Pos, paths.node[i]+".id", "duplicate node id %q (first defined at %s)", n.ID, m.Nodes[first].Pos)
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
			errs.add(n.Pos, paths.node[i]+".runs_on", "node %q cannot run on itself", n.ID)
		} else if _, ok := byID[n.RunsOn]; !ok {
			errs.add(n.Pos, paths.node[i]+".runs_on", "unknown node %q", n.RunsOn)
		}
	}
	checkRunsOnCycles(m, byID, errs, paths)

	type groupKey struct{ from, group string }
	groupDep := map[groupKey]int{}
	seen := make(map[EdgeKey]int, len(m.Edges))
	for i := range m.Edges {
		e := &m.Edges[i]
		p := paths.edge[i]
		ok := true
		if _, found := byID[e.From]; !found {
			errs.add(e.Pos, p+".from", "unknown node %q", e.From)
			ok = false
		}
		if _, found := byID[e.To]; !found {
			errs.add(e.Pos, p+".to", "unknown node %q", e.To)
			ok = false
		}
		if ok && e.From == e.To {
			errs.add(e.Pos, p+".to", "edge from %q to itself", e.From)
			continue
		}
		if first, dup := seen[e.Key()]; dup {
			errs.add(e.Pos, p, "duplicate edge %s (first at %s); list every port on one edge", e.Key(), m.Edges[first].Pos)
			continue
		}
		seen[e.Key()] = i
		if e.Group != "" {
			k := groupKey{e.From, e.Group}
			if first, found := groupDep[k]; found && m.Edges[first].Dependency != e.Dependency {
				errs.add(e.Pos, p+".dependency", "group %q from %q mixes %s and %s dependencies (first at %s)",
					e.Group, e.From, m.Edges[first].Dependency, e.Dependency, m.Edges[first].Pos)
			} else if !found {
				groupDep[k] = i
			}
		}
	}

	jseen := map[string]int{}
	for i := range m.Journeys {
		j := &m.Journeys[i]
		p := paths.journey[i]
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
				errs.add(m.Nodes[cur].Pos, paths.node[cur]+".runs_on", "runs_on cycle through %v", ids)
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
