package importer

// Kubernetes manifests → nodes and edges.
//
// Input: multi-document YAML (leading comment blocks, empty documents),
// `kind: List` and `*List` objects with items (kubectl get -o yaml/json),
// JSON, kompose output. Unrendered Helm templates and kustomizations are
// refused with a file:line error that says to render them first. The
// manifests of one import are read together (ParseMany), as estates keep
// one per service: objects of every file resolve against each other (a
// Deployment in checkout.yaml reaches the cart Service of cart.yaml), and
// each keeps its own file for positions, provenance and messages. A kind,
// namespace and name is one object: written twice differently, in one
// file or two, it is an error naming both places; written the same, it is
// read once; a Namespace may be declared by several files (labels merged).
//
// Nodes (ids are readable and deterministic, so a responder recognises them
// and a second import of the same manifests yields the same ids):
//   - workloads (Deployment, StatefulSet, DaemonSet, ReplicaSet,
//     ReplicationController, Pod, Job, CronJob) → NAME.NAMESPACE, kind service,
//     or datastore when a container image is a well-known database or cache
//     (redis, postgres, mongo…). Listens = the containers' containerPorts.
//     Objects owned by a controller that is also in the input (the ReplicaSets
//     and Pods of `kubectl get all`) are folded into their owner.
//   - Services → NAME.NAMESPACE.svc (the cluster DNS name without the cluster
//     domain; a Deployment and its Service usually share a name, so the suffix
//     is needed). ClusterIP and headless → service; NodePort and LoadBalancer
//     → lb (reachable from outside the cluster); ExternalName → saas with the
//     external name as a label. Listens = the Service ports (and nodePorts).
//   - Ingresses → NAME.NAMESPACE.ingress, kind gateway.
//
// Edges (every edge is traceable to one line of the input, kept in Pos):
//   - address-bearing configuration → hard dependency. A container's env
//     values (also through configMapKeyRef/secretKeyRef, envFrom and $(VAR)
//     expansion), args and command (initContainers included) that hold an
//     address (svc:port, svc.ns:port, svc.ns.svc.cluster.local:port, URLs,
//     FOO_HOST+FOO_PORT pairs) are resolved to a Service in the input, then
//     through its selector (pod template labels) to the workloads behind it.
//     The edge goes from the workload to each backing workload on the
//     targetPort (named target ports resolved through the backend's named
//     container ports), because that is where the connection lands after
//     kube-proxy's DNAT, what flow data shows, and where containment acts:
//     a Service is a virtual IP that cannot be quarantined. When a Service
//     selects several workloads the edges share the Service's id as their
//     group (interchangeable replicas). Edges from an ExternalName Service's
//     client, or to a Service without a selector or without backends in the
//     input, end at the Service node.
//   - Service → each backing workload (hard, on the targetPort, grouped):
//     the Service fails when all its backends fail, so customer journeys can
//     name a Service (frontend-external is the customer entry point).
//   - Ingress → backing workloads of each backend Service (hard, grouped).
//   - NetworkPolicies → dependency none edges for every workload pair that
//     a policy rule allows by naming the peer (podSelector/namespaceSelector),
//     on the allowed ports, unless an address edge already joins the pair:
//     that is the allowed-reachability graph compromise spreads on. Rules
//     open to every source or holding only ipBlocks are reported as notes,
//     not as edges to every workload. A declared dependency that the policies
//     deny is reported.
//
// Not invented: a reference to a Service that is not in the input, a
// selector or a policy peer that matches no workload, a named port that no
// container declares: all go to Report.Unresolved. External addresses go to
// the notes.

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/firebreak/firebreak/graph"
	"gopkg.in/yaml.v3"
)

var k8sFormat = Format{Name: "k8s", Detect: detectK8s, Parse: parseK8s, ParseMany: parseK8sMany}

// k8sKinds are the object kinds detection accepts as Kubernetes.
var k8sKinds = map[string]bool{
	"Deployment": true, "StatefulSet": true, "DaemonSet": true, "ReplicaSet": true, "ReplicationController": true,
	"Pod": true, "Job": true, "CronJob": true, "Service": true, "NetworkPolicy": true, "ConfigMap": true,
	"Secret": true, "Namespace": true, "Ingress": true, "IngressClass": true, "ServiceAccount": true,
	"Role": true, "RoleBinding": true, "ClusterRole": true, "ClusterRoleBinding": true,
	"PersistentVolumeClaim": true, "PersistentVolume": true, "StorageClass": true,
	"HorizontalPodAutoscaler": true, "PodDisruptionBudget": true, "Endpoints": true, "EndpointSlice": true,
	"CustomResourceDefinition": true, "LimitRange": true, "ResourceQuota": true, "PriorityClass": true,
	"List": true, "Kustomization": true,
}

