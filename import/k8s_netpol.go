package importer

import (
	"fmt"
	"sort"
	"strings"

	"github.com/firebreak/firebreak/graph"
)

// NetworkPolicies → the allowed-reachability graph.
//
// Semantics (networking.k8s.io/v1): a policy selects pods of its namespace
// (podSelector, {} = all); policyTypes defaults to Ingress, plus Egress when
// the policy has egress rules. A pod selected by any policy of a direction
// is isolated in that direction: only what some rule of those policies
// allows gets through (policies are additive allow-lists). A rule without
// from/to allows every peer, `ingress: [{}]` allows everything, an empty or
// missing rule list allows nothing. Peers in one list item are ANDed
// (podSelector + namespaceSelector), separate items ORed; ipBlock peers are
// addresses, not workloads. Ports: number or container port name (of the
// destination pod), endPort ranges, protocol TCP by default.
//
// A pair src → dst is allowed on the intersection of what dst's ingress and
// src's egress allow. Edges (dependency none) are emitted for the pairs a
// rule names explicitly through a selector: rules open to all peers would
// otherwise join every workload to every other, which tells a responder
// less than the one-line note that says so.

// maxPolicyEdges bounds the reachability edges of one input.
const maxPolicyEdges = 200_000

type k8sPolicy struct {
	obj             *k8sObj
	sel             *k8sSelector
	ingress, egress bool
	in, out         []*k8sRule
	selected        []*k8sWorkload
}

type k8sRule struct {
	all   bool // no from/to: every peer
	peers []*k8sPeer
	ports []k8sNPPort // nil: every port
	line  int
}

type k8sPeer struct {
	pod, ns *k8sSelector
	cidr    string
	except  []string
	line    int
}

type k8sNPPort struct {
	proto graph.Proto
	port  string // "", a number or a port name
	end   uint16
}

func (p *k8sParser) readPolicy(o *k8sObj) *k8sPolicy {
	spec := ynGet(o.n, "spec")
	pol := &k8sPolicy{obj: o, sel: p.selector(o.file, ynGet(spec, "podSelector"))}
	types := p.b.strList(ynGet(spec, "policyTypes"))
	if len(types) == 0 {
		pol.ingress, pol.egress = true, len(p.b.list(ynGet(spec, "egress"))) > 0
	}
	for _, t := range types {
		switch strings.ToLower(t.Value) {
		case "ingress":
			pol.ingress = true
		case "egress":
			pol.egress = true
		default:
			p.notes.add("%s:%d: NetworkPolicy %s/%s: unknown policyType %q ignored", o.file, t.Line, o.ns, o.name, t.Value)
		}
	}
	rules := func(key, peerKey string) []*k8sRule {
		var out []*k8sRule
		for _, rn := range p.b.list(ynGet(spec, key)) {
			r := &k8sRule{line: ynLine(rn, o.line)}
			peers := p.b.list(ynGet(rn, peerKey))
			r.all = len(peers) == 0
			for _, pn := range peers {
				peer := &k8sPeer{line: ynLine(pn, r.line)}
				if ynHas(pn, "podSelector") {
					peer.pod = p.selector(o.file, ynGet(pn, "podSelector"))
				}
				if ynHas(pn, "namespaceSelector") {
					peer.ns = p.selector(o.file, ynGet(pn, "namespaceSelector"))
				}
				if ib := ynGet(pn, "ipBlock"); ib != nil {
					peer.cidr = ynStr(ynGet(ib, "cidr"))
					for _, e := range p.b.strList(ynGet(ib, "except")) {
						peer.except = append(peer.except, e.Value)
					}
				}
				r.peers = append(r.peers, peer)
			}
			if ynHas(rn, "ports") {
				r.ports = []k8sNPPort{}
			}
			for _, pp := range p.b.list(ynGet(rn, "ports")) {
				proto, ok := k8sProto(ynStr(ynGet(pp, "protocol")))
				if !ok {
					p.notes.add("%s:%d: NetworkPolicy %s/%s: protocol %s is not modelled (TCP and UDP only)", o.file, ynLine(pp, r.line), o.ns, o.name, ynStr(ynGet(pp, "protocol")))
					continue
				}
				np := k8sNPPort{proto: proto, port: ynStr(ynGet(pp, "port"))}
				np.end, _ = k8sPortNum(ynStr(ynGet(pp, "endPort")))
				r.ports = append(r.ports, np)
			}
			out = append(out, r)
		}
		return out
	}
	if pol.ingress {
		pol.in = rules("ingress", "from")
	}
	if pol.egress {
		pol.out = rules("egress", "to")
	}
	return pol
}

// peerMatches reports whether workload w is a peer of rule item peer.
func (p *k8sParser) peerMatches(pol *k8sPolicy, peer *k8sPeer, w *k8sWorkload) bool {
	switch {
	case peer.cidr != "", peer.pod == nil && peer.ns == nil:
		return false
	case peer.ns == nil:
		return w.obj.ns == pol.obj.ns && peer.pod.matches(w.podLabels)
	}
	return peer.ns.matches(p.namespaces[w.obj.ns]) && (peer.pod == nil || peer.pod.matches(w.podLabels))
}

