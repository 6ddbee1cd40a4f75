package importer

import (
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strings"

	"github.com/firebreak/firebreak/graph"
)

// Address-bearing configuration of Kubernetes containers → references →
// edges. Values are never copied into reports (URLs carry passwords): a
// reference is shown as the variable or flag that holds it and host:port.

// k8sRef is one address found in a workload's (or an Ingress's)
// configuration.
type k8sRef struct {
	fromID   string
	file     string       // the file of the object holding the reference
	wl       *k8sWorkload // nil for Ingress backends
	ns       string       // namespace short names resolve in
	what     string       // "frontend.shop env CART_ADDR"
	line     int
	host     string
	port     uint16
	portName string // a Service port by name (Ingress backends)
	scheme   string
	explicit bool // a port, a URL or a cluster DNS name: surely an address
}

// k8sEdgeWhy remembers the address edge between two workloads, for the
// NetworkPolicy check.
type k8sEdgeWhy struct {
	from, to *k8sWorkload
	ports    []graph.PortRange
	what     string
	at       graph.Pos
}

// k8sAddr is an address in a value.
type k8sAddr struct {
	host     string
	port     uint16
	scheme   string
	explicit bool
}

type k8sVar struct {
	name, value, what string
	line              int
}

var k8sVarRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_.\-]*)\)`)

// k8sExpand applies Kubernetes' $(VAR) expansion with the variables defined
// so far; $$(VAR) stays literal.
func k8sExpand(s string, vars map[string]string) string {
	if !strings.Contains(s, "$(") {
		return s
	}
	return k8sVarRef.ReplaceAllStringFunc(s, func(m string) string {
		if v, ok := vars[m[2:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

// containerEnv lists a container's environment as Kubernetes builds it:
// envFrom first (ConfigMaps and Secrets of the input), then env, later
// definitions overriding earlier ones, with $(VAR) expansion.
func (p *k8sParser) containerEnv(w *k8sWorkload, c *k8sContainer) []k8sVar {
	var out []k8sVar
	defined := map[string]string{}
	add := func(v k8sVar) {
		v.value = k8sExpand(v.value, defined)
		defined[v.name] = v.value
		out = append(out, v)
	}
	ns := w.obj.ns
	for _, ef := range p.b.list(ynGet(c.n, "envFrom")) {
		prefix := ynStr(ynGet(ef, "prefix"))
		for _, src := range []struct {
			key, kind string
			data      map[k8sKey]map[string]string
		}{{"configMapRef", "ConfigMap", p.configMaps}, {"secretRef", "Secret", p.secrets}} {
			ref := ynGet(ef, src.key)
			if ref == nil {
				continue
			}
			name := ynStr(ynGet(ref, "name"))
			data, ok := src.data[k8sKey{ns, name}]
			if !ok {
				if ynStr(ynGet(ref, "optional")) != "true" {
					p.notes.add("%s:%d: %s envFrom %s %s/%s is not in this input: addresses it may hold are unknown", w.obj.file, ynLine(ref, w.obj.line), w.id, src.kind, ns, name)
				}
				continue
			}
			for _, k := range sortedKeys(data) {
				add(k8sVar{name: prefix + k, value: data[k], line: ynLine(ref, w.obj.line),
					what: fmt.Sprintf("envFrom %s %s key %s", src.kind, name, k)})
			}
		}
	}
	for _, ev := range p.b.list(ynGet(c.n, "env")) {
		name := ynStr(ynGet(ev, "name"))
		if name == "" {
			continue
		}
		v := k8sVar{name: name, value: ynStr(ynGet(ev, "value")), line: ynLine(ynGet(ev, "value"), ynLine(ev, w.obj.line)), what: "env " + name}
		if vf := ynGet(ev, "valueFrom"); vf != nil {
			for _, src := range []struct {
				key, kind string
				data      map[k8sKey]map[string]string
			}{{"configMapKeyRef", "ConfigMap", p.configMaps}, {"secretKeyRef", "Secret", p.secrets}} {
				ref := ynGet(vf, src.key)
				if ref == nil {
					continue
				}
				cm, key := ynStr(ynGet(ref, "name")), ynStr(ynGet(ref, "key"))
				data, ok := src.data[k8sKey{ns, cm}]
				val, kok := data[key]
				if !ok || !kok {
					if ynStr(ynGet(ref, "optional")) != "true" {
						p.notes.add("%s:%d: %s env %s: %s %s/%s key %s is not in this input: the address it may hold is unknown", w.obj.file, v.line, w.id, name, src.kind, ns, cm, key)
					}
					continue
				}
				v.value = val
				v.what = fmt.Sprintf("env %s (%s %s key %s)", name, src.kind, cm, key)
			}
		}
		add(v)
	}
	return out
}

// readReferences finds the addresses in every container's environment,
// args and command and resolves them into edges.
func (p *k8sParser) readReferences() error {
	for _, w := range p.workloads {
		for _, c := range w.containers {
			role := "container " + c.name
			if c.init {
				role = "initContainer " + c.name
			}
			vars := p.containerEnv(w, c)
			final := map[string]string{}
			last := map[string]int{}
			for i, v := range vars {
				final[v.name] = v.value
				last[v.name] = i
			}
			for i, v := range vars {
				if last[v.name] != i {
					continue // overridden by a later definition
				}
				for _, a := range k8sScan(v.name, v.value) {
					if !a.explicit && a.port == 0 {
						a.port = k8sPairPort(v.name, final)
					}
					p.resolve(k8sRef{fromID: w.id, file: w.obj.file, wl: w, ns: w.obj.ns, what: fmt.Sprintf("%s %s %s", w.id, role, v.what),
						line: v.line, host: a.host, port: a.port, scheme: a.scheme, explicit: a.explicit || a.port != 0})
				}
			}
			for _, key := range []string{"command", "args"} {
				flag := ""
				for _, tn := range p.b.strList(ynGet(c.n, key)) {
					tok := k8sExpand(tn.Value, final)
					hint := ""
					if flag != "" && !strings.HasPrefix(tok, "-") {
						hint = flag
					}
					flag = ""
					if strings.HasPrefix(tok, "-") && !strings.ContainsAny(tok, "= ") {
						flag = tok
					}
					for _, a := range k8sScan(hint, tok) {
						label := key
						if hint != "" {
							label = key + " " + hint
						}
						p.resolve(k8sRef{fromID: w.id, file: w.obj.file, wl: w, ns: w.obj.ns, what: fmt.Sprintf("%s %s %s", w.id, role, label),
							line: tn.Line, host: a.host, port: a.port, scheme: a.scheme, explicit: a.explicit})
					}
				}
			}
		}
	}
	return nil
}

// k8sPairPort finds FOO_PORT for FOO_HOST (also FOO_SERVICE_HOST and
// FOO_ADDR).
func k8sPairPort(name string, vars map[string]string) uint16 {
	up := strings.ToUpper(name)
	for _, suf := range []string{"_SERVICE_HOST", "_HOSTNAME", "_HOST", "_ADDR", "_ADDRESS", "_SERVER"} {
		if prefix, ok := strings.CutSuffix(up, suf); ok && prefix != "" {
			for _, ps := range []string{"_SERVICE_PORT", "_PORT"} {
				for k, v := range vars {
					if strings.ToUpper(k) == prefix+ps {
						if n, ok := k8sPortNum(v); ok {
							return n
						}
					}
				}
			}
		}
	}
	return 0
}

// resolve turns a reference into edges, an unresolved report or an
// external-address note.
func (p *k8sParser) resolve(r k8sRef) {
	host := strings.TrimSuffix(strings.ToLower(r.host), ".")
	if k8sSelfHost(host) {
		return
	}
	if _, err := netip.ParseAddr(host); err == nil {
		if s := p.svcByIP[host]; s != nil {
			p.toService(r, s)
			return
		}
		p.external.add("%s:%d: %s → %s: an address outside this input (no node invented)", r.file, r.line, r.what, r.target())
		return
	}
	parts := strings.Split(host, ".")
	var name, ns string
	switch {
	case len(parts) == 1:
		name, ns = parts[0], r.ns
	case len(parts) >= 3 && parts[2] == "svc":
		name, ns = parts[0], parts[1]
	case len(parts) >= 4 && parts[3] == "svc":
		name, ns = parts[1], parts[2] // a pod of a headless Service: POD.SVC.NS.svc…
	case len(parts) == 2 && p.namespaces[parts[1]] != nil:
		name, ns = parts[0], parts[1]
	default:
		if r.explicit {
			p.external.add("%s:%d: %s → %s: an address outside this input (no node invented)", r.file, r.line, r.what, r.target())
		}
		return
	}
	s := p.svcByKey[k8sKey{ns, name}]
	if s == nil {
		p.unresolved.add("%s:%d: %s → %s: no Service %s in namespace %s in this input (no node invented)", r.file, r.line, r.what, r.target(), name, ns)
		return
	}
	p.toService(r, s)
}

// toService adds the edges of a reference that resolved to Service s.
func (p *k8sParser) toService(r k8sRef, s *k8sService) {
	// The Service ports the client dials: the one named by number or name,
	// else all of them.
	var sps []k8sSvcPort
	for _, sp := range s.ports {
		switch {
		case r.port != 0:
			if sp.port == r.port {
				sps = append(sps, sp)
			}
		case r.portName != "":
			if sp.name == r.portName {
				sps = append(sps, sp)
			}
		default:
			sps = append(sps, sp)
		}
	}
	// Headless and ExternalName Services do no port mapping: the client
	// dials the pods (or the external host) on the port it names.
	direct := len(s.ports) == 0
	if len(sps) == 0 && (r.port != 0 || r.portName != "") {
		if r.port == 0 || !(s.headless || s.typ == "ExternalName") {
			p.unresolved.add("%s:%d: %s → %s: Service %s/%s has no port %s (no edge)", r.file, r.line, r.what, r.target(), s.obj.ns, s.obj.name, strings.TrimPrefix(r.target(), r.host+":"))
			return
		}
		direct = true
	}
	if s.typ == "ExternalName" || len(s.backends) == 0 {
		var ports []graph.PortRange
		switch {
		case direct && r.port != 0, s.typ == "ExternalName" && r.port != 0:
			ports = []graph.PortRange{{Proto: graph.ProtoTCP, Lo: r.port, Hi: r.port}}
		default:
			for _, sp := range sps {
				ports = append(ports, graph.PortRange{Proto: sp.proto, Lo: sp.port, Hi: sp.port})
			}
		}
		p.addEdge(r.fromID, s.id, ports, graph.DepHard, "", graph.Pos{File: r.file, Line: r.line})
		return
	}
	for _, w := range s.backends {
		var ports []graph.PortRange
		if direct {
			if r.port != 0 {
				ports = []graph.PortRange{{Proto: graph.ProtoTCP, Lo: r.port, Hi: r.port}}
			}
		} else {
			for _, sp := range sps {
				if pr, ok := p.targetPort(s, sp, w, r.line); ok {
					ports = append(ports, pr)
				}
			}
			if len(ports) == 0 {
				continue
			}
		}
		e := p.addEdge(r.fromID, w.id, ports, graph.DepHard, s.group(), graph.Pos{File: r.file, Line: r.line})
		if e != nil && r.wl != nil {
			k := e.Key()
			if why := p.envEdges[k]; why != nil {
				why.ports = unionPorts(why.ports, ports)
			} else {
				p.envEdges[k] = &k8sEdgeWhy{from: r.wl, to: w, ports: ports, what: r.what, at: graph.Pos{File: r.file, Line: r.line}}
			}
		}
	}
}

// k8sSortedWhy lists the address edges in order.
func k8sSortedWhy(m map[graph.EdgeKey]*k8sEdgeWhy) []*k8sEdgeWhy {
	out := make([]*k8sEdgeWhy, 0, len(m))
	for _, w := range m {
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].from.id != out[j].from.id {
			return out[i].from.id < out[j].from.id
		}
		return out[i].to.id < out[j].to.id
	})
	return out
}
