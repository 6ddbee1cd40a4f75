package contain

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/firebreak/firebreak/graph"
)

// Sentinel errors of the planner.
var (
	// ErrLockout refuses an action that would cut the management allowlist.
	ErrLockout = errors.New("would lock responders out")
	// ErrNoTarget means a node has no host firebreak can enforce on.
	ErrNoTarget = errors.New("no enforce target")
	// ErrNoAddress means a node has no address to write into a rule.
	ErrNoAddress = errors.New("no address")
	// ErrResident refuses to quarantine a node that shares its host's network
	// stack: isolating it means isolating the host.
	ErrResident = errors.New("runs on a host")
)

// Kind is the kind of a containment action.
type Kind uint8

// Action kinds.
const (
	Quarantine Kind = iota + 1
	Block
)

func (k Kind) String() string {
	switch k {
	case Quarantine:
		return "quarantine"
	case Block:
		return "block"
	}
	return "unknown"
}

// Action is one containment step. Deadline is when a provisional action
// reverts; the zero time means confirmed (no expiry).
type Action struct {
	ID       int64
	Kind     Kind
	Node     string            // quarantine: the node to isolate
	From, To string            // block: the edge
	Ports    []graph.PortRange // block: empty means every port
	Keep     []netip.Prefix    // quarantine: peers whose traffic is kept
	Deadline time.Time
}

// Policy is the site's containment configuration.
type Policy struct {
	Management      []netip.Prefix // bastion / responder networks, never cut
	ManagementPorts []uint16       // e.g. 22
	AgentPort       uint16         // the firebreak agent's port, always kept
}

