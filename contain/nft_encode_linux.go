//go:build linux

package contain

import (
	"bytes"
	"fmt"
	"sort"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// Encoding of a Ruleset as google/nftables values, mirroring what
// `nft -f` sends for the text Render writes (checked with
// `nft --debug=netlink`), so `nft list table inet firebreak` prints that text
// back. nft_decode_linux.go inverts every function here, on what
// nft_read_linux.go fetches.

// keyType is the nftables key type of a set type.
func keyType(t SetType) (nftables.SetDatatype, error) {
	switch t {
	case SetIPv4:
		return nftables.TypeIPAddr, nil
	case SetIPv6:
		return nftables.TypeIP6Addr, nil
	case SetPort:
		return nftables.TypeInetService, nil
	}
	return nftables.TypeInvalid, fmt.Errorf("set type %d: %w", t, ErrBadRuleset)
}

// keyRange is an element as an inclusive range of big-endian keys.
type keyRange struct {
	lo, hi  []byte
	timeout time.Duration
}

// elementRange gives the key range an element covers.
func elementRange(t SetType, e Element) keyRange {
	if t == SetPort {
		hi := max(e.PortEnd, e.Port) // PortEnd below Port means a single port, as Render prints it
		return keyRange{lo: be16(e.Port), hi: be16(hi), timeout: e.Timeout}
	}
	return keyRange{lo: e.Prefix.Addr().AsSlice(), hi: lastAddr(e.Prefix).AsSlice(), timeout: e.Timeout}
}

func be16(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }

// nextKey returns k+1, or false when k is the largest key.
func nextKey(k []byte) ([]byte, bool) {
	n := bytes.Clone(k)
	for i := len(n) - 1; i >= 0; i-- {
		n[i]++
		if n[i] != 0 {
			return n, true
		}
	}
	return nil, false
}

// setElements encodes a set's elements as nft does. An interval set holds
// each range as a start element and an end element one past its last key
// (flag interval-end; only the start carries the timeout); a range that
// reaches the top of the key space has no end element. When the lowest
// range does not start at zero, nft first sends an end element at zero, and
// so do we:
//
//	10.20.99.0/24 → [ end 0.0.0.0 ] [ 10.20.99.0 ] [ end 10.20.100.0 ]
//	0.0.0.0/0     → [ 0.0.0.0 ]
//	8000-8100     → [ end 0 ] [ 8000 ] [ end 8101 ]
//
// nft also tags an open-ended start element with the user data
// NFTNL_UDATA_SET_ELEM_FLAGS=interval-open; google/nftables v0.3.0 cannot
// send element user data other than a comment, and `nft list` prints the
// same text without it.
func setElements(s Set) []nftables.SetElement {
	ranges := make([]keyRange, len(s.Elements))
	for i, e := range s.Elements {
		ranges[i] = elementRange(s.Type, e)
	}
	sort.Slice(ranges, func(i, j int) bool { return bytes.Compare(ranges[i].lo, ranges[j].lo) < 0 })
	var out []nftables.SetElement
	if !s.Interval {
		for _, r := range ranges {
			out = append(out, nftables.SetElement{Key: r.lo, Timeout: r.timeout})
		}
		return out
	}
	if len(ranges) > 0 && !isZero(ranges[0].lo) {
		out = append(out, nftables.SetElement{Key: make([]byte, len(ranges[0].lo)), IntervalEnd: true})
	}
	for _, r := range ranges {
		out = append(out, nftables.SetElement{Key: r.lo, Timeout: r.timeout})
		if end, ok := nextKey(r.hi); ok {
			out = append(out, nftables.SetElement{Key: end, IntervalEnd: true})
		}
	}
	return out
}

func isZero(b []byte) bool { return len(bytes.Trim(b, "\x00")) == 0 }

// ifnameLo is "lo" as the kernel compares interface names: IFNAMSIZ bytes,
// NUL-padded.
var ifnameLo = append([]byte("lo"), make([]byte, unix.IFNAMSIZ-2)...)

// iifname "lo" → [ meta load iifname => reg 1 ] [ cmp eq reg 1 0x00006f6c 0x00000000 0x00000000 0x00000000 ]
// oifname "lo" → the same with meta oifname (output chains).
func loopbackMatch(h Hook) []expr.Any {
	key := expr.MetaKeyIIFNAME
	if h == HookOutput {
		key = expr.MetaKeyOIFNAME
	}
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifnameLo},
	}
}

