package contain

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"
)

// Validate checks everything about a ruleset that the kernel would reject,
// that could not be read back as the same Ruleset, or that would not mean
// what Render prints: names, set types and flags, elements (family, host
// bits, overlaps, timeouts), chains (one per hook) and rules (verdicts,
// matches against sets of the right type, comments). Both the netlink
// applier and the agent run it before touching a host. References to sets
// the ruleset does not define are the kernel's to reject (the whole batch
// fails); the agent checks them too, with CheckRefs.
func (rs Ruleset) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrBadRuleset)
	}
	sets := map[string]Set{}
	for i, s := range rs.Sets {
		if !validName(s.Name) {
			return bad("sets[%d]: name %q: want 1 to 64 letters, digits, '_' or '-'", i, s.Name)
		}
		if _, dup := sets[s.Name]; dup {
			return bad("set %q defined twice", s.Name)
		}
		sets[s.Name] = s
		if err := s.validate(); err != nil {
			return err
		}
	}
	chains, hooks := map[string]bool{}, map[Hook]bool{}
	for i, c := range rs.Chains {
		switch {
		case !validName(c.Name):
			return bad("chains[%d]: name %q: want 1 to 64 letters, digits, '_' or '-'", i, c.Name)
		case chains[c.Name]:
			return bad("chain %q defined twice", c.Name)
		case c.Hook > HookForward:
			return bad("chain %q: unknown hook %d", c.Name, c.Hook)
		case hooks[c.Hook]:
			return bad("chain %q: a second chain on hook %s", c.Name, hookName(c.Hook))
		}
		chains[c.Name], hooks[c.Hook] = true, true
		for j, r := range c.Rules {
			if err := r.validate(sets); err != nil {
				return fmt.Errorf("chain %q rule %d: %w", c.Name, j+1, err)
			}
		}
	}
	return nil
}

// CheckRefs reports a rule that matches against a set the ruleset does not
// define.
func (rs Ruleset) CheckRefs() error {
	sets := map[string]bool{}
	for _, s := range rs.Sets {
		sets[s.Name] = true
	}
	for _, c := range rs.Chains {
		for j, r := range c.Rules {
			for _, ref := range []string{r.SrcSet, r.DstSet, r.SPort, r.DPort} {
				if ref != "" && !sets[ref] {
					return fmt.Errorf("chain %q rule %d: no set %q: %w", c.Name, j+1, ref, ErrBadRuleset)
				}
			}
		}
	}
	return nil
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

func (s Set) validate() error {
	if s.Type > SetPort {
		return fmt.Errorf("set %q: unknown type %d: %w", s.Name, s.Type, ErrBadRuleset)
	}
	for _, e := range s.Elements {
		if err := s.validateElement(e); err != nil {
			return fmt.Errorf("set %q element %s: %w", s.Name, elementText(s.Type, e), err)
		}
	}
	// Interval sets reject overlapping elements; duplicates too.
	type span struct{ lo, hi netip.Addr }
	var spans []span
	for _, e := range s.Elements {
		if s.Type == SetPort {
			hi := max(e.PortEnd, e.Port)
			spans = append(spans, span{portAddr(e.Port), portAddr(hi)})
		} else {
			spans = append(spans, span{e.Prefix.Addr(), lastAddr(e.Prefix)})
		}
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].lo.Less(spans[j].lo) })
	for i := 1; i < len(spans); i++ {
		if !spans[i-1].hi.Less(spans[i].lo) {
			return fmt.Errorf("set %q: elements overlap: %w", s.Name, ErrBadRuleset)
		}
	}
	return nil
}

// portAddr maps a port onto an address so ports and prefixes share one
// overlap check.
func portAddr(p uint16) netip.Addr { return netip.AddrFrom4([4]byte{0, 0, byte(p >> 8), byte(p)}) }

// lastAddr is the highest address of a prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func (s Set) validateElement(e Element) error {
	switch {
	case e.Timeout < 0:
		return fmt.Errorf("negative timeout: %w", ErrBadRuleset)
	case e.Timeout > 0 && !s.Timeout:
		return fmt.Errorf("timeout in a set without flag timeout: %w", ErrBadRuleset)
	case e.Timeout%time.Millisecond != 0:
		return fmt.Errorf("timeout finer than a millisecond: %w", ErrBadRuleset)
	}
	if s.Type == SetPort {
		switch {
		case e.Prefix.IsValid():
			return fmt.Errorf("address in a port set: %w", ErrBadRuleset)
		case e.PortEnd != 0 && e.PortEnd < e.Port:
			return fmt.Errorf("port range ends before it starts: %w", ErrBadRuleset)
		case !s.Interval && e.PortEnd > e.Port:
			return fmt.Errorf("port range in a set without flag interval: %w", ErrBadRuleset)
		}
		return nil
	}
	p := e.Prefix
	switch {
	case !p.IsValid():
		return fmt.Errorf("no address: %w", ErrBadRuleset)
	case e.Port != 0 || e.PortEnd != 0:
		return fmt.Errorf("port in an address set: %w", ErrBadRuleset)
	case s.Type == SetIPv4 && !p.Addr().Is4(), s.Type == SetIPv6 && !p.Addr().Is6():
		return fmt.Errorf("wrong address family for type %s: %w", setTypeName(s.Type), ErrBadRuleset)
	case p.Addr().Zone() != "":
		return fmt.Errorf("address with a zone: %w", ErrBadRuleset)
	case p != p.Masked():
		return fmt.Errorf("host bits set (nft would list %s): %w", p.Masked(), ErrBadRuleset)
	case !s.Interval && !p.IsSingleIP():
		return fmt.Errorf("prefix in a set without flag interval: %w", ErrBadRuleset)
	}
	return nil
}

func (r Rule) validate(sets map[string]Set) error {
	switch {
	case r.Verdict != Accept && r.Verdict != Drop:
		return fmt.Errorf("verdict %d: %w", r.Verdict, ErrBadRuleset)
	case r.Family != 0 && r.Family != 4 && r.Family != 6:
		return fmt.Errorf("family %d: %w", r.Family, ErrBadRuleset)
	case r.L4 > L4UDP:
		return fmt.Errorf("transport protocol %d: %w", r.L4, ErrBadRuleset)
	case r.L4 == L4Any && (r.SPort != "" || r.DPort != ""):
		// RuleText would print no port match at all, and the rule would
		// drop every port.
		return fmt.Errorf("port set without tcp or udp: %w", ErrBadRuleset)
	case len(r.Comment) > 252 || strings.ContainsRune(r.Comment, 0):
		return fmt.Errorf("comment longer than 252 bytes or with a NUL: %w", ErrBadRuleset)
	}
	want := SetIPv4
	if r.Family == 6 {
		want = SetIPv6
	}
	for _, ref := range []struct {
		name string
		typ  SetType
	}{{r.SrcSet, want}, {r.DstSet, want}, {r.SPort, SetPort}, {r.DPort, SetPort}} {
		if s, ok := sets[ref.name]; ok && ref.name != "" && s.Type != ref.typ {
			return fmt.Errorf("set %q has type %s, the match needs %s: %w", ref.name, setTypeName(s.Type), setTypeName(ref.typ), ErrBadRuleset)
		}
	}
	return nil
}
