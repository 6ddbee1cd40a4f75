package contain

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Sentinel errors of targets.
var (
	// ErrUnsupported means this platform cannot apply rulesets (not Linux).
	ErrUnsupported = errors.New("nftables is only available on Linux")
	// ErrBadTarget means an enforce target string is malformed.
	ErrBadTarget = errors.New("bad enforce target")
)

// Target is one host's firewall as firebreak sees it: the single table it
// owns there. Implementations: the local netns (netlink), a named network
// namespace (netlink inside it), and the host agent (HTTPS, mutual TLS).
type Target interface {
	// Apply makes the owned table exactly rs in one atomic netlink batch:
	// it lands whole or not at all. An empty ruleset removes the table.
	// Tables firebreak does not own are never touched.
	Apply(ctx context.Context, rs Ruleset) error
	// Live reads the owned table back; ok is false when there is none.
	// Element timeouts are the time left before the kernel removes them.
	Live(ctx context.Context) (rs Ruleset, ok bool, err error)
	// String names the target for messages and the audit log.
	String() string
}

// TargetOptions configures how targets are reached.
type TargetOptions struct {
	// AgentTLS is the client's TLS configuration for agent targets: its
	// certificate and the CA that signs agents' certificates.
	AgentTLS *tls.Config
	// AgentNetNS dials agents from inside this named network namespace (the
	// lab's management namespace); empty dials from here.
	AgentNetNS string
	// Timeout bounds one call to an agent.
	Timeout time.Duration
}

// OpenTarget resolves an enforce string: local, netns:NAME or
// agent:https://HOST:PORT.
func OpenTarget(spec string, o TargetOptions) (Target, error) {
	switch {
	case spec == "local":
		return newNftTarget("")
	case strings.HasPrefix(spec, "netns:"):
		name := strings.TrimPrefix(spec, "netns:")
		if name == "" || strings.ContainsAny(name, "/ \t") {
			return nil, fmt.Errorf("%w: %q", ErrBadTarget, spec)
		}
		return newNftTarget(name)
	case strings.HasPrefix(spec, "agent:"):
		return newAgentTarget(strings.TrimPrefix(spec, "agent:"), o)
	case spec == "":
		return nil, fmt.Errorf("%w: the host has no enforce target", ErrNoTarget)
	}
	return nil, fmt.Errorf("%w: %q (want local, netns:NAME or agent:https://HOST:PORT)", ErrBadTarget, spec)
}

// Same reports whether two rulesets say the same thing, ignoring how long
// their elements have left: a live table read back minutes after an apply
// matches its desired state. The second result describes the first
// difference, for drift reports.
func Same(desired, live Ruleset) (bool, string) {
	a, b := normalised(desired), normalised(live)
	if a == b {
		return true, ""
	}
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return false, fmt.Sprintf("desired %q, live %q", strings.TrimSpace(x), strings.TrimSpace(y))
		}
	}
	return false, "differs"
}

func normalised(rs Ruleset) string {
	c := Ruleset{Chains: append([]Chain(nil), rs.Chains...)}
	sort.SliceStable(c.Chains, func(i, j int) bool { return c.Chains[i].Hook < c.Chains[j].Hook })
	for _, s := range rs.Sets {
		s.Elements = append([]Element(nil), s.Elements...)
		for i := range s.Elements {
			s.Elements[i].Timeout = 0
		}
		sortElements(s.Elements)
		c.Sets = append(c.Sets, s)
	}
	sort.Slice(c.Sets, func(i, j int) bool { return c.Sets[i].Name < c.Sets[j].Name })
	var b strings.Builder
	_ = Render(&b, c)
	return b.String()
}
