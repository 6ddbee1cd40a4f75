package importer

import (
	"errors"
	"fmt"

	"github.com/firebreak/firebreak/graph"
)

// CheckNative keeps the native format strict across files: a node, edge or
// journey written twice in firebreak's own files is a mistake to report with
// both places, not something to merge. (Other formats do merge: a service
// seen in a manifest and in traces is one node.)
func CheckNative(frags []*Fragment) error {
	var errs []error
	nodes := map[string]graph.Pos{}
	edges := map[graph.EdgeKey]graph.Pos{}
	journeys := map[string]graph.Pos{}
	dup := func(pos graph.Pos, field, what string, first graph.Pos) {
		errs = append(errs, &graph.InputError{Pos: pos, Field: field, Msg: fmt.Sprintf("%s (first defined at %s)", what, first)})
	}
	for _, f := range frags {
		if f == nil || f.Format != nativeFormat.Name {
			continue
		}
		for _, n := range f.Nodes {
			if first, ok := nodes[n.ID]; ok {
				dup(n.Pos, n.Pos.Path+".id", fmt.Sprintf("duplicate node id %q", n.ID), first)
				continue
			}
			nodes[n.ID] = n.Pos
		}
		for _, e := range f.Edges {
			if first, ok := edges[e.Key()]; ok {
				dup(e.Pos, e.Pos.Path, fmt.Sprintf("duplicate edge %s; list every port on one edge", e.Key()), first)
				continue
			}
			edges[e.Key()] = e.Pos
		}
		for _, j := range f.Journeys {
			if first, ok := journeys[j.ID]; ok {
				dup(j.Pos, j.Pos.Path+".id", fmt.Sprintf("duplicate journey id %q", j.ID), first)
				continue
			}
			journeys[j.ID] = j.Pos
		}
	}
	return errors.Join(errs...)
}