var (
	k8sKindRe = regexp.MustCompile(`(?m)(?:^[\t \-]*kind|"kind")\s*:\s*["']?([A-Za-z]+)`)
	k8sAPIRe  = regexp.MustCompile(`(?m)(?:^[\t \-]*apiVersion|"apiVersion")\s*:\s*["']?([^"'\s,}]*)`)
)

// detectK8s: an apiVersion and a Kubernetes kind (or a kustomization),
// in YAML or JSON, and not a Backstage or firebreak document.
func detectK8s(_ string, head []byte) bool {
	head = trimHead(head)
	api := k8sAPIRe.FindSubmatch(head)
	if api != nil && (bytes.Contains(api[1], []byte("backstage.io")) || bytes.HasPrefix(api[1], []byte("firebreak/"))) {
		return false
	}
	for _, m := range k8sKindRe.FindAllSubmatch(head, 64) {
		kind := string(m[1])
		if kind == "Kustomization" {
			return true
		}
		if api != nil && (k8sKinds[kind] || (strings.HasSuffix(kind, "List") && len(kind) > 4)) {
			return true
		}
	}
	return false
}

// k8sObj is one object of the input with the fields every kind shares.
type k8sObj struct {
	kind, api, name, ns string
	file                string // the input it came from: its positions, provenance and messages name it
	line                int
	generated           bool // named by metadata.generateName: not unique
	n                   *yaml.Node
	labels, annots      map[string]string
}

func (o *k8sObj) ref() string { return o.kind + " " + o.ns + "/" + o.name }

// at is a position in the object's file.
func (o *k8sObj) at(line int) graph.Pos { return graph.Pos{File: o.file, Line: line} }

type k8sKey struct{ ns, name string }

type k8sParser struct {
	ctx  context.Context
	b    *ynBudget
	lim  Limits
	frag *Fragment

	objs       []*k8sObj
	byRef      map[string]*k8sObj            // kind namespace/name → the object, for duplicates
	nsLabels   map[string]map[string]*k8sObj // namespace → label → the Namespace object that set it
	read       int                           // objects read so far, identical duplicates included
	namespaces map[string]map[string]string  // namespace → its labels
	configMaps map[k8sKey]map[string]string
	secrets    map[k8sKey]map[string]string
	workloads  []*k8sWorkload
	services   []*k8sService
	svcByKey   map[k8sKey]*k8sService
	svcByIP    map[string]*k8sService
	policies   []*k8sPolicy
	ids        map[string]string // node id → what claimed it

	edges      map[graph.EdgeKey]*graph.Edge
	envEdges   map[graph.EdgeKey]*k8sEdgeWhy
	notes      ynCapList
	unresolved ynCapList
	external   ynCapList
	noNS       int
}

// parseK8s reads one file: ParseMany with one input.
func parseK8s(ctx context.Context, in Input, c *Context) (*Fragment, error) {
	return parseK8sMany(ctx, []Input{in}, c)
}

// parseK8sMany reads the objects of every input, each remembering its file,
// then resolves references, selectors and policies once over all of them:
// a Deployment in one manifest reaches the Service another one declares.
func parseK8sMany(ctx context.Context, ins []Input, c *Context) (frag *Fragment, err error) {
	if len(ins) == 0 {
		return nil, fmt.Errorf("%w: no Kubernetes manifests to read", graph.ErrInvalid)
	}
	names := make([]string, len(ins))
	for i, in := range ins {
		names[i] = in.Name
	}
	all := strings.Join(names, ", ")
	defer ynRecover(all, &err)
	p := &k8sParser{
		ctx: ctx, b: newYNBudget(0), lim: ynLimits(c), frag: &Fragment{},
		byRef: map[string]*k8sObj{}, nsLabels: map[string]map[string]*k8sObj{},
		namespaces: map[string]map[string]string{}, configMaps: map[k8sKey]map[string]string{},
		secrets: map[k8sKey]map[string]string{}, svcByKey: map[k8sKey]*k8sService{}, svcByIP: map[string]*k8sService{},
		ids: map[string]string{}, edges: map[graph.EdgeKey]*graph.Edge{}, envEdges: map[graph.EdgeKey]*k8sEdgeWhy{},
		notes: ynCapList{max: 40}, unresolved: ynCapList{max: 60}, external: ynCapList{max: 20},
	}
	for _, in := range ins {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := p.readInput(in); err != nil {
			return nil, err
		}
	}
	steps := []func() error{p.readConfig, p.readWorkloads, p.readServices, p.emitNodes, p.readIngresses, p.readReferences, p.readPolicies}
	for _, step := range steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := step(); err != nil {
			return nil, err
		}
		if p.b.over {
			return nil, fmt.Errorf("%s: %w: too many list items to walk (anchors and aliases?)", all, ErrTooLarge)
		}
	}
	return p.finish(), nil
}