// The nfproto dependency of an address match, once per rule:
//
//	ip …  → [ meta load nfproto => reg 1 ] [ cmp eq reg 1 0x00000002 ]
//	ip6 … → [ meta load nfproto => reg 1 ] [ cmp eq reg 1 0x0000000a ]
func nfprotoMatch(family uint8) []expr.Any {
	proto := byte(unix.NFPROTO_IPV4)
	if family == 6 {
		proto = unix.NFPROTO_IPV6
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
	}
}

// Address lookups, after nfprotoMatch:
//
//	ip saddr @S  → [ payload load 4b @ network header + 12 => reg 1 ] [ lookup reg 1 set S ]
//	ip daddr @S  → [ payload load 4b @ network header + 16 => reg 1 ] [ lookup reg 1 set S ]
//	ip6 saddr @S → [ payload load 16b @ network header + 8 => reg 1 ] [ lookup reg 1 set S ]
//	ip6 daddr @S → [ payload load 16b @ network header + 24 => reg 1 ] [ lookup reg 1 set S ]
func addrLookup(family uint8, dst bool, set string, id uint32) []expr.Any {
	off, n := uint32(12), uint32(4)
	if dst {
		off = 16
	}
	if family == 6 {
		off, n = 8, 16
		if dst {
			off = 24
		}
	}
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
		&expr.Lookup{SourceRegister: 1, SetName: set, SetID: id},
	}
}

// The l4proto dependency of a port match, once per rule:
//
//	tcp … → [ meta load l4proto => reg 1 ] [ cmp eq reg 1 0x00000006 ]
//	udp … → [ meta load l4proto => reg 1 ] [ cmp eq reg 1 0x00000011 ]
func l4protoMatch(l4 L4) []expr.Any {
	proto := byte(unix.IPPROTO_TCP)
	if l4 == L4UDP {
		proto = unix.IPPROTO_UDP
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
	}
}

// Port lookups, after l4protoMatch:
//
//	tcp sport @P → [ payload load 2b @ transport header + 0 => reg 1 ] [ lookup reg 1 set P ]
//	tcp dport @P → [ payload load 2b @ transport header + 2 => reg 1 ] [ lookup reg 1 set P ]
func portLookup(dst bool, set string, id uint32) []expr.Any {
	off := uint32(0)
	if dst {
		off = 2
	}
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: off, Len: 2},
		&expr.Lookup{SourceRegister: 1, SetName: set, SetID: id},
	}
}

// accept → [ immediate reg 0 accept ];  drop → [ immediate reg 0 drop ]
func verdictExpr(v Verdict) expr.Any {
	if v == Drop {
		return &expr.Verdict{Kind: expr.VerdictDrop}
	}
	return &expr.Verdict{Kind: expr.VerdictAccept}
}

// ruleExprs builds a rule's expressions in RuleText's order: loopback,
// addresses (saddr, daddr), ports (sport, dport), verdict. ids maps set
// names to their IDs in the batch; a name it lacks gets ID 0, so the kernel
// resolves it by name only.
func ruleExprs(h Hook, r Rule, ids map[string]uint32) []expr.Any {
	var ex []expr.Any
	if r.Loopback {
		ex = append(ex, loopbackMatch(h)...)
	}
	if r.SrcSet != "" || r.DstSet != "" {
		ex = append(ex, nfprotoMatch(r.Family)...)
		if r.SrcSet != "" {
			ex = append(ex, addrLookup(r.Family, false, r.SrcSet, ids[r.SrcSet])...)
		}
		if r.DstSet != "" {
			ex = append(ex, addrLookup(r.Family, true, r.DstSet, ids[r.DstSet])...)
		}
	}
	if r.L4 != L4Any && (r.SPort != "" || r.DPort != "") {
		ex = append(ex, l4protoMatch(r.L4)...)
		if r.SPort != "" {
			ex = append(ex, portLookup(false, r.SPort, ids[r.SPort])...)
		}
		if r.DPort != "" {
			ex = append(ex, portLookup(true, r.DPort, ids[r.DPort])...)
		}
	}
	return append(ex, verdictExpr(r.Verdict))
}

// comment "C" → userdata = { \x00<len>C\x00 }: the NFTNL_UDATA_RULE_COMMENT
// TLV nft writes.
func ruleUserData(comment string) []byte {
	if comment == "" {
		return nil
	}
	return userdata.AppendString(nil, userdata.TypeComment, comment)
}

// validate is the shared ruleset check (see Ruleset.Validate), plus the
// set types this applier knows how to encode.
func validate(rs Ruleset) error {
	if err := rs.Validate(); err != nil {
		return err
	}
	for _, set := range rs.Sets {
		if _, err := keyType(set.Type); err != nil {
			return fmt.Errorf("set %q: %w", set.Name, err)
		}
	}
	return nil
}
