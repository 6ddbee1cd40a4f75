package importer

// Backstage software catalog → nodes and dependency edges.
//
//   - Input: catalog-info.yaml files (multi-document YAML, or JSON), and
//     the catalog REST API's JSON (GET /api/catalog/entities: an array of
//     entities, or {items: […]}), whose resolved `relations` are used
//     instead of re-deriving them from spec when an entity carries them.
//     The files of one import are read together (ParseMany), as a catalog
//     is one catalog-info.yaml per repository: refs resolve across files,
//     and each entity keeps its own file for positions, provenance and
//     messages.
//   - Entities are keyed by kind:namespace/name, compared case-insensitively
//     as Backstage does; node ids are that ref in lower case
//     ("component:default/artist-web"), so ids are unique across kinds and
//     the same entity always gets the same id. Invalid names, namespaces or
//     tags and duplicate entities (in one file or two) are errors
//     (Backstage rejects them).
//   - Nodes: Components → service; Resources → by spec.type: databases,
//     caches and buckets → datastore, queues and topics → service, load
//     balancers and CDNs → lb, gateways → gateway, VMs and hosts → host,
//     networks → network, external → saas, anything else → service.
//     APIs, Systems, Domains, Groups and Users are not nodes: they cannot be
//     reached, fail or be quarantined. They become labels (system, domain,
//     owner, provides_apis, consumes_apis) and the APIs are joined through.
//   - Edges (all hard: a catalog dependency says the entity needs it):
//     dependsOn X → self → X; dependencyOf X → X → self. An entity ref's
//     kind and namespace default by field (the referrer's namespace, kind
//     api for the API fields); a dependsOn ref without a kind matches a
//     Component, else a Resource, of that name. consumesApis A and
//     providesApis A join through the API entity into consumer → provider
//     edges. A ref with the wrong kind (consumesApis: component:x, as real
//     files have) is reported; it still becomes a direct edge when x is in
//     the input. Refs that name nothing in the input (or, with --merge, in
//     the base revision) are reported as unresolved, never invented.
//   - Not fetched, noted: kind Location targets, $text/$json/$yaml
//     substitutions. Unknown spec keys are ignored (relation-like ones such
//     as apiConsumedBy are noted). Scaffolder templates (kind Template) are
//     skipped; a file templated with ${{ … }} is refused: it is a skeleton
//     to render, not a catalog.

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/firebreak/firebreak/graph"
	"gopkg.in/yaml.v3"
)

var backstageFormat = Format{Name: "backstage", Detect: detectBackstage, Parse: parseBackstage, ParseMany: parseBackstageMany}

var bsAPIRe = regexp.MustCompile(`"?apiVersion"?\s*:\s*["']?[A-Za-z0-9.\-]*backstage\.io/`)

func detectBackstage(_ string, head []byte) bool { return bsAPIRe.Match(head) }

var (
	bsNameRe = regexp.MustCompile(`^[A-Za-z0-9]+([-_.][A-Za-z0-9]+)*$`)
	bsNSRe   = regexp.MustCompile(`^[a-z0-9]+(-+[a-z0-9]+)*$`)
	bsTagRe  = regexp.MustCompile(`^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$`)
	bsKindRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)
)

type bsEntity struct {
	kind, ns, name string // kind and namespace lower case, name as written
	ref            string // kind:namespace/name, lower case
	file           string // the input it came from: its positions, provenance and messages name it
	line           int
	n, spec        *yaml.Node
	id             string // node id, "" when the entity is not a node
}

// at is a position in the entity's file.
func (e *bsEntity) at(line int) graph.Pos { return graph.Pos{File: e.file, Line: line} }

type bsParser struct {
	ctx        context.Context
	lim        Limits
	b          *ynBudget
	known      *graph.Model
	knownIDs   map[string]bool
	frag       *Fragment
	errs       []error
	entities   []*bsEntity
	byRef      map[string]*bsEntity
	nodes      map[string]*graph.Node
	edges      map[graph.EdgeKey]*graph.Edge
	providers  map[string][]*bsEntity // api ref → providing entities
	consumers  map[string][]bsUse     // api ref → consuming entities
	notes      ynCapList
	unresolved ynCapList
}

type bsUse struct {
	e    *bsEntity
	line int
}

// parseBackstage reads one file: ParseMany with one input.
func parseBackstage(ctx context.Context, in Input, c *Context) (*Fragment, error) {
	return parseBackstageMany(ctx, []Input{in}, c)
}

