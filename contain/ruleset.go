// Package contain turns containment actions into nftables rulesets and applies
// them to live hosts: a pure planner computes each host's desired table, the
// renderer writes it as nft text (the dry-run), and appliers (netlink here, in
// a named network namespace, or through the host agent) write it in one
// atomic batch. Commit-confirmed rollback is enforced by the kernel itself:
// every provisional element carries a timeout and the rules that drop traffic
// only match while their elements exist.
package contain

import (
	"net/netip"
	"time"
)

// The types below are also the agent's wire format (JSON), so they carry
// only plain data.

// TableName is the one nftables table firebreak owns on every host, in the
// inet family. Nothing else is ever touched.
const TableName = "firebreak"

// SetType is the key type of an nftables set.
type SetType uint8

// Set key types.
const (
	SetIPv4 SetType = iota // ipv4_addr
	SetIPv6                // ipv6_addr
	SetPort                // inet_service
)

// Element is one member of a set: an address prefix or a port range, with an
// optional timeout after which the kernel removes it.
type Element struct {
	Prefix  netip.Prefix
	Port    uint16
	PortEnd uint16 // inclusive; equal to Port for a single port
	Timeout time.Duration
}

// Set is a named nftables set.
type Set struct {
	Name     string
	Type     SetType
	Interval bool // holds prefixes or ranges
	Timeout  bool // elements may expire (flags timeout)
	Elements []Element
}

// Hook is a netfilter hook a base chain attaches to.
type Hook uint8

// Hooks used by firebreak's chains.
const (
	HookInput Hook = iota
	HookOutput
	HookForward
)

// ChainPriority runs firebreak's chains just before the conventional filter
// chains (priority 0), after connection tracking, so a drop here applies to
// packets of existing connections too: no established-accept shortcut exists.
const ChainPriority = -10

// Chain is a base chain of the owned table, policy accept.
type Chain struct {
	Name  string
	Hook  Hook
	Rules []Rule
}

// Verdict ends a rule.
type Verdict uint8

// Verdicts.
const (
	Accept Verdict = iota
	Drop
)

// L4 is the transport protocol a rule matches on.
type L4 uint8

// Transport protocols for rule matches. L4Any matches no transport header.
const (
	L4Any L4 = iota
	L4TCP
	L4UDP
)

// Rule is a conjunction of matches and a verdict. The renderer writes it as
// one nft line and the netlink applier builds the same expressions; a zero
// field means "no match on this". Addresses and ports are only ever matched
// through named sets, so a rule is at most four primitive matches.
type Rule struct {
	Comment string

	Loopback bool // iifname "lo" on input, oifname "lo" on output

	Family  uint8  // 4 (ip) or 6 (ip6) when an address is matched
	SrcSet  string // ip saddr @set
	DstSet  string // ip daddr @set
	L4      L4     // tcp or udp, when a port is matched
	SPort   string // tcp sport @set
	DPort   string // tcp dport @set
	Verdict Verdict
}

// Ruleset is the whole desired content of the owned table on one host.
type Ruleset struct {
	Sets   []Set
	Chains []Chain
}

// Empty reports whether the ruleset holds no rules, in which case the table
// is removed rather than written.
func (r Ruleset) Empty() bool {
	for _, c := range r.Chains {
		if len(c.Rules) > 0 {
			return false
		}
	}
	return true
}
