//go:build linux

package contain

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"reflect"
	"sort"
	"time"

	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Decoding what the kernel lists into Ruleset values: the inverse of
// nft_encode_linux.go. nft_read_linux.go fetches the messages.

// drift builds an ErrDrift error.
func drift(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrDrift, fmt.Sprintf(format, a...))
}

// rawElement is one element as the kernel lists it.
type rawElement struct {
	key     []byte
	end     bool          // flag interval-end
	timeout time.Duration // time left before the kernel removes it; 0 if it never expires
}

// elementsFromRaw turns the kernel's elements back into the ones Apply
// wrote. In an interval set each start element is closed by the next end
// element; a start with no end reaches the top of the key space. End
// elements with no open start are the leading end element nft sends, or
// the end of a range whose start has expired and which the kernel has not
// collected yet: they match nothing and are skipped.
func elementsFromRaw(s Set, raws []rawElement) ([]Element, error) {
	keyLen := map[SetType]int{SetIPv4: 4, SetIPv6: 16, SetPort: 2}[s.Type]
	for _, e := range raws {
		if len(e.key) != keyLen {
			return nil, drift("element key of %d bytes in a set of type %s", len(e.key), setTypeName(s.Type))
		}
	}
	sort.SliceStable(raws, func(i, j int) bool {
		if c := bytes.Compare(raws[i].key, raws[j].key); c != 0 {
			return c < 0
		}
		return raws[i].end && !raws[j].end
	})
	var out []Element
	if !s.Interval {
		for _, e := range raws {
			if e.end {
				return nil, drift("interval end element in a set without flag interval")
			}
			el, err := elementOf(s.Type, e.key, e.key, e.timeout)
			if err != nil {
				return nil, err
			}
			out = append(out, el)
		}
		return out, nil
	}
	var open *rawElement
	for i := range raws {
		e := &raws[i]
		switch {
		case !e.end && open != nil:
			return nil, drift("two interval starts in a row")
		case !e.end:
			open = e
		case open != nil:
			last := bytes.Clone(e.key)
			decrement(last)
			el, err := elementOf(s.Type, open.key, last, open.timeout)
			if err != nil {
				return nil, err
			}
			out = append(out, el)
			open = nil
		}
	}
	if open != nil {
		top := bytes.Repeat([]byte{0xff}, keyLen)
		el, err := elementOf(s.Type, open.key, top, open.timeout)
		if err != nil {
			return nil, err
		}
		out = append(out, el)
	}
	return out, nil
}

func decrement(k []byte) {
	for i := len(k) - 1; i >= 0; i-- {
		k[i]--
		if k[i] != 0xff {
			return
		}
	}
}

// elementOf makes the Element covering lo..hi (inclusive).
func elementOf(t SetType, lo, hi []byte, timeout time.Duration) (Element, error) {
	if t == SetPort {
		return Element{Port: binary.BigEndian.Uint16(lo), PortEnd: binary.BigEndian.Uint16(hi), Timeout: timeout}, nil
	}
	first, _ := netip.AddrFromSlice(lo)
	last, _ := netip.AddrFromSlice(hi)
	for bits := 0; bits <= first.BitLen(); bits++ {
		p := netip.PrefixFrom(first, bits)
		if p.Masked().Addr() == first && lastAddr(p) == last {
			return Element{Prefix: p, Timeout: timeout}, nil
		}
	}
	return Element{}, drift("address range %s-%s is not a prefix", first, last)
}