// readConfig collects namespaces, ConfigMaps and Secrets (for env
// resolution) and notes the legacy default-deny annotation.
func (p *k8sParser) readConfig() error {
	for _, o := range p.objs {
		if o.ns != "" && p.namespaces[o.ns] == nil {
			p.namespaces[o.ns] = map[string]string{"kubernetes.io/metadata.name": o.ns}
		}
		switch o.kind {
		case "Namespace":
			for k, v := range o.labels {
				p.namespaces[o.ns][k] = v
			}
			if _, ok := o.annots["net.beta.kubernetes.io/network-policy"]; ok {
				p.notes.add("%s:%d: Namespace %s: the net.beta.kubernetes.io/network-policy annotation (beta default-deny) is ignored by Kubernetes since 1.7 and by this import: it denies nothing", o.file, o.line, o.name)
			}
		case "ConfigMap":
			p.configMaps[k8sKey{o.ns, o.name}] = p.b.strMap(ynGet(o.n, "data"))
		case "Secret":
			m := p.b.strMap(ynGet(o.n, "stringData"))
			for k, v := range p.b.strMap(ynGet(o.n, "data")) {
				if m == nil {
					m = map[string]string{}
				}
				if _, ok := m[k]; !ok {
					m[k] = k8sBase64(v)
				}
			}
			p.secrets[k8sKey{o.ns, o.name}] = m
		}
	}
	return nil
}

// claimID reserves a node id for object o, disambiguating a clash
// deterministically.
func (p *k8sParser) claimID(id, what string, o *k8sObj) string {
	if prev, taken := p.ids[id]; taken {
		alt := id + "~" + strings.ToLower(strings.Fields(what)[0])
		for i := 2; p.ids[alt] != ""; i++ {
			alt = fmt.Sprintf("%s~%s%d", id, strings.ToLower(strings.Fields(what)[0]), i)
		}
		p.notes.add("%s:%d: %s would have id %s, already used by %s; it is %s", o.file, o.line, what, id, prev, alt)
		id = alt
	}
	if msg := k8sCheckID(id); msg != "" {
		safe := safeNodeID(id)
		p.notes.add("%s:%d: %s: id %q %s; it is %s", o.file, o.line, what, id, msg, safe)
		id = safe
	}
	p.ids[id] = what
	return id
}

// k8sCheckID applies the graph's id rules (no white space, commas or
// control characters; bounded length).
func k8sCheckID(id string) string {
	if id == "" {
		return "is empty"
	}
	if len(id) > 256 {
		return "is longer than 256 characters"
	}
	if strings.ContainsFunc(id, func(r rune) bool { return r <= ' ' || r == ',' || r == 0x7f || isSpaceOrControl(r) }) {
		return "holds white space, commas or control characters"
	}
	return ""
}

