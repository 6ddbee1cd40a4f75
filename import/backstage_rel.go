package importer

import (
	"sort"
	"strings"

	"github.com/firebreak/firebreak/graph"
	"gopkg.in/yaml.v3"
)

// Backstage relations → edges: dependsOn/dependencyOf directly, and
// consumesApis/providesApis joined through the API entity.

// relations reads every entity's relations: the resolved `relations` of the
// REST API's form when present, else the descriptor's spec fields.
func (p *bsParser) relations() {
	for _, e := range p.entities {
		if e.id == "" {
			continue
		}
		if rels := ynResolve(ynGet(e.n, "relations")); rels != nil && rels.Kind == yaml.SequenceNode {
			// Both directions are listed; the forward ones say it all.
			for _, r := range p.b.list(rels) {
				target := ynStr(ynGet(r, "targetRef"))
				if target == "" {
					t := ynGet(r, "target")
					target = ynStr(ynGet(t, "kind")) + ":" + ynStr(ynGet(t, "namespace")) + "/" + ynStr(ynGet(t, "name"))
				}
				line := ynLine(r, e.line)
				switch ynStr(ynGet(r, "type")) {
				case "dependsOn":
					p.depend(e, target, line, false)
				case "consumesApi":
					p.useAPI(e, target, line, true)
				case "providesApi":
					p.useAPI(e, target, line, false)
				}
			}
			continue
		}
		for _, r := range p.b.strList(ynGet(e.spec, "dependsOn")) {
			p.depend(e, r.Value, r.Line, false)
		}
		for _, r := range p.b.strList(ynGet(e.spec, "dependencyOf")) {
			p.depend(e, r.Value, r.Line, true)
		}
		if e.kind == "component" {
			for _, r := range p.b.strList(ynGet(e.spec, "consumesApis")) {
				p.useAPI(e, r.Value, r.Line, true)
			}
			for _, r := range p.b.strList(ynGet(e.spec, "providesApis")) {
				p.useAPI(e, r.Value, r.Line, false)
			}
		}
	}
	p.joinAPIs()
}

// knownNode reports whether the base revision (with --merge) has a node.
func (p *bsParser) knownNode(id string) bool {
	if p.known == nil {
		return false
	}
	if p.knownIDs == nil {
		p.knownIDs = make(map[string]bool, len(p.known.Nodes))
		for i := range p.known.Nodes {
			p.knownIDs[p.known.Nodes[i].ID] = true
		}
	}
	return p.knownIDs[id]
}

// target finds the node a ref names: in this input, else in the base
// revision.
func (p *bsParser) target(ref string) (string, bool) {
	if _, ok := p.nodes[ref]; ok {
		return ref, true
	}
	if p.knownNode(ref) {
		return ref, true
	}
	return "", false
}

// depend adds the edge of a dependsOn (or, reversed, dependencyOf) ref.
func (p *bsParser) depend(e *bsEntity, s string, line int, reverse bool) {
	field := "dependsOn"
	if reverse {
		field = "dependencyOf"
	}
	kind, ns, name, ok := bsParseRef(s, "", e.ns)
	if !ok {
		p.unresolved.add("%s:%d: %s %s %q is not an entity ref ([kind:][namespace/]name)", e.file, line, e.ref, field, s)
		return
	}
	cands := []string{kind + ":" + ns + "/" + name}
	if kind == "" {
		cands = []string{"component:" + ns + "/" + name, "resource:" + ns + "/" + name}
	}
	for _, c := range cands {
		if id, ok := p.target(c); ok {
			if reverse {
				p.addEdge(id, e.id, e.at(line))
			} else {
				p.addEdge(e.id, id, e.at(line))
			}
			return
		}
		if other := p.byRef[c]; other != nil {
			p.notes.add("%s:%d: %s %s %s: a %s is not a runtime dependency (no edge)", e.file, line, e.ref, field, c, other.kind)
			return
		}
	}
	p.unresolved.add("%s:%d: %s %s %s: not in this input (no node invented)", e.file, line, e.ref, field, strings.Join(cands, " or "))
}