// parseBackstageMany reads the entities of every input (a catalog is one
// catalog-info.yaml per repository), each remembering its file, then joins
// relations once over all of them: consumesApis in one file meets
// providesApis in another, and dependsOn reaches entities of other files.
func parseBackstageMany(ctx context.Context, ins []Input, c *Context) (frag *Fragment, err error) {
	if len(ins) == 0 {
		return nil, fmt.Errorf("%w: no Backstage catalog files to read", graph.ErrInvalid)
	}
	names := make([]string, len(ins))
	for i, in := range ins {
		names[i] = in.Name
	}
	defer ynRecover(strings.Join(names, ", "), &err)
	p := &bsParser{ctx: ctx, lim: ynLimits(c), b: newYNBudget(0), frag: &Fragment{},
		byRef: map[string]*bsEntity{}, nodes: map[string]*graph.Node{}, edges: map[graph.EdgeKey]*graph.Edge{},
		providers: map[string][]*bsEntity{}, consumers: map[string][]bsUse{},
		notes: ynCapList{max: 40}, unresolved: ynCapList{max: 60}}
	if c != nil {
		p.known = c.Known
	}
	for _, in := range ins {
		if err := p.readInput(in); err != nil {
			return nil, err
		}
	}
	if len(p.errs) > 0 {
		if len(p.errs) > 20 {
			p.errs = append(p.errs[:20], fmt.Errorf("%w: and %d more errors", graph.ErrInvalid, len(p.errs)-20))
		}
		return nil, errors.Join(p.errs...)
	}
	p.emitNodes()
	p.relations()
	return p.finish(), nil
}

// readInput reads one file's entities into the parser. Invalid entities
// are collected in p.errs, so one import reports them all.
func (p *bsParser) readInput(in Input) error {
	data, err := readAll(in, p.lim.MaxDoc)
	if err != nil {
		return err
	}
	p.b.add(len(data))
	docs, err := ynDocs(in.Name, data, p.lim.MaxDepth, func(int, error) error {
		if i := strings.Index(string(data), "${{"); i >= 0 {
			return ynErr(in.Name, strings.Count(string(data[:i]), "\n")+1, "templated entity (${{ … }}): a scaffolder skeleton, not a catalog entity; import the rendered catalog-info.yaml")
		}
		return nil
	})
	if err != nil {
		return err
	}
	entities, errs := len(p.entities), len(p.errs)
	for _, d := range docs {
		if err := p.ctx.Err(); err != nil {
			return err
		}
		switch {
		case d.root.Kind == yaml.SequenceNode:
			for _, it := range p.b.list(d.root) {
				p.entity(in.Name, it)
			}
		case ynGet(d.root, "kind") == nil && ynGet(d.root, "items") != nil:
			for _, it := range p.b.list(ynGet(d.root, "items")) {
				p.entity(in.Name, it)
			}
		default:
			p.entity(in.Name, d.root)
		}
	}
	if p.b.over {
		return fmt.Errorf("%s: %w: too many list items to walk (anchors and aliases?)", in.Name, ErrTooLarge)
	}
	if len(p.entities) == entities && len(p.errs) == errs {
		p.errs = append(p.errs, ynErr(in.Name, 1, "no Backstage entities in this file"))
	}
	return nil
}

func (p *bsParser) fail(file string, n *yaml.Node, line int, format string, args ...any) {
	p.errs = append(p.errs, ynErr(file, ynLine(n, line), format, args...))
}

