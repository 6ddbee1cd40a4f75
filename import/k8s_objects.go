package importer

import (
	"encoding/base64"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/firebreak/firebreak/graph"
	"gopkg.in/yaml.v3"
)

// Workloads, Services and Ingresses of a Kubernetes input.

var k8sWorkloadKinds = map[string]bool{
	"Deployment": true, "StatefulSet": true, "DaemonSet": true, "ReplicaSet": true,
	"ReplicationController": true, "Pod": true, "Job": true, "CronJob": true,
}

// k8sDatastoreImages are images whose workloads are datastores: losing or
// leaking them is what responders weigh most.
var k8sDatastoreImages = map[string]bool{
	"redis": true, "valkey": true, "keydb": true, "memcached": true, "mongo": true, "mongodb": true,
	"postgres": true, "postgresql": true, "mysql": true, "mariadb": true, "percona": true,
	"cassandra": true, "scylla": true, "elasticsearch": true, "opensearch": true, "couchdb": true,
	"etcd": true, "cockroach": true, "clickhouse-server": true, "influxdb": true, "neo4j": true,
	"redis-stack": true, "mongodb-community-server": true,
}

type k8sCPort struct {
	name  string
	port  uint16
	proto graph.Proto
}

type k8sContainer struct {
	name, image string
	init        bool
	ports       []k8sCPort
	n           *yaml.Node
}

type k8sWorkload struct {
	obj        *k8sObj
	id, app    string
	kind       graph.Kind
	podLabels  map[string]string
	containers []*k8sContainer
	// isolation by NetworkPolicies (filled by readPolicies)
	inPolicies, outPolicies []*k8sPolicy
}

func (w *k8sWorkload) listens() []graph.PortRange {
	var out []graph.PortRange
	for _, c := range w.containers {
		if c.init {
			continue
		}
		for _, cp := range c.ports {
			out = append(out, graph.PortRange{Proto: cp.proto, Lo: cp.port, Hi: cp.port})
		}
	}
	return unionPorts(nil, out)
}

// namedPort finds a container port by name (and protocol).
func (w *k8sWorkload) namedPort(name string, proto graph.Proto) (k8sCPort, bool) {
	for _, c := range w.containers {
		if c.init {
			continue
		}
		for _, cp := range c.ports {
			if cp.name == name && cp.proto == proto {
				return cp, true
			}
		}
	}
	return k8sCPort{}, false
}

// k8sAppLabel picks the label people call a workload by.
func k8sAppLabel(labels map[string]string, def string) string {
	for _, k := range []string{"app.kubernetes.io/name", "app", "k8s-app", "name", "io.kompose.service", "component"} {
		if v := labels[k]; v != "" {
			return v
		}
	}
	return def
}

func k8sBase64(s string) string {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return ""
	}
	return string(b)
}

// k8sProto reads a protocol field: TCP (default), UDP; ok is false for
// SCTP and anything else.
func k8sProto(s string) (graph.Proto, bool) {
	switch strings.ToUpper(s) {
	case "", "TCP":
		return graph.ProtoTCP, true
	case "UDP":
		return graph.ProtoUDP, true
	}
	return 0, false
}

// k8sPortNum reads a port number (int or numeric string).
func k8sPortNum(s string) (uint16, bool) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 16)
	if err != nil || n == 0 {
		return 0, false
	}
	return uint16(n), true
}