// emitNodes turns workloads and Services into graph nodes.
func (p *k8sParser) emitNodes() error {
	for _, w := range p.workloads {
		n := graph.Node{ID: w.id, Kind: w.kind, Labels: map[string]string{"namespace": w.obj.ns, "app": w.app, "k8s_kind": w.obj.kind},
			Sources: []string{Provenance("k8s", w.obj.file)}, Pos: w.obj.at(w.obj.line)}
		var images []string
		for _, c := range w.containers {
			if !c.init && c.image != "" {
				images = append(images, c.image)
			}
		}
		if len(images) > 0 {
			n.Labels["image"] = strings.Join(images, " ")
		}
		n.Listens = w.listens()
		p.frag.Nodes = append(p.frag.Nodes, n)
	}
	for _, s := range p.services {
		n := graph.Node{ID: s.id, Kind: graph.KindService, Labels: map[string]string{"namespace": s.obj.ns, "k8s_kind": "Service", "type": s.typ},
			Sources: []string{Provenance("k8s", s.obj.file)}, Pos: s.obj.at(s.obj.line)}
		switch {
		case s.typ == "ExternalName":
			n.Kind = graph.KindSaaS
			n.Labels["external_name"] = s.externalName
		case s.typ == "LoadBalancer" || s.typ == "NodePort":
			n.Kind = graph.KindLB
		}
		if s.headless {
			n.Labels["headless"] = "true"
		}
		if app := k8sAppLabel(s.selector, ""); app != "" {
			n.Labels["app"] = app
		}
		var ports []graph.PortRange
		for _, sp := range s.ports {
			ports = append(ports, graph.PortRange{Proto: sp.proto, Lo: sp.port, Hi: sp.port})
			if sp.nodePort > 0 {
				ports = append(ports, graph.PortRange{Proto: sp.proto, Lo: sp.nodePort, Hi: sp.nodePort})
			}
		}
		n.Listens = unionPorts(nil, ports)
		p.frag.Nodes = append(p.frag.Nodes, n)
		// The Service forwards to its backends.
		for _, w := range s.backends {
			var ports []graph.PortRange
			for _, sp := range s.ports {
				if pr, ok := p.targetPort(s, sp, w, s.obj.line); ok {
					ports = append(ports, pr)
				}
			}
			if len(ports) == 0 && len(s.ports) > 0 {
				continue
			}
			p.addEdge(s.id, w.id, ports, graph.DepHard, s.group(), s.obj.at(ynLine(s.selNode, s.obj.line)))
		}
	}
	return nil
}

// addEdge adds or widens an edge of the fragment; at is the line that
// declares it, in the file of the object that holds that line.
func (p *k8sParser) addEdge(from, to string, ports []graph.PortRange, dep graph.Dependency, group string, at graph.Pos) *graph.Edge {
	if from == to {
		return nil
	}
	k := graph.EdgeKey{From: from, To: to}
	if e, ok := p.edges[k]; ok {
		if e.Dependency != dep {
			e.Dependency = min(e.Dependency, dep)
		}
		if len(e.Ports) > 0 && len(ports) > 0 {
			e.Ports = unionPorts(e.Ports, ports)
		} else {
			e.Ports = nil
		}
		if src := Provenance("k8s", at.File); !slices.Contains(e.Sources, src) {
			e.Sources = append(e.Sources, src)
		}
		return e
	}
	e := &graph.Edge{From: from, To: to, Ports: unionPorts(nil, ports), Dependency: dep, Group: group,
		Sources: []string{Provenance("k8s", at.File)}, Pos: at}
	p.edges[k] = e
	return e
}

// finish assembles the fragment in a deterministic order.
func (p *k8sParser) finish() *Fragment {
	f := p.frag
	for _, k := range k8sSortedEdgeKeys(p.edges) {
		f.Edges = append(f.Edges, *p.edges[k])
	}
	sort.Slice(f.Nodes, func(i, j int) bool { return f.Nodes[i].ID < f.Nodes[j].ID })
	if p.noNS > 0 {
		p.notes.add("%d objects have no metadata.namespace; they are placed in namespace default (kubectl apply -n would put them elsewhere)", p.noNS)
	}
	ignored := map[string]int{}
	for _, o := range p.objs {
		switch {
		case k8sWorkloadKinds[o.kind], o.kind == "Service", o.kind == "NetworkPolicy", o.kind == "Ingress",
			o.kind == "ConfigMap", o.kind == "Secret", o.kind == "Namespace":
		default:
			ignored[o.kind]++
		}
	}
	if len(ignored) > 0 {
		var parts []string
		for _, k := range sortedKeys(ignored) {
			parts = append(parts, fmt.Sprintf("%s %d", k, ignored[k]))
		}
		p.notes.add("kinds without topology, not imported: %s", strings.Join(parts, ", "))
	}
	f.Report.Notes = append(p.notes.out("notes"), p.external.out("external addresses")...)
	f.Report.Unresolved = p.unresolved.out("unresolved references")
	return f
}

func k8sSortedEdgeKeys(m map[graph.EdgeKey]*graph.Edge) []graph.EdgeKey {
	keys := make([]graph.EdgeKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].From != keys[j].From {
			return keys[i].From < keys[j].From
		}
		return keys[i].To < keys[j].To
	})
	return keys
}