// rulePorts is what a rule allows towards dst.
func (p *k8sParser) rulePorts(pol *k8sPolicy, r *k8sRule, dst *k8sWorkload) k8sPorts {
	if r.ports == nil {
		return k8sPorts{all: true}
	}
	var out []graph.PortRange
	for _, np := range r.ports {
		switch n, num := k8sPortNum(np.port); {
		case np.port == "":
			out = append(out, graph.PortRange{Proto: np.proto, Lo: 1, Hi: 65535})
		case num:
			hi := n
			if np.end >= n {
				hi = np.end
			}
			out = append(out, graph.PortRange{Proto: np.proto, Lo: n, Hi: hi})
		default:
			if cp, ok := dst.namedPort(np.port, np.proto); ok {
				out = append(out, graph.PortRange{Proto: cp.proto, Lo: cp.port, Hi: cp.port})
			} else {
				p.notes.add("%s:%d: NetworkPolicy %s/%s names port %q, which %s does not declare: it allows nothing there", pol.obj.file, r.line, pol.obj.ns, pol.obj.name, np.port, dst.id)
			}
		}
	}
	return k8sPorts{r: k8sNormalize(out)}
}

// allowed is what the policies allow from src to dst.
func (p *k8sParser) allowed(src, dst *k8sWorkload) k8sPorts {
	in := k8sPorts{all: len(dst.inPolicies) == 0}
	for _, pol := range dst.inPolicies {
		for _, r := range pol.in {
			if r.all || p.anyPeer(pol, r, src) {
				in = k8sUnion(in, p.rulePorts(pol, r, dst))
			}
		}
	}
	out := k8sPorts{all: len(src.outPolicies) == 0}
	for _, pol := range src.outPolicies {
		for _, r := range pol.out {
			if r.all || p.anyPeer(pol, r, dst) {
				out = k8sUnion(out, p.rulePorts(pol, r, dst))
			}
		}
	}
	return k8sIntersect(in, out)
}

func (p *k8sParser) anyPeer(pol *k8sPolicy, r *k8sRule, w *k8sWorkload) bool {
	for _, peer := range r.peers {
		if p.peerMatches(pol, peer, w) {
			return true
		}
	}
	return false
}

func k8sIDs(ws []*k8sWorkload) string {
	ids := make([]string, len(ws))
	for i, w := range ws {
		ids[i] = w.id
	}
	return strings.Join(ids, " ")
}

func (p *k8sParser) readPolicies() error {
	for _, o := range p.objs {
		if o.kind == "NetworkPolicy" {
			p.policies = append(p.policies, p.readPolicy(o))
		}
	}
	if len(p.policies) > 0 && len(p.workloads) == 0 {
		p.notes.add("%d NetworkPolicies but no workloads in this input: their selectors cannot be resolved; import the policies together with the manifests (in the same import)", len(p.policies))
		return nil
	}
	for _, pol := range p.policies {
		o := pol.obj
		for _, w := range p.workloads {
			if w.obj.ns == o.ns && pol.sel.matches(w.podLabels) {
				pol.selected = append(pol.selected, w)
				if pol.ingress {
					w.inPolicies = append(w.inPolicies, pol)
				}
				if pol.egress {
					w.outPolicies = append(w.outPolicies, pol)
				}
			}
		}
		if len(pol.selected) == 0 {
			p.unresolved.add("%s:%d: NetworkPolicy %s/%s: podSelector %s matches no workload in namespace %s in this input (the policy protects nothing)", o.file, o.line, o.ns, o.name, pol.sel, o.ns)
			continue
		}
		for _, dir := range []struct {
			rules     []*k8sRule
			name, via string
		}{{pol.in, "ingress", "from"}, {pol.out, "egress", "to"}} {
			if (dir.name == "ingress" && pol.ingress || dir.name == "egress" && pol.egress) && len(dir.rules) == 0 {
				p.notes.add("%s:%d: NetworkPolicy %s/%s denies all %s of %s (no rules)", o.file, o.line, o.ns, o.name, dir.name, k8sIDs(pol.selected))
			}
			for _, r := range dir.rules {
				if r.all {
					p.notes.add("%s:%d: NetworkPolicy %s/%s: %s of %s open to every peer on %s (no edges: no peer named)", o.file, r.line, o.ns, o.name, dir.name, k8sIDs(pol.selected), p.rulePortsText(pol, r))
				}
				for _, peer := range r.peers {
					p.checkPeer(pol, r, peer, dir.name, dir.via)
				}
			}
		}
	}
	p.policyEdges()
	p.checkDenied()
	return nil
}

func (p *k8sParser) rulePortsText(pol *k8sPolicy, r *k8sRule) string {
	if r.ports == nil {
		return "every port"
	}
	var parts []string
	for _, np := range r.ports {
		s := np.port
		if s == "" {
			s = "all"
		}
		if np.end > 0 {
			s += fmt.Sprintf("-%d", np.end)
		}
		parts = append(parts, s+"/"+np.proto.String())
	}
	if len(parts) == 0 {
		return "no port"
	}
	return strings.Join(parts, " ")
}