func (p *k8sParser) readWorkloads() error {
	owners := map[string]bool{}
	for _, o := range p.objs {
		if k8sWorkloadKinds[o.kind] {
			owners[o.kind+"/"+o.ns+"/"+o.name] = true
		}
	}
	folded := 0
	for _, o := range p.objs {
		if !k8sWorkloadKinds[o.kind] {
			continue
		}
		owned := false
		for _, ref := range p.b.list(ynPath(o.n, "metadata", "ownerReferences")) {
			if owners[ynStr(ynGet(ref, "kind"))+"/"+o.ns+"/"+ynStr(ynGet(ref, "name"))] {
				owned = true
			}
		}
		if owned {
			folded++
			continue
		}
		var tmpl *yaml.Node
		switch o.kind {
		case "Pod":
			tmpl = o.n
		case "CronJob":
			tmpl = ynPath(o.n, "spec", "jobTemplate", "spec", "template")
		default:
			tmpl = ynPath(o.n, "spec", "template")
		}
		name := o.name
		w := &k8sWorkload{obj: o, kind: graph.KindService, podLabels: p.b.strMap(ynPath(tmpl, "metadata", "labels"))}
		if w.podLabels == nil {
			w.podLabels = map[string]string{}
		}
		w.app = k8sAppLabel(w.podLabels, k8sAppLabel(o.labels, name))
		spec := ynGet(tmpl, "spec")
		if spec == nil {
			p.frag.Report.Skip(o.file, o.line, fmt.Sprintf("%s has no pod template spec", o.ref()))
		}
		for _, key := range []string{"initContainers", "containers"} {
			for _, cn := range p.b.list(ynGet(spec, key)) {
				c := &k8sContainer{name: ynStr(ynGet(cn, "name")), image: ynStr(ynGet(cn, "image")), init: key == "initContainers", n: cn}
				for _, pn := range p.b.list(ynGet(cn, "ports")) {
					port, ok := k8sPortNum(ynStr(ynGet(pn, "containerPort")))
					proto, pok := k8sProto(ynStr(ynGet(pn, "protocol")))
					if !ok || !pok {
						p.frag.Report.Skip(o.file, ynLine(pn, o.line), fmt.Sprintf("%s container %s: port %q/%s not read (want 1-65535 on TCP or UDP)",
							o.ref(), c.name, ynStr(ynGet(pn, "containerPort")), ynStr(ynGet(pn, "protocol"))))
						continue
					}
					c.ports = append(c.ports, k8sCPort{name: ynStr(ynGet(pn, "name")), port: port, proto: proto})
				}
				if !c.init && k8sDatastoreImages[k8sImageBase(c.image)] {
					w.kind = graph.KindDatastore
				}
				w.containers = append(w.containers, c)
			}
		}
		w.id = p.claimID(name+"."+o.ns, o.kind+" "+o.ns+"/"+name, o)
		p.workloads = append(p.workloads, w)
	}
	if folded > 0 {
		p.notes.add("%d objects owned by a controller in this input (ReplicaSets of Deployments, Pods of ReplicaSets…) are folded into their owner", folded)
	}
	sort.SliceStable(p.workloads, func(i, j int) bool { return p.workloads[i].id < p.workloads[j].id })
	return nil
}

// k8sImageBase is an image's repository base name: "docker.io/library/redis:7" → "redis".
func k8sImageBase(image string) string {
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image = image[:i]
	}
	base := path.Base(image)
	if i := strings.IndexByte(base, ':'); i >= 0 {
		base = base[:i]
	}
	return strings.ToLower(base)
}

type k8sSvcPort struct {
	name, target string // target: "" (= port), a number or a port name
	port         uint16
	nodePort     uint16
	proto        graph.Proto
	line         int
}

type k8sService struct {
	obj                         *k8sObj
	id, typ, clusterIP, extName string
	externalName                string
	headless                    bool
	selector                    map[string]string
	selNode                     *yaml.Node
	ports                       []k8sSvcPort
	backends                    []*k8sWorkload
}

// group is the replica group of the edges to this Service's backends: set
// when there is more than one.
func (s *k8sService) group() string {
	if len(s.backends) > 1 {
		return s.id
	}
	return ""
}

func (p *k8sParser) readServices() error {
	for _, o := range p.objs {
		if o.kind != "Service" {
			continue
		}
		spec := ynGet(o.n, "spec")
		s := &k8sService{obj: o, typ: ynStr(ynGet(spec, "type")), clusterIP: ynStr(ynGet(spec, "clusterIP")),
			externalName: ynStr(ynGet(spec, "externalName")), selNode: ynGet(spec, "selector")}
		if s.typ == "" {
			s.typ = "ClusterIP"
		}
		s.headless = strings.EqualFold(s.clusterIP, "None")
		s.selector = p.b.strMap(s.selNode)
		for _, pn := range p.b.list(ynGet(spec, "ports")) {
			port, ok := k8sPortNum(ynStr(ynGet(pn, "port")))
			proto, pok := k8sProto(ynStr(ynGet(pn, "protocol")))
			if !ok || !pok {
				p.frag.Report.Skip(o.file, ynLine(pn, o.line), fmt.Sprintf("%s: port %q/%s not read (want 1-65535 on TCP or UDP)", o.ref(), ynStr(ynGet(pn, "port")), ynStr(ynGet(pn, "protocol"))))
				continue
			}
			sp := k8sSvcPort{name: ynStr(ynGet(pn, "name")), target: ynStr(ynGet(pn, "targetPort")), port: port, proto: proto, line: ynLine(pn, o.line)}
			sp.nodePort, _ = k8sPortNum(ynStr(ynGet(pn, "nodePort")))
			s.ports = append(s.ports, sp)
		}
		s.id = p.claimID(o.name+"."+o.ns+".svc", "Service "+o.ns+"/"+o.name, o)
		switch {
		case s.typ == "ExternalName":
		case len(s.selector) == 0:
			p.notes.add("%s:%d: Service %s/%s has no selector: its endpoints are managed outside these manifests; references end at the Service node", o.file, o.line, o.ns, o.name)
		default:
			for _, w := range p.workloads {
				if w.obj.ns == o.ns && k8sLabelsMatch(s.selector, w.podLabels) {
					s.backends = append(s.backends, w)
				}
			}
			if len(s.backends) == 0 {
				p.unresolved.add("%s:%d: Service %s/%s: selector %s matches no workload in this input", o.file, ynLine(s.selNode, o.line), o.ns, o.name, k8sLabelString(s.selector))
			}
		}
		p.services = append(p.services, s)
		p.svcByKey[k8sKey{o.ns, o.name}] = s
		if s.clusterIP != "" && !s.headless {
			p.svcByIP[s.clusterIP] = s
		}
	}
	sort.SliceStable(p.services, func(i, j int) bool { return p.services[i].id < p.services[j].id })
	return nil
}