// decodeExpr decodes one expression of the kinds the encoder writes.
func decodeExpr(b []byte) (expr.Any, error) {
	var name string
	var data []byte
	err := walkAttrs(b, func(ad *netlink.AttributeDecoder) error {
		switch ad.Type() {
		case unix.NFTA_EXPR_NAME:
			name = ad.String()
		case unix.NFTA_EXPR_DATA:
			data = ad.Bytes()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var e expr.Any
	switch name {
	case "meta":
		e = &expr.Meta{}
	case "cmp":
		e = &expr.Cmp{}
	case "payload":
		e = &expr.Payload{}
	case "lookup":
		e = &expr.Lookup{}
	case "immediate":
		imm := &expr.Immediate{}
		if err := expr.Unmarshal(unix.NFPROTO_INET, data, imm); err != nil {
			return nil, err
		}
		if imm.Register != unix.NFT_REG_VERDICT || len(imm.Data) != 0 {
			return nil, drift("an immediate that is not a verdict")
		}
		e = &expr.Verdict{}
	default:
		return nil, drift("expression %q", name)
	}
	if err := expr.Unmarshal(unix.NFPROTO_INET, data, e); err != nil {
		return nil, err
	}
	return e, nil
}

// decodeRule inverts ruleExprs: it reads the expressions as a Rule, then
// encodes that Rule again and requires the same expressions, so whatever it
// returns, Apply would write back identically.
func decodeRule(h Hook, ex []expr.Any, udata []byte) (Rule, error) {
	var r Rule
	at := func(i int) expr.Any {
		if i < len(ex) {
			return ex[i]
		}
		return nil
	}
	for i := 0; i < len(ex); {
		switch e := ex[i].(type) {
		case *expr.Meta:
			c, ok := at(i + 1).(*expr.Cmp)
			if !ok || len(c.Data) == 0 {
				return r, drift("meta %d without a comparison", e.Key)
			}
			i += 2
			switch e.Key {
			case expr.MetaKeyIIFNAME, expr.MetaKeyOIFNAME:
				r.Loopback = true
			case expr.MetaKeyNFPROTO:
				r.Family = map[byte]uint8{unix.NFPROTO_IPV4: 4, unix.NFPROTO_IPV6: 6}[c.Data[0]]
				for ; ; i += 2 {
					p, ok1 := at(i).(*expr.Payload)
					l, ok2 := at(i + 1).(*expr.Lookup)
					if !ok1 || !ok2 || p.Base != expr.PayloadBaseNetworkHeader {
						break
					}
					if p.Offset == 12 || p.Offset == 8 {
						r.SrcSet = l.SetName
					} else {
						r.DstSet = l.SetName
					}
				}
			case expr.MetaKeyL4PROTO:
				r.L4 = map[byte]L4{unix.IPPROTO_TCP: L4TCP, unix.IPPROTO_UDP: L4UDP}[c.Data[0]]
				for ; ; i += 2 {
					p, ok1 := at(i).(*expr.Payload)
					l, ok2 := at(i + 1).(*expr.Lookup)
					if !ok1 || !ok2 || p.Base != expr.PayloadBaseTransportHeader {
						break
					}
					if p.Offset == 0 {
						r.SPort = l.SetName
					} else {
						r.DPort = l.SetName
					}
				}
			default:
				return r, drift("match on meta %d", e.Key)
			}
		case *expr.Verdict:
			if i != len(ex)-1 || (e.Kind != expr.VerdictAccept && e.Kind != expr.VerdictDrop) {
				return r, drift("verdict %d", e.Kind)
			}
			r.Verdict = Accept
			if e.Kind == expr.VerdictDrop {
				r.Verdict = Drop
			}
			i++
		default:
			return r, drift("%T where a match or verdict belongs", e)
		}
	}
	if len(ex) == 0 {
		return r, drift("a rule without a verdict")
	}
	if n := len(udata); n > 0 {
		if n < 3 || udata[0] != byte(0) || int(udata[1]) != n-2 {
			return r, drift("rule user data that is not one comment")
		}
		r.Comment = string(udata[2 : n-1])
	}
	want := ruleExprs(h, r, nil)
	got := make([]expr.Any, len(ex))
	for i, e := range ex {
		if l, ok := e.(*expr.Lookup); ok {
			c := *l
			c.SetID = 0 // the kernel lists set names only
			e = &c
		}
		got[i] = e
	}
	if !reflect.DeepEqual(want, got) || !bytes.Equal(ruleUserData(r.Comment), udata) {
		return r, drift("a rule that does not read back as %q", RuleText(h, r))
	}
	return r, nil
}