// mgmtPorts returns the management ports plus the agent port, sorted.
func (p Policy) mgmtPorts() []uint16 {
	ports := append([]uint16(nil), p.ManagementPorts...)
	if p.AgentPort != 0 {
		ports = append(ports, p.AgentPort)
	}
	sort.Slice(ports, func(i, j int) bool { return ports[i] < ports[j] })
	out := ports[:0]
	for i, x := range ports {
		if i == 0 || x != ports[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// HostPlan is the desired state of one host's owned table.
type HostPlan struct {
	Host    string  // node id of the host that enforces
	Target  string  // its enforce target: local, netns:NAME, agent:https://…
	Actions []int64 // the actions that contribute, sorted
	Notes   []string
	Ruleset Ruleset
}

// EnforcementHost returns the node whose firewall carries rules for id: the
// node itself or the first node up its runs_on chain with an enforce target,
// else the top of the chain (with an empty target).
func EnforcementHost(m *graph.Model, id string) (*graph.Node, error) {
	n, ok := m.NodeByID(id)
	if !ok {
		return nil, fmt.Errorf("node %q: %w", id, graph.ErrNotFound)
	}
	for i := 0; i < 64; i++ {
		if n.Enforce != "" || n.RunsOn == "" {
			return n, nil
		}
		h, ok := m.NodeByID(n.RunsOn)
		if !ok {
			return nil, fmt.Errorf("node %q runs_on %q: %w", n.ID, n.RunsOn, graph.ErrNotFound)
		}
		n = h
	}
	return nil, fmt.Errorf("node %q: runs_on chain too deep", id)
}

// Addresses returns the addresses traffic of node id carries: its own, or
// those of the host it runs on.
func Addresses(m *graph.Model, id string) ([]netip.Prefix, error) {
	n, ok := m.NodeByID(id)
	for i := 0; ok && i < 64; i++ {
		if len(n.Addresses) > 0 {
			return n.Addresses, nil
		}
		if n.RunsOn == "" {
			break
		}
		n, ok = m.NodeByID(n.RunsOn)
	}
	return nil, fmt.Errorf("node %q: %w", id, ErrNoAddress)
}

// builder accumulates one host's ruleset while planning.
type builder struct {
	plan     HostPlan
	blocks   [3][]Rule // per hook: specific drops
	keeps    [3][]Rule // per hook: kept flows of a quarantine
	gates    [3][]Rule // per hook: quarantine drops
	actionOK map[int64]bool
}

// Plan computes the desired owned table of every host the actions touch. It is
// pure: the same model, policy, actions and clock give the same plans. Actions
// whose deadline has passed are left out (the kernel has already expired
// their elements). Hosts are returned sorted by id.
func Plan(m *graph.Model, pol Policy, actions []Action, now time.Time) ([]HostPlan, error) {
	return planWith(m, pol, actions, now, false)
}

// planWith plans like Plan; with keepExpired, actions past their deadline
// keep their sets and rules but no elements: the table as the kernel leaves
// it when provisional elements time out.
func planWith(m *graph.Model, pol Policy, actions []Action, now time.Time, keepExpired bool) ([]HostPlan, error) {
	hosts := map[string]*builder{}
	get := func(h *graph.Node) *builder {
		b, ok := hosts[h.ID]
		if !ok {
			b = &builder{plan: HostPlan{Host: h.ID, Target: h.Enforce}, actionOK: map[int64]bool{}}
			hosts[h.ID] = b
		}
		return b
	}
	sorted := append([]Action(nil), actions...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].ID < sorted[j].ID })
	var errs []error
	for _, a := range sorted {
		var ttl time.Duration
		expired := false
		if !a.Deadline.IsZero() {
			ttl = a.Deadline.Sub(now).Truncate(time.Second)
			if ttl <= 0 {
				if !keepExpired {
					continue
				}
				expired = true
			}
		}
		var err error
		switch a.Kind {
		case Quarantine:
			err = planQuarantine(m, a, ttl, expired, get)
		case Block:
			err = planBlock(m, pol, a, ttl, expired, get)
		default:
			err = fmt.Errorf("action %d: unknown kind %d", a.ID, a.Kind)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(hosts))
	for id := range hosts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := make([]HostPlan, 0, len(ids))
	for _, id := range ids {
		out = append(out, hosts[id].finish(pol))
	}
	return out, nil
}

func (b *builder) use(id int64) {
	if !b.actionOK[id] {
		b.actionOK[id] = true
		b.plan.Actions = append(b.plan.Actions, id)
	}
}

func planQuarantine(m *graph.Model, a Action, ttl time.Duration, expired bool, get func(*graph.Node) *builder) error {
	n, ok := m.NodeByID(a.Node)
	if !ok {
		return fmt.Errorf("quarantine %q: %w", a.Node, graph.ErrNotFound)
	}
	h, err := EnforcementHost(m, a.Node)
	if err != nil {
		return err
	}
	if h.ID != n.ID {
		return fmt.Errorf("quarantine %q: %w %q and shares its network stack; quarantine %q instead (it isolates everything on it): %w",
			n.ID, ErrResident, h.ID, h.ID, graph.ErrInvalid)
	}
	b := get(h)
	b.use(a.ID)
	name := fmt.Sprintf("q%d", a.ID)
	all4 := netip.MustParsePrefix("0.0.0.0/0")
	all6 := netip.MustParsePrefix("::/0")
	// The gate sets hold "everything" while the quarantine is active; when the
	// element times out the drop rules below stop matching, with no process
	// needed to undo them.
	gate4 := Set{Name: name + "_v4", Type: SetIPv4, Interval: true, Timeout: true}
	gate6 := Set{Name: name + "_v6", Type: SetIPv6, Interval: true, Timeout: true}
	if !expired {
		gate4.Elements = []Element{{Prefix: all4, Timeout: ttl}}
		gate6.Elements = []Element{{Prefix: all6, Timeout: ttl}}
	}
	b.plan.Ruleset.Sets = append(b.plan.Ruleset.Sets, gate4, gate6)
	comment := fmt.Sprintf("firebreak action %d: quarantine %s", a.ID, n.ID)
	if k4, k6 := splitFamilies(a.Keep); len(k4)+len(k6) > 0 {
		keepComment := fmt.Sprintf("firebreak action %d: keep flows of quarantined %s", a.ID, n.ID)
		for _, fam := range []struct {
			v     uint8
			pfx   []netip.Prefix
			typ   SetType
			label string
		}{{4, k4, SetIPv4, "_keep_v4"}, {6, k6, SetIPv6, "_keep_v6"}} {
			if len(fam.pfx) == 0 {
				continue
			}
			set := Set{Name: name + fam.label, Type: fam.typ, Interval: true, Timeout: true}
			for _, p := range fam.pfx {
				if !expired {
					set.Elements = append(set.Elements, Element{Prefix: p, Timeout: ttl})
				}
			}
			b.plan.Ruleset.Sets = append(b.plan.Ruleset.Sets, set)
			b.keeps[HookInput] = append(b.keeps[HookInput], Rule{Family: fam.v, SrcSet: set.Name, Verdict: Accept, Comment: keepComment})
			b.keeps[HookOutput] = append(b.keeps[HookOutput], Rule{Family: fam.v, DstSet: set.Name, Verdict: Accept, Comment: keepComment})
		}
	}
	for _, v := range []uint8{4, 6} {
		set := fmt.Sprintf("%s_v%d", name, v)
		b.gates[HookInput] = append(b.gates[HookInput], Rule{Family: v, SrcSet: set, Verdict: Drop, Comment: comment})
		b.gates[HookOutput] = append(b.gates[HookOutput], Rule{Family: v, DstSet: set, Verdict: Drop, Comment: comment})
		b.gates[HookForward] = append(b.gates[HookForward], Rule{Family: v, SrcSet: set, Verdict: Drop, Comment: comment})
	}
	return nil
}

func planBlock(m *graph.Model, pol Policy, a Action, ttl time.Duration, expired bool, get func(*graph.Node) *builder) error {
	ref := a.From + ":" + a.To
	if _, ok := m.EdgeByKey(graph.EdgeKey{From: a.From, To: a.To}); !ok {
		return fmt.Errorf("block %s: no such edge: %w", ref, graph.ErrInvalid)
	}
	src, err := Addresses(m, a.From)
	if err != nil {
		return fmt.Errorf("block %s: %w", ref, err)
	}
	dst, err := Addresses(m, a.To)
	if err != nil {
		return fmt.Errorf("block %s: %w", ref, err)
	}
	if cutsManagement(pol, src, a.Ports) {
		return fmt.Errorf("block %s: %s is in the management allowlist on a management port: %w", ref, a.From, ErrLockout)
	}
	srcHost, err := EnforcementHost(m, a.From)
	if err != nil {
		return err
	}
	dstHost, err := EnforcementHost(m, a.To)
	if err != nil {
		return err
	}
	if srcHost.ID == dstHost.ID {
		return fmt.Errorf("block %s: both ends run on %q; the traffic never crosses its firewall: %w", ref, srcHost.ID, graph.ErrInvalid)
	}
	comment := fmt.Sprintf("firebreak action %d: block %s->%s", a.ID, a.From, a.To)
	var also []string
	if cut, err := BlockedEdges(m, a.From, a.To, a.Ports); err == nil {
		for _, k := range cut {
			if k != (graph.EdgeKey{From: a.From, To: a.To}) {
				also = append(also, k.From+"->"+k.To)
			}
		}
	}
	// Drop on the destination (inbound from the source) and on the source
	// (outbound to the destination), so the block holds if either host is
	// reachable and neither side's rule depends on the other.
	sides := []struct {
		host  *graph.Node
		hook  Hook
		peers []netip.Prefix
		label string
	}{{dstHost, HookInput, src, "src"}, {srcHost, HookOutput, dst, "dst"}}
	for _, side := range sides {
		if side.host.Enforce == "" && side.host.ID == srcHost.ID {
			continue // no firewall on the source (an outside client, a SaaS): the destination's rule suffices
		}
		b := get(side.host)
		b.use(a.ID)
		if len(also) > 0 {
			b.plan.Notes = append(b.plan.Notes, fmt.Sprintf("action %d matches addresses, so it also cuts %s", a.ID, strings.Join(also, ", ")))
		}
		p4, p6 := splitFamilies(side.peers)
		for _, fam := range []struct {
			v   uint8
			pfx []netip.Prefix
			typ SetType
		}{{4, p4, SetIPv4}, {6, p6, SetIPv6}} {
			if len(fam.pfx) == 0 {
				continue
			}
			set := Set{Name: fmt.Sprintf("b%d_%s_v%d", a.ID, side.label, fam.v), Type: fam.typ, Interval: true, Timeout: true}
			for _, p := range fam.pfx {
				if !expired {
					set.Elements = append(set.Elements, Element{Prefix: p, Timeout: ttl})
				}
			}
			b.plan.Ruleset.Sets = append(b.plan.Ruleset.Sets, set)
			for _, r := range portRules(a.ID, a.Ports, ttl, expired, b) {
				r.Family, r.Verdict, r.Comment = fam.v, Drop, comment
				if side.hook == HookInput {
					r.SrcSet = set.Name
				} else {
					r.DstSet = set.Name
				}
				b.blocks[side.hook] = append(b.blocks[side.hook], r)
			}
		}
	}
	return nil
}

// finish assembles the host's chains in the order that keeps responders in:
// loopback and management accepts first, then specific block drops, then the
// flows a quarantine keeps, then the quarantine gates.
func (b *builder) finish(pol Policy) HostPlan {
	rs := &b.plan.Ruleset
	m4, m6 := splitFamilies(pol.Management)
	ports := pol.mgmtPorts()
	var mgmtSets []Set
	if len(ports) > 0 && len(m4)+len(m6) > 0 {
		ps := Set{Name: "mgmt_ports", Type: SetPort, Interval: true}
		for _, p := range ports {
			ps.Elements = append(ps.Elements, Element{Port: p, PortEnd: p})
		}
		mgmtSets = append(mgmtSets, ps)
	}
	for _, fam := range []struct {
		name string
		typ  SetType
		pfx  []netip.Prefix
	}{{"mgmt_v4", SetIPv4, m4}, {"mgmt_v6", SetIPv6, m6}} {
		if len(fam.pfx) == 0 || len(ports) == 0 {
			continue
		}
		s := Set{Name: fam.name, Type: fam.typ, Interval: true}
		for _, p := range fam.pfx {
			s.Elements = append(s.Elements, Element{Prefix: p})
		}
		mgmtSets = append(mgmtSets, s)
	}
	rs.Sets = append(mgmtSets, rs.Sets...)
	for i := range rs.Sets {
		rs.Sets[i].Elements = normaliseElements(rs.Sets[i].Elements)
	}

	for _, hook := range []Hook{HookInput, HookOutput, HookForward} {
		var rules []Rule
		if hook != HookForward {
			rules = append(rules, Rule{Loopback: true, Verdict: Accept, Comment: "firebreak: loopback"})
		}
		for _, s := range mgmtSets {
			if s.Type == SetPort {
				continue
			}
			v := uint8(4)
			if s.Type == SetIPv6 {
				v = 6
			}
			// Inbound sessions to the management ports, and their replies.
			in := Rule{Family: v, SrcSet: s.Name, L4: L4TCP, DPort: "mgmt_ports", Verdict: Accept, Comment: "firebreak: management access"}
			out := Rule{Family: v, DstSet: s.Name, L4: L4TCP, SPort: "mgmt_ports", Verdict: Accept, Comment: "firebreak: management access"}
			switch hook {
			case HookInput:
				rules = append(rules, in)
			case HookOutput:
				rules = append(rules, out)
			case HookForward:
				rules = append(rules, in, out)
			}
		}
		rules = append(rules, b.blocks[hook]...)
		rules = append(rules, b.keeps[hook]...)
		rules = append(rules, b.gates[hook]...)
		if len(b.blocks[hook])+len(b.gates[hook]) == 0 {
			continue // nothing to enforce on this hook
		}
		for i := range rules {
			rules[i].Comment = commentText(rules[i].Comment)
		}
		rs.Chains = append(rs.Chains, Chain{Name: hookName(hook), Hook: hook, Rules: rules})
	}
	return b.plan
}

func hookName(h Hook) string {
	switch h {
	case HookInput:
		return "input"
	case HookOutput:
		return "output"
	case HookForward:
		return "forward"
	}
	return "unknown"
}