func k8sLabelsMatch(sel, labels map[string]string) bool {
	for k, v := range sel {
		if lv, ok := labels[k]; !ok || lv != v {
			return false
		}
	}
	return true
}

func k8sLabelString(m map[string]string) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

// targetPort maps a Service port to the port a backend listens on.
func (p *k8sParser) targetPort(s *k8sService, sp k8sSvcPort, w *k8sWorkload, line int) (graph.PortRange, bool) {
	if sp.target == "" {
		return graph.PortRange{Proto: sp.proto, Lo: sp.port, Hi: sp.port}, true
	}
	if n, ok := k8sPortNum(sp.target); ok {
		return graph.PortRange{Proto: sp.proto, Lo: n, Hi: n}, true
	}
	if cp, ok := w.namedPort(sp.target, sp.proto); ok {
		return graph.PortRange{Proto: cp.proto, Lo: cp.port, Hi: cp.port}, true
	}
	p.unresolved.add("%s:%d: Service %s/%s port %d: targetPort %q is not a named %s port of %s", s.obj.file, sp.line, s.obj.ns, s.obj.name, sp.port, sp.target, sp.proto, w.id)
	return graph.PortRange{}, false
}

// readIngresses adds a gateway node per Ingress with edges to the workloads
// behind its backend Services.
func (p *k8sParser) readIngresses() error {
	for _, o := range p.objs {
		if o.kind != "Ingress" {
			continue
		}
		id := p.claimID(o.name+"."+o.ns+".ingress", "Ingress "+o.ns+"/"+o.name, o)
		n := graph.Node{ID: id, Kind: graph.KindGateway, Labels: map[string]string{"namespace": o.ns, "k8s_kind": "Ingress"},
			Sources: []string{Provenance("k8s", o.file)}, Pos: o.at(o.line)}
		spec := ynGet(o.n, "spec")
		if cls := ynStr(ynGet(spec, "ingressClassName")); cls != "" {
			n.Labels["class"] = cls
		}
		var hosts []string
		var backends []*yaml.Node
		if b := ynGet(spec, "defaultBackend"); b != nil {
			backends = append(backends, b)
		}
		if b := ynGet(spec, "backend"); b != nil {
			backends = append(backends, b)
		}
		for _, r := range p.b.list(ynGet(spec, "rules")) {
			if h := ynStr(ynGet(r, "host")); h != "" {
				hosts = append(hosts, h)
			}
			for _, pth := range p.b.list(ynPath(r, "http", "paths")) {
				if b := ynGet(pth, "backend"); b != nil {
					backends = append(backends, b)
				}
			}
		}
		if len(hosts) > 0 {
			n.Labels["hosts"] = strings.Join(hosts, " ")
		}
		p.frag.Nodes = append(p.frag.Nodes, n)
		for _, b := range backends {
			name, port := ynStr(ynPath(b, "service", "name")), ynPath(b, "service", "port")
			portStr := ynStr(ynGet(port, "number"))
			if portStr == "" {
				portStr = ynStr(ynGet(port, "name"))
			}
			if name == "" { // extensions/v1beta1
				name, portStr = ynStr(ynGet(b, "serviceName")), ynStr(ynGet(b, "servicePort"))
			}
			if name == "" {
				continue
			}
			ref := k8sRef{fromID: id, file: o.file, ns: o.ns, what: "Ingress " + o.ns + "/" + o.name + " backend", line: ynLine(b, o.line),
				host: name, explicit: true}
			if n, ok := k8sPortNum(portStr); ok {
				ref.port = n
			} else {
				ref.portName = portStr
			}
			p.resolve(ref)
		}
	}
	return nil
}