// entity validates and records one entity of file.
func (p *bsParser) entity(file string, n *yaml.Node) {
	line := ynLine(n, 1)
	if n.Kind != yaml.MappingNode {
		p.fail(file, n, line, "want an entity (a mapping with apiVersion, kind, metadata), got a %s", map[yaml.Kind]string{yaml.SequenceNode: "list", yaml.ScalarNode: "scalar"}[n.Kind])
		return
	}
	p.frag.Report.Records++
	api, kind := ynStr(ynGet(n, "apiVersion")), ynStr(ynGet(n, "kind"))
	meta := ynGet(n, "metadata")
	name, ns := ynStr(ynGet(meta, "name")), ynStr(ynGet(meta, "namespace"))
	switch {
	case !strings.Contains(api, "backstage.io/"):
		p.fail(file, ynGet(n, "apiVersion"), line, "apiVersion %q is not a Backstage entity's (want backstage.io/v1alpha1)", api)
		return
	case !bsKindRe.MatchString(kind):
		p.fail(file, ynGet(n, "kind"), line, "kind %q: want a word such as Component", kind)
		return
	}
	if kind == "Template" {
		p.notes.add("%s:%d: scaffolder Template %s skipped: it creates entities, it is not one", file, line, name)
		return
	}
	// A skeleton templated with ${{ … }} parses as YAML but is not a catalog.
	if t := p.b.findScalar(n, nil, func(s string) bool { return strings.Contains(s, "${{") }); t != nil {
		p.fail(file, t, line, "templated entity (%s): a scaffolder skeleton, not a catalog entity; import the rendered catalog-info.yaml", k8sClip(t.Value, 40))
		return
	}
	ok := true
	if name == "" || len(name) > 63 || !bsNameRe.MatchString(name) {
		p.fail(file, ynGet(meta, "name"), ynLine(meta, line), "metadata.name %q: want 1-63 characters of [a-zA-Z0-9] separated by [-_.] (Backstage rejects this entity)", name)
		ok = false
	}
	if ns == "" {
		ns = "default"
	} else if len(ns) > 63 || !bsNSRe.MatchString(ns) {
		p.fail(file, ynGet(meta, "namespace"), line, "metadata.namespace %q: want a lower-case DNS label (Backstage rejects this entity)", ns)
		ok = false
	}
	for _, t := range p.b.strList(ynGet(meta, "tags")) {
		if len(t.Value) > 63 || !bsTagRe.MatchString(t.Value) {
			p.fail(file, t, line, "metadata.tags: %q: want [a-z0-9:+#] words separated by - (Backstage rejects this entity)", t.Value)
			ok = false
		}
	}
	if !ok {
		return
	}
	e := &bsEntity{kind: strings.ToLower(kind), ns: strings.ToLower(ns), name: name, file: file, line: line, n: n, spec: ynGet(n, "spec")}
	e.ref = e.kind + ":" + e.ns + "/" + strings.ToLower(name)
	if prev, dup := p.byRef[e.ref]; dup {
		first := fmt.Sprintf("line %d", prev.line)
		if prev.file != file {
			first = fmt.Sprintf("%s:%d", prev.file, prev.line)
		}
		p.fail(file, meta, line, "duplicate entity %s (first at %s; names compare case-insensitively)", e.ref, first)
		return
	}
	p.byRef[e.ref] = e
	p.entities = append(p.entities, e)
}

// bsParseRef reads [kind:][namespace/]name with the field's defaults.
func bsParseRef(s, defKind, defNS string) (kind, ns, name string, ok bool) {
	s = strings.TrimSpace(s)
	kind, ns = defKind, defNS
	if k, rest, found := strings.Cut(s, ":"); found && !strings.Contains(k, "/") {
		kind, s = k, rest
	}
	if n, rest, found := strings.Cut(s, "/"); found {
		ns, s = n, rest
	}
	if s == "" || strings.ContainsAny(s, "/:") || ns == "" {
		return "", "", "", false
	}
	return strings.ToLower(kind), strings.ToLower(ns), strings.ToLower(s), true
}

var bsResourceKinds = map[string]graph.Kind{
	"database": graph.KindDatastore, "db": graph.KindDatastore, "postgres": graph.KindDatastore, "postgresql": graph.KindDatastore,
	"mysql": graph.KindDatastore, "mariadb": graph.KindDatastore, "mongodb": graph.KindDatastore, "redis": graph.KindDatastore,
	"cache": graph.KindDatastore, "cassandra": graph.KindDatastore, "dynamodb": graph.KindDatastore, "bigtable": graph.KindDatastore,
	"elasticsearch": graph.KindDatastore, "s3-bucket": graph.KindDatastore, "bucket": graph.KindDatastore, "storage": graph.KindDatastore,
	"object-storage": graph.KindDatastore, "filesystem": graph.KindDatastore, "datastore": graph.KindDatastore,
	"queue": graph.KindService, "topic": graph.KindService, "kafka-topic": graph.KindService, "pubsub": graph.KindService,
	"lb": graph.KindLB, "load-balancer": graph.KindLB, "loadbalancer": graph.KindLB, "cdn": graph.KindLB,
	"gateway": graph.KindGateway, "api-gateway": graph.KindGateway, "firewall": graph.KindGateway,
	"vm": graph.KindHost, "host": graph.KindHost, "server": graph.KindHost, "instance": graph.KindHost,
	"network": graph.KindNetwork, "vpc": graph.KindNetwork, "subnet": graph.KindNetwork, "vpn": graph.KindNetwork,
	"saas": graph.KindSaaS, "external": graph.KindSaaS, "third-party": graph.KindSaaS,
}