// checkPeer reports peers that match nothing and ipBlocks.
func (p *k8sParser) checkPeer(pol *k8sPolicy, r *k8sRule, peer *k8sPeer, dir, via string) {
	o := pol.obj
	if peer.cidr != "" {
		ex := ""
		if len(peer.except) > 0 {
			ex = " except " + strings.Join(peer.except, " ")
		}
		p.notes.add("%s:%d: NetworkPolicy %s/%s: %s %s ipBlock %s%s on %s: addresses, not workloads (no edge)", o.file, peer.line, o.ns, o.name, dir, via, peer.cidr, ex, p.rulePortsText(pol, r))
		return
	}
	if peer.pod == nil && peer.ns == nil {
		p.notes.add("%s:%d: NetworkPolicy %s/%s: an empty %s peer selects nothing", o.file, peer.line, o.ns, o.name, dir)
		return
	}
	if peer.ns != nil {
		found := false
		for _, ns := range sortedKeys(p.namespaces) {
			found = found || peer.ns.matches(p.namespaces[ns])
		}
		if !found {
			p.unresolved.add("%s:%d: NetworkPolicy %s/%s: %s %s namespaceSelector %s matches no namespace in this input", o.file, peer.line, o.ns, o.name, dir, via, peer.ns)
			return
		}
	}
	for _, w := range p.workloads {
		if p.peerMatches(pol, peer, w) {
			return
		}
	}
	what := "podSelector " + peer.pod.String()
	if peer.pod == nil {
		what = "namespaceSelector " + peer.ns.String()
	} else if peer.ns != nil {
		what += " in namespaceSelector " + peer.ns.String()
	}
	p.unresolved.add("%s:%d: NetworkPolicy %s/%s: %s %s %s matches no workload in this input", o.file, peer.line, o.ns, o.name, dir, via, what)
}

// policyEdges adds the reachability edges of the pairs rules name.
func (p *k8sParser) policyEdges() {
	cand := map[graph.EdgeKey]graph.Pos{}
	pairs := map[graph.EdgeKey][2]*k8sWorkload{}
	addCand := func(src, dst *k8sWorkload, at graph.Pos) {
		k := graph.EdgeKey{From: src.id, To: dst.id}
		if _, ok := cand[k]; !ok && src != dst {
			cand[k] = at
			pairs[k] = [2]*k8sWorkload{src, dst}
		}
	}
	for _, pol := range p.policies {
		for _, r := range pol.in {
			for _, peer := range r.peers {
				for _, src := range p.workloads {
					if p.peerMatches(pol, peer, src) {
						for _, dst := range pol.selected {
							addCand(src, dst, pol.obj.at(peer.line))
						}
					}
				}
			}
		}
		for _, r := range pol.out {
			for _, peer := range r.peers {
				for _, dst := range p.workloads {
					if p.peerMatches(pol, peer, dst) {
						for _, src := range pol.selected {
							addCand(src, dst, pol.obj.at(peer.line))
						}
					}
				}
			}
		}
	}
	keys := make([]graph.EdgeKey, 0, len(cand))
	for k := range cand {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].From != keys[j].From {
			return keys[i].From < keys[j].From
		}
		return keys[i].To < keys[j].To
	})
	added := 0
	for _, k := range keys {
		if _, ok := p.envEdges[k]; ok {
			continue
		}
		pr := pairs[k]
		allowed := p.allowed(pr[0], pr[1])
		if allowed.empty() {
			continue
		}
		if added >= maxPolicyEdges {
			p.notes.add("more than %d NetworkPolicy reachability edges: the rest are left out", maxPolicyEdges)
			break
		}
		var ports []graph.PortRange
		if !allowed.all {
			ports = allowed.r
		}
		p.addEdge(k.From, k.To, ports, graph.DepNone, "", cand[k])
		added++
	}
}

// checkDenied reports declared dependencies the policies do not allow.
func (p *k8sParser) checkDenied() {
	for _, why := range k8sSortedWhy(p.envEdges) {
		if len(why.to.inPolicies) == 0 && len(why.from.outPolicies) == 0 {
			continue
		}
		need := k8sPorts{r: k8sNormalize(append([]graph.PortRange{}, why.ports...))}
		if len(why.ports) == 0 {
			need = k8sPorts{all: true}
		}
		got := k8sIntersect(p.allowed(why.from, why.to), need)
		switch {
		case got.empty():
			p.notes.add("%s:%d: NetworkPolicies deny the declared dependency %s → %s on %s (%s): the edge is kept, the connection would fail", why.at.File, why.at.Line, why.from.id, why.to.id, need, why.what)
		case got.String() != need.String():
			p.notes.add("%s:%d: NetworkPolicies allow %s → %s only on %s of %s (%s)", why.at.File, why.at.Line, why.from.id, why.to.id, got, need, why.what)
		}
	}
}
