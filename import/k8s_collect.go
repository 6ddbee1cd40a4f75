package importer

import (
	"bytes"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Reading the objects of each Kubernetes input: documents, Lists, and the
// refusals (unrendered templates, kustomizations, other formats), every
// object remembering the file it came from.

// readInput reads one file's objects into the parser.
func (p *k8sParser) readInput(in Input) error {
	data, err := readAll(in, p.lim.MaxDoc)
	if err != nil {
		return err
	}
	p.b.add(len(data))
	// Depth is checked per object below, for the kinds this import reads:
	// CustomResourceDefinitions nest deep and are legitimately skipped.
	docs, err := ynDocs(in.Name, data, 0, func(line int, _ error) error {
		if l := k8sTemplateLine(data); l > 0 {
			return ynErr(in.Name, l, "unrendered Helm template ({{ … }}); render it first (helm template RELEASE CHART > manifests.yaml) and import the output")
		}
		return nil
	})
	if err != nil {
		return err
	}
	before := p.read
	for _, d := range docs {
		if err := p.collect(in.Name, d.root, 0); err != nil {
			return err
		}
	}
	if p.b.over {
		return fmt.Errorf("%s: %w: too many list items to walk (anchors and aliases?)", in.Name, ErrTooLarge)
	}
	if p.read == before {
		return ynErr(in.Name, 1, "no Kubernetes objects (documents with apiVersion and kind) in this file")
	}
	return nil
}

// k8sTemplateLine finds the first line holding a Go template action.
func k8sTemplateLine(data []byte) int {
	i := bytes.Index(data, []byte("{{"))
	if i < 0 {
		return 0
	}
	return bytes.Count(data[:i], []byte("\n")) + 1
}

// collect flattens one document of file (and the items of Lists) into
// objects.
func (p *k8sParser) collect(file string, n *yaml.Node, depth int) error {
	line := ynLine(n, 1)
	if n.Kind != yaml.MappingNode {
		p.frag.Report.Skip(file, line, "not a Kubernetes object (want a mapping with apiVersion and kind)")
		return nil
	}
	kind, api := ynStr(ynGet(n, "kind")), ynStr(ynGet(n, "apiVersion"))
	if kind == "" && api == "" && ynGet(n, "items") != nil && depth == 0 {
		kind = "List" // a bare {items: […]} from some exporters
	}
	if kind == "" {
		p.frag.Report.Skip(file, line, "document has no kind")
		return nil
	}
	if kind == "List" || (strings.HasSuffix(kind, "List") && ynHas(n, "items")) {
		if depth > 4 {
			return ynErr(file, line, "Lists nested deeper than 4 levels")
		}
		for _, it := range p.b.list(ynGet(n, "items")) {
			if err := p.collect(file, it, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if kind == "Kustomization" || strings.HasPrefix(api, "kustomize.config.k8s.io/") {
		return ynErr(file, line, "a kustomization, not manifests: render it first (kubectl kustomize DIR > manifests.yaml) and import the output")
	}
	if strings.HasPrefix(api, "backstage.io/") || strings.HasPrefix(api, "firebreak/") {
		return ynErr(file, line, "apiVersion %s is not Kubernetes (import it with --format %s)", api, strings.TrimSuffix(strings.Split(api, "/")[0], ".io"))
	}
	meta := ynGet(n, "metadata")
	o := &k8sObj{kind: kind, api: api, file: file, line: line, n: n,
		name: ynStr(ynGet(meta, "name")), ns: ynStr(ynGet(meta, "namespace")),
		labels: p.b.strMap(ynGet(meta, "labels")), annots: p.b.strMap(ynGet(meta, "annotations"))}
	p.frag.Report.Records++
	if o.name == "" {
		o.name = ynStr(ynGet(meta, "generateName")) // kubectl create objects
		o.generated = o.name != ""
	}
	if o.name == "" {
		p.frag.Report.Skip(file, line, fmt.Sprintf("%s without metadata.name", kind))
		return nil
	}
	if modeled := k8sWorkloadKinds[kind] || kind == "Service" || kind == "NetworkPolicy" || kind == "Ingress"; modeled {
		if d := ynDepth(n, p.lim.MaxDepth); d > p.lim.MaxDepth {
			return fmt.Errorf("%s:%d: %w: %s nested deeper than %d levels", file, line, ErrTooLarge, kind, p.lim.MaxDepth)
		}
		// Unrendered templates that still parse as YAML ("name: '{{ .Values.x }}'").
		skip := func(k string) bool { return k == "annotations" || k == "data" || k == "stringData" }
		if t := p.b.findScalar(n, skip, func(s string) bool { return strings.Contains(s, "{{") }); t != nil {
			return ynErr(file, t.Line, "unrendered Helm template (%s); render it first (helm template RELEASE CHART > manifests.yaml) and import the output", k8sClip(t.Value, 40))
		}
	}
	noNS := kind != "Namespace" && o.ns == "" && k8sNamespaced(kind)
	if noNS {
		o.ns = "default"
	}
	if kind == "Namespace" {
		o.ns = o.name
	}
	keep, err := p.unique(o)
	if err != nil {
		return err
	}
	p.read++
	if !keep {
		return nil
	}
	if noNS {
		p.noNS++
	}
	p.objs = append(p.objs, o)
	return nil
}

// unique checks that o is the only object of its kind, namespace and name
// in the import (every file of it): which of two different Deployments
// would be applied? An object written the same twice is read once
// (keep false). Namespaces may be declared by several files, as manifests
// do to ensure theirs exists: all declarations are kept, their labels
// merged, and a label with two values is the error.
func (p *k8sParser) unique(o *k8sObj) (keep bool, err error) {
	if o.generated {
		return true, nil // generateName: every object is a new one
	}
	if o.kind == "Namespace" {
		for _, k := range sortedKeys(o.labels) {
			if prev := p.nsLabels[o.name][k]; prev != nil && prev.labels[k] != o.labels[k] {
				return false, ynErr(o.file, o.line, "Namespace %s: label %s is %q here and %q at %s:%d: which one holds?", o.name, k, o.labels[k], prev.labels[k], prev.file, prev.line)
			}
			if p.nsLabels[o.name] == nil {
				p.nsLabels[o.name] = map[string]*k8sObj{}
			}
			if p.nsLabels[o.name][k] == nil {
				p.nsLabels[o.name][k] = o
			}
		}
		return true, nil
	}
	prev := p.byRef[o.ref()]
	if prev == nil {
		p.byRef[o.ref()] = o
		return true, nil
	}
	if !p.b.same(prev.n, o.n) {
		if p.b.over {
			return false, fmt.Errorf("%s: %w: too many list items to walk (anchors and aliases?)", o.file, ErrTooLarge)
		}
		return false, ynErr(o.file, o.line, "duplicate object %s, also at %s:%d: a kind, namespace and name must be unique across the files of an import (which one would be applied?)", o.ref(), prev.file, prev.line)
	}
	p.notes.add("%s:%d: %s is also at %s:%d, written the same: read once", o.file, o.line, o.ref(), prev.file, prev.line)
	return false, nil
}

func k8sNamespaced(kind string) bool {
	switch kind {
	case "Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass", "CustomResourceDefinition", "IngressClass", "PriorityClass":
		return false
	}
	return true
}

func k8sClip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
