package graph

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
)

// Change is one changed node, edge or journey: its id and the fields that
// differ, each as "field: old → new".
type Change struct {
	ID     string   `json:"id"`
	Fields []string `json:"fields"`
}

// Diff is what changes from one model to another.
type Diff struct {
	NodesAdded      []string `json:"nodes_added"`
	NodesRemoved    []string `json:"nodes_removed"`
	NodesChanged    []Change `json:"nodes_changed"`
	EdgesAdded      []string `json:"edges_added"`
	EdgesRemoved    []string `json:"edges_removed"`
	EdgesChanged    []Change `json:"edges_changed"`
	JourneysAdded   []string `json:"journeys_added"`
	JourneysRemoved []string `json:"journeys_removed"`
	JourneysChanged []Change `json:"journeys_changed"`
}

// Empty reports whether nothing changes.
func (d Diff) Empty() bool {
	return len(d.NodesAdded)+len(d.NodesRemoved)+len(d.NodesChanged)+len(d.EdgesAdded)+len(d.EdgesRemoved)+
		len(d.EdgesChanged)+len(d.JourneysAdded)+len(d.JourneysRemoved)+len(d.JourneysChanged) == 0
}

// Compare computes the difference from a to b (either may be nil). Elements
// are compared in their wire shapes, so what counts as a change is exactly
// what the native format would show.
func Compare(a, b *Model) Diff {
	if a == nil {
		a = &Model{}
	}
	if b == nil {
		b = &Model{}
	}
	d := Diff{
		NodesAdded: []string{}, NodesRemoved: []string{}, NodesChanged: []Change{},
		EdgesAdded: []string{}, EdgesRemoved: []string{}, EdgesChanged: []Change{},
		JourneysAdded: []string{}, JourneysRemoved: []string{}, JourneysChanged: []Change{},
	}
	an, bn := map[string]NodeDoc{}, map[string]NodeDoc{}
	for _, n := range a.Nodes {
		an[n.ID] = n.Doc()
	}
	for _, n := range b.Nodes {
		bn[n.ID] = n.Doc()
	}
	d.NodesAdded, d.NodesRemoved, d.NodesChanged = compareDocs(an, bn)
	ae, be := map[string]EdgeDoc{}, map[string]EdgeDoc{}
	for _, e := range a.Edges {
		ae[e.Key().String()] = e.Doc()
	}
	for _, e := range b.Edges {
		be[e.Key().String()] = e.Doc()
	}
	d.EdgesAdded, d.EdgesRemoved, d.EdgesChanged = compareDocs(ae, be)
	aj, bj := map[string]JourneyDoc{}, map[string]JourneyDoc{}
	for _, j := range a.Journeys {
		aj[j.ID] = j.Doc()
	}
	for _, j := range b.Journeys {
		bj[j.ID] = j.Doc()
	}
	d.JourneysAdded, d.JourneysRemoved, d.JourneysChanged = compareDocs(aj, bj)
	return d
}

func compareDocs[T any](a, b map[string]T) (added, removed []string, changed []Change) {
	added, removed, changed = []string{}, []string{}, []Change{}
	for k, bv := range b {
		av, ok := a[k]
		if !ok {
			added = append(added, k)
			continue
		}
		if f := fieldChanges(av, bv); len(f) > 0 {
			changed = append(changed, Change{ID: k, Fields: f})
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			removed = append(removed, k)
		}
	}
	sort.Strings(added)
	sort.Strings(removed)
	sort.Slice(changed, func(i, j int) bool { return changed[i].ID < changed[j].ID })
	return added, removed, changed
}

// fieldChanges lists the JSON fields of two wire documents that differ.
func fieldChanges(a, b any) []string {
	var am, bm map[string]json.RawMessage
	ab, _ := json.Marshal(a)
	bb, _ := json.Marshal(b)
	_ = json.Unmarshal(ab, &am)
	_ = json.Unmarshal(bb, &bm)
	keys := map[string]bool{}
	for k := range am {
		keys[k] = true
	}
	for k := range bm {
		keys[k] = true
	}
	var out []string
	for k := range keys {
		var av, bv any
		_ = json.Unmarshal(am[k], &av)
		_ = json.Unmarshal(bm[k], &bv)
		if !reflect.DeepEqual(av, bv) {
			out = append(out, fmt.Sprintf("%s: %s → %s", k, short(am[k]), short(bm[k])))
		}
	}
	sort.Strings(out)
	return out
}

func short(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "—"
	}
	s := string(raw)
	if len(s) > 60 {
		s = s[:57] + "…"
	}
	return s
}

// WriteText writes the diff for a terminal.
func (d Diff) WriteText(w io.Writer) error {
	var b strings.Builder
	if d.Empty() {
		b.WriteString("no changes\n")
	}
	section := func(what string, added, removed []string, changed []Change) {
		if len(added)+len(removed)+len(changed) == 0 {
			return
		}
		fmt.Fprintf(&b, "%s: %d added, %d removed, %d changed\n", what, len(added), len(removed), len(changed))
		for _, x := range added {
			fmt.Fprintf(&b, "  + %s\n", x)
		}
		for _, x := range removed {
			fmt.Fprintf(&b, "  - %s\n", x)
		}
		for _, c := range changed {
			fmt.Fprintf(&b, "  ~ %s\n", c.ID)
			for _, f := range c.Fields {
				fmt.Fprintf(&b, "      %s\n", f)
			}
		}
	}
	section("nodes", d.NodesAdded, d.NodesRemoved, d.NodesChanged)
	section("edges", d.EdgesAdded, d.EdgesRemoved, d.EdgesChanged)
	section("journeys", d.JourneysAdded, d.JourneysRemoved, d.JourneysChanged)
	_, err := io.WriteString(w, b.String())
	return err
}
