package contain

// Validation of rulesets arriving over the wire, before the host is
// touched: a bad request gets a 400, not a half-understood apply.

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// checkRuleset checks what a netlink batch needs and a client may get
// wrong: unique non-empty names, set elements of the set's type, rules that
// refer to existing sets of the right type. The agent refuses a ruleset
// that fails it with 400 before touching the host.
func checkRuleset(rs Ruleset) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", errBadRuleset, fmt.Sprintf(format, args...))
	}
	sets := map[string]SetType{}
	for i, s := range rs.Sets {
		if !validWireName(s.Name) {
			return bad("sets[%d]: name %q: want 1 to 64 letters, digits, '_' or '-'", i, s.Name)
		}
		if _, dup := sets[s.Name]; dup {
			return bad("set %q: defined twice", s.Name)
		}
		sets[s.Name] = s.Type
		for j, e := range s.Elements {
			if e.Timeout < 0 {
				return bad("set %q element %d: negative timeout", s.Name, j)
			}
			if e.Timeout > 0 && !s.Timeout {
				return bad("set %q element %d: a timeout in a set without the timeout flag", s.Name, j)
			}
			if e.Timeout%time.Millisecond != 0 {
				return bad("set %q element %d: timeout %s is finer than a millisecond", s.Name, j, e.Timeout)
			}
			switch s.Type {
			case SetIPv4, SetIPv6:
				if !e.Prefix.IsValid() || e.Prefix.Addr().Is4() != (s.Type == SetIPv4) || e.Prefix.Addr().Zone() != "" {
					return bad("set %q element %d: want an IPv%d prefix, got %q", s.Name, j, map[SetType]int{SetIPv4: 4, SetIPv6: 6}[s.Type], e.Prefix)
				}
				if e.Prefix != e.Prefix.Masked() {
					return bad("set %q element %d: %s has host bits set (want %s)", s.Name, j, e.Prefix, e.Prefix.Masked())
				}
				if !e.Prefix.IsSingleIP() && !s.Interval {
					return bad("set %q element %d: prefix %s in a set without the interval flag", s.Name, j, e.Prefix)
				}
			case SetPort:
				if e.Prefix.IsValid() || (e.PortEnd != 0 && e.PortEnd < e.Port) {
					return bad("set %q element %d: want a port or port range", s.Name, j)
				}
				if e.PortEnd > e.Port && !s.Interval {
					return bad("set %q element %d: range in a set without the interval flag", s.Name, j)
				}
			default:
				return bad("set %q: unknown type %d", s.Name, s.Type)
			}
		}
	}
	chains := map[string]bool{}
	hooks := map[Hook]bool{}
	for i, c := range rs.Chains {
		if !validWireName(c.Name) {
			return bad("chains[%d]: name %q: want 1 to 64 letters, digits, '_' or '-'", i, c.Name)
		}
		if chains[c.Name] {
			return bad("chain %q: defined twice", c.Name)
		}
		chains[c.Name] = true
		if c.Hook > HookForward {
			return bad("chain %q: unknown hook %d", c.Name, c.Hook)
		}
		if hooks[c.Hook] {
			return bad("chain %q: a second chain on hook %s", c.Name, hookName(c.Hook))
		}
		hooks[c.Hook] = true
		for j, r := range c.Rules {
			if err := checkWireRule(r, sets); err != nil {
				return bad("chain %q rule %d: %v", c.Name, j, err)
			}
		}
	}
	return nil
}

func checkWireRule(r Rule, sets map[string]SetType) error {
	if r.Verdict > Drop {
		return fmt.Errorf("unknown verdict %d", r.Verdict)
	}
	if r.L4 > L4UDP {
		return fmt.Errorf("unknown protocol %d", r.L4)
	}
	if len(r.Comment) > 252 || strings.ContainsRune(r.Comment, 0) {
		return errors.New("comment longer than 252 bytes or with a NUL")
	}
	for _, ref := range []string{r.SrcSet, r.DstSet} {
		if ref == "" {
			continue
		}
		t, ok := sets[ref]
		if !ok {
			return fmt.Errorf("no set %q", ref)
		}
		if want := map[uint8]SetType{4: SetIPv4, 6: SetIPv6}; r.Family != 4 && r.Family != 6 || t != want[r.Family] {
			return fmt.Errorf("set %q does not hold addresses of family %d", ref, r.Family)
		}
	}
	for _, ref := range []string{r.SPort, r.DPort} {
		if ref == "" {
			continue
		}
		t, ok := sets[ref]
		if !ok {
			return fmt.Errorf("no set %q", ref)
		}
		if t != SetPort {
			return fmt.Errorf("set %q does not hold ports", ref)
		}
		if r.L4 == L4Any {
			return fmt.Errorf("port set %q without tcp or udp", ref)
		}
	}
	return nil
}

func validWireName(s string) bool {
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