// useAPI records a consumesApis (consume) or providesApis ref.
func (p *bsParser) useAPI(e *bsEntity, s string, line int, consume bool) {
	field, label := "providesApis", "provides_apis"
	if consume {
		field, label = "consumesApis", "consumes_apis"
	}
	kind, ns, name, ok := bsParseRef(s, "api", e.ns)
	if !ok {
		p.unresolved.add("%s:%d: %s %s %q is not an entity ref ([kind:][namespace/]name)", e.file, line, e.ref, field, s)
		return
	}
	ref := kind + ":" + ns + "/" + name
	if kind != "api" {
		if id, found := p.target(ref); found && consume {
			p.notes.add("%s:%d: %s %s names %s, which is not an API: kept as a direct dependency", e.file, line, e.ref, field, ref)
			p.addEdge(e.id, id, e.at(line))
			return
		}
		p.unresolved.add("%s:%d: %s %s names %s, which is not an API (and not in this input)", e.file, line, e.ref, field, ref)
		return
	}
	if n := p.nodes[e.id]; n != nil {
		n.Labels[label] = strings.TrimSpace(n.Labels[label] + " " + ref)
	}
	if consume {
		p.consumers[ref] = append(p.consumers[ref], bsUse{e, line})
	} else {
		p.providers[ref] = append(p.providers[ref], e)
	}
}

// bsHasRef reports whether a space-separated label value lists ref.
func bsHasRef(list, ref string) bool {
	for _, f := range strings.Fields(list) {
		if f == ref {
			return true
		}
	}
	return false
}

// joinAPIs turns API consumers and providers into consumer → provider
// edges, in this input and against the base revision.
func (p *bsParser) joinAPIs() {
	apis := map[string]bool{}
	for a := range p.consumers {
		apis[a] = true
	}
	for a := range p.providers {
		apis[a] = true
	}
	for _, api := range sortedKeys(apis) {
		var provs []string
		for _, e := range p.providers[api] {
			provs = append(provs, e.id)
		}
		var knownCons []string
		if p.known != nil {
			for i := range p.known.Nodes {
				kn := &p.known.Nodes[i]
				if _, here := p.nodes[kn.ID]; here {
					continue
				}
				if bsHasRef(kn.Labels["provides_apis"], api) {
					provs = append(provs, kn.ID)
				}
				if bsHasRef(kn.Labels["consumes_apis"], api) {
					knownCons = append(knownCons, kn.ID)
				}
			}
		}
		sort.Strings(provs)
		for _, c := range p.consumers[api] {
			if len(provs) == 0 {
				if p.byRef[api] != nil {
					p.unresolved.add("%s:%d: %s consumes %s, which nothing in this input provides (no edge)", c.e.file, c.line, c.e.ref, api)
				} else {
					p.unresolved.add("%s:%d: %s consumes %s, which is not in this input (no edge)", c.e.file, c.line, c.e.ref, api)
				}
				continue
			}
			for _, prov := range provs {
				p.addEdge(c.e.id, prov, c.e.at(c.line))
			}
		}
		for _, kc := range knownCons {
			for _, e := range p.providers[api] {
				p.addEdge(kc, e.id, e.at(e.line))
			}
		}
	}
}

// addEdge adds a hard edge; at is the line that declares it, in the file of
// the entity that holds that line.
func (p *bsParser) addEdge(from, to string, at graph.Pos) {
	if from == to {
		return
	}
	k := graph.EdgeKey{From: from, To: to}
	if _, ok := p.edges[k]; ok {
		return
	}
	p.edges[k] = &graph.Edge{From: from, To: to, Dependency: graph.DepHard, Sources: []string{Provenance("backstage", at.File)}, Pos: at}
}

func (p *bsParser) finish() *Fragment {
	f := p.frag
	for _, id := range sortedKeys(p.nodes) {
		f.Nodes = append(f.Nodes, *p.nodes[id])
	}
	for _, k := range k8sSortedEdgeKeys(p.edges) {
		f.Edges = append(f.Edges, *p.edges[k])
	}
	f.Report.Notes = p.notes.out("notes")
	f.Report.Unresolved = p.unresolved.out("unresolved references")
	return f
}
