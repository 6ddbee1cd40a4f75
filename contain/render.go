package contain

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Render writes a ruleset as nft text: what `nft list table inet firebreak`
// would show once it is applied. It is the dry-run, and the reviewable
// description of exactly what the netlink applier sends.
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
		fmt.Fprintf(&b, "\t\ttype filter hook %s priority %d; policy accept;\n", hookName(c.Hook), ChainPriority)
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
		els := make([]string, len(s.Elements))
		for i, e := range s.Elements {
			els[i] = elementText(s.Type, e)
		}
		fmt.Fprintf(b, "\t\telements = { %s }\n", strings.Join(els, ", "))
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
		s = spanText(PortSpan{e.Port, e.PortEnd})
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

func spanText(p PortSpan) string {
	if p.Hi == p.Lo || p.Hi == 0 {
		return fmt.Sprint(p.Lo)
	}
	return fmt.Sprintf("%d-%d", p.Lo, p.Hi)
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
			parts = append(parts, `oif "lo"`)
		} else {
			parts = append(parts, `iif "lo"`)
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
		if len(r.DPorts) == 1 && r.DPorts[0].Lo == r.DPorts[0].Hi {
			parts = append(parts, fmt.Sprintf("%s dport %d", proto, r.DPorts[0].Lo))
		} else if len(r.DPorts) > 0 {
			spans := make([]string, len(r.DPorts))
			for i, p := range r.DPorts {
				spans[i] = spanText(p)
			}
			parts = append(parts, fmt.Sprintf("%s dport { %s }", proto, strings.Join(spans, ", ")))
		}
	}
	switch r.Verdict {
	case Accept:
		parts = append(parts, "accept")
	case Drop:
		parts = append(parts, "drop")
	}
	if r.Comment != "" {
		parts = append(parts, fmt.Sprintf("comment %q", r.Comment))
	}
	return strings.Join(parts, " ")
}