// emitNodes makes nodes of Components and Resources and notes the rest.
func (p *bsParser) emitNodes() {
	others := map[string]int{}
	for _, e := range p.entities {
		switch e.kind {
		case "component", "resource":
		case "location":
			var targets []string
			if t := ynStr(ynGet(e.spec, "target")); t != "" {
				targets = append(targets, t)
			}
			for _, t := range p.b.strList(ynGet(e.spec, "targets")) {
				targets = append(targets, t.Value)
			}
			p.notes.add("%s:%d: Location %s: its targets are not fetched (import those files too): %s", e.file, e.line, e.name, strings.Join(targets, " "))
			continue
		case "api", "system", "domain", "group", "user":
			others[e.kind]++
			p.substitutions(e)
			p.oddSpecKeys(e)
			continue
		default:
			p.notes.add("%s:%d: kind %s (%s) is not a Backstage core kind: skipped", e.file, e.line, e.kind, e.name)
			continue
		}
		typ := ynStr(ynGet(e.spec, "type"))
		kind := graph.KindService
		if e.kind == "resource" {
			if k, ok := bsResourceKinds[strings.ToLower(typ)]; ok {
				kind = k
			}
		}
		e.id = e.ref
		n := &graph.Node{ID: e.id, Kind: kind, Name: e.name, Labels: map[string]string{"namespace": e.ns, "backstage_kind": e.kind},
			Sources: []string{Provenance("backstage", e.file)}, Pos: e.at(e.line)}
		if t := ynStr(ynPath(e.n, "metadata", "title")); t != "" {
			n.Name = t
		}
		for k, v := range p.b.strMap(ynPath(e.n, "metadata", "labels")) {
			n.Labels[k] = v
		}
		set := func(k, v string) {
			if v != "" {
				n.Labels[k] = v
			}
		}
		set("type", typ)
		set("lifecycle", ynStr(ynGet(e.spec, "lifecycle")))
		if k, ns, name, ok := bsParseRef(ynStr(ynGet(e.spec, "owner")), "group", e.ns); ok {
			set("owner", k+":"+ns+"/"+name)
		}
		if _, ns, name, ok := bsParseRef(ynStr(ynGet(e.spec, "system")), "system", e.ns); ok {
			set("system", ns+"/"+name)
			if sys := p.byRef["system:"+ns+"/"+name]; sys != nil {
				if _, dns, dname, ok := bsParseRef(ynStr(ynGet(sys.spec, "domain")), "domain", sys.ns); ok {
					set("domain", dns+"/"+dname)
				}
			}
		}
		if k, ns, name, ok := bsParseRef(ynStr(ynGet(e.spec, "subcomponentOf")), "component", e.ns); ok {
			set("subcomponent_of", k+":"+ns+"/"+name)
		}
		var tags []string
		for _, t := range p.b.strList(ynPath(e.n, "metadata", "tags")) {
			tags = append(tags, t.Value)
		}
		set("tags", strings.Join(tags, " "))
		p.nodes[e.id] = n
		p.substitutions(e)
		p.oddSpecKeys(e)
	}
	for _, k := range sortedKeys(others) {
		p.notes.add("%d %s entities are labels and joins, not nodes", others[k], k)
	}
}

// substitutions notes $text/$json/$yaml placeholders, which are not fetched.
func (p *bsParser) substitutions(e *bsEntity) {
	t := p.b.findScalar(e.spec, nil, func(s string) bool { return s == "$text" || s == "$json" || s == "$yaml" })
	if t != nil {
		p.notes.add("%s:%d: %s: %s substitution not fetched", e.file, t.Line, e.ref, t.Value)
	}
}

// oddSpecKeys notes relation names written into spec, which Backstage
// ignores.
func (p *bsParser) oddSpecKeys(e *bsEntity) {
	for _, kv := range p.b.pairs(e.spec) {
		switch kv[0].Value {
		case "apiConsumedBy", "apiProvidedBy", "consumedBy", "providedBy", "dependents", "hasPart", "partOf", "ownedBy", "ownerOf", "hasSubcomponent":
			p.notes.add("%s:%d: %s: spec.%s is a relation name, not a descriptor field: Backstage ignores it, and so does this import", e.file, kv[0].Line, e.ref, kv[0].Value)
		}
	}
}
