package contain

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Render writes a ruleset as nft text: exactly what `nft list table inet
// firebreak` shows once it is applied (less the live "expires" countdowns).
// It is the dry-run, and the reviewable description of what the netlink
// applier sends; system tests compare the two.
func Render(w io.Writer, rs Ruleset) error {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {\n", TableName)
	for i, s := range rs.Sets {
		if i > 0 {
			b.WriteString("\n")
		}
		renderSet(&b, s)
	}
	for _, c := range rs.Chains {
		b.WriteString("\n")
		fmt.Fprintf(&b, "\tchain %s {\n", c.Name)
		fmt.Fprintf(&b, "\t\ttype filter hook %s priority %s; policy accept;\n", hookName(c.Hook), priorityText(ChainPriority))
		for _, r := range c.Rules {
			fmt.Fprintf(&b, "\t\t%s\n", RuleText(c.Hook, r))
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func renderSet(b *strings.Builder, s Set) {
	fmt.Fprintf(b, "\tset %s {\n", s.Name)
	fmt.Fprintf(b, "\t\ttype %s\n", setTypeName(s.Type))
	var flags []string
	if s.Interval {
		flags = append(flags, "interval")
	}
	if s.Timeout {
		flags = append(flags, "timeout")
	}
	if len(flags) > 0 {
		fmt.Fprintf(b, "\t\tflags %s\n", strings.Join(flags, ","))
	}
	if len(s.Elements) > 0 {
		// nft breaks element lists after a number of elements that depends
		// on the key type; doing the same keeps the text identical to its
		// listing for sets of any size.
		per := map[SetType]int{SetIPv4: 2, SetIPv6: 1, SetPort: 5}[s.Type]
		b.WriteString("\t\telements = { ")
		for i, e := range s.Elements {
			if i > 0 {
				if i%per == 0 {
					b.WriteString(",\n\t\t\t     ")
				} else {
					b.WriteString(", ")
				}
			}
			b.WriteString(elementText(s.Type, e))
		}
		b.WriteString(" }\n")
	}
	b.WriteString("\t}\n")
}

func setTypeName(t SetType) string {
	switch t {
	case SetIPv4:
		return "ipv4_addr"
	case SetIPv6:
		return "ipv6_addr"
	case SetPort:
		return "inet_service"
	}
	return "unknown"
}

func elementText(t SetType, e Element) string {
	var s string
	if t == SetPort {
		s = fmt.Sprint(e.Port)
		if e.PortEnd > e.Port {
			s = fmt.Sprintf("%d-%d", e.Port, e.PortEnd)
		}
	} else if e.Prefix.IsSingleIP() {
		s = e.Prefix.Addr().String()
	} else {
		s = e.Prefix.String()
	}
	if e.Timeout > 0 {
		s += " timeout " + NftDuration(e.Timeout)
	}
	return s
}

// NftDuration writes a duration the way nft does: 1d2h3m4s, 500ms.
func NftDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	var b strings.Builder
	units := []struct {
		unit time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}}
	for _, u := range units {
		if n := d / u.unit; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			d -= n * u.unit
		}
	}
	return b.String()
}

// RuleText writes one rule as an nft statement line. The netlink applier
// builds its expressions from the same Rule, and tests check the two agree
// through `nft list`.
func RuleText(h Hook, r Rule) string {
	var parts []string
	if r.Loopback {
		if h == HookOutput {
			parts = append(parts, `oifname "lo"`)
		} else {
			parts = append(parts, `iifname "lo"`)
		}
	}
	fam := "ip"
	if r.Family == 6 {
		fam = "ip6"
	}
	if r.SrcSet != "" {
		parts = append(parts, fmt.Sprintf("%s saddr @%s", fam, r.SrcSet))
	}
	if r.DstSet != "" {
		parts = append(parts, fmt.Sprintf("%s daddr @%s", fam, r.DstSet))
	}
	proto := ""
	switch r.L4 {
	case L4TCP:
		proto = "tcp"
	case L4UDP:
		proto = "udp"
	}
	if proto != "" {
		if r.SPort != "" {
			parts = append(parts, fmt.Sprintf("%s sport @%s", proto, r.SPort))
		}
		if r.DPort != "" {
			parts = append(parts, fmt.Sprintf("%s dport @%s", proto, r.DPort))
		}
	}
	switch r.Verdict {
	case Accept:
		parts = append(parts, "accept")
	case Drop:
		parts = append(parts, "drop")
	}
	if r.Comment != "" {
		// nft prints comments raw between quotes; the planner keeps them to
		// characters that need no escaping (see commentText).
		parts = append(parts, `comment "`+r.Comment+`"`)
	}
	return strings.Join(parts, " ")
}

// priorityText writes a chain priority the way nft lists it: relative to the
// standard filter priority.
func priorityText(p int) string {
	switch {
	case p == 0:
		return "filter"
	case p < 0:
		return fmt.Sprintf("filter - %d", -p)
	}
	return fmt.Sprintf("filter + %d", p)
}
