package importer

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"
)

// NetFlow/IPFIX exported by nfdump as CSV. Columns come from the header
// line, by name: nfdump 1.7's -o csv (firstSeen,duration,proto,srcAddr,…),
// its user-defined csv formats (-o csv:%ts,%sa,… with the same names),
// csv-fast (cnt,af,firstSeen,lastSeen,… with epoch milliseconds), and 1.6's
// fixed 48 columns (ts,te,td,sa,da,sp,dp,pr,flg,…) followed by a Summary
// trailer, where reading stops. Protocols are numbers or names; flags are
// letters (".A..S.", "...AP.SF") or 1.6 bit strings ("000010" = SYN);
// timestamps are local time ("2024-05-01 12:00:00.123", as nfdump prints
// them: read in the importing machine's zone) or epoch seconds (%tsr).
// Flows are one-way: the initiator is known only when the flags say so (SYN
// without ACK: the client, unanswered); a flow of a bare RST is a refusal.
var nfdumpFormat = Format{Name: "nfdump", Detect: detectNfdump, Parse: parseNfdump, Flow: true}

// maxNfdumpFields bounds the columns of one line (1.6 has 48).
const maxNfdumpFields = 128

// nfdumpRoles maps header names (1.6 short names and 1.7 CSV names) to
// what the importer reads.
var nfdumpRoles = map[string]string{
	"ts": "first", "firstSeen": "first", "te": "last", "lastSeen": "last", "td": "duration", "duration": "duration",
	"sa": "src", "srcAddr": "src", "da": "dst", "dstAddr": "dst", "sp": "sport", "srcPort": "sport",
	"dp": "dport", "dstPort": "dport", "pr": "proto", "proto": "proto", "flg": "flags", "flags": "flags",
	"ipkt": "packets", "packets": "packets", "inPackets": "packets", "opkt": "opackets", "outPackets": "opackets",
	"ibyt": "bytes", "bytes": "bytes", "inBytes": "bytes", "obyt": "obytes", "outBytes": "obytes",
	"fl": "flows", "flows": "flows",
}

type nfdumpColumns struct {
	n     int
	index map[string]int
}

func (c nfdumpColumns) at(role string) int {
	if i, ok := c.index[role]; ok {
		return i
	}
	return -1
}

// nfdumpHeader reads a header line; ok is false when the line is not one.
func nfdumpHeader(line []byte) (nfdumpColumns, bool) {
	if bytes.IndexByte(line, ',') < 0 || bytes.ContainsAny(line, " \t") {
		return nfdumpColumns{}, false
	}
	names := strings.Split(string(line), ",")
	if len(names) > maxNfdumpFields {
		return nfdumpColumns{}, false
	}
	c := nfdumpColumns{n: len(names), index: map[string]int{}}
	for i, n := range names {
		if role, ok := nfdumpRoles[n]; ok {
			if _, dup := c.index[role]; !dup {
				c.index[role] = i
			}
		}
	}
	return c, c.at("src") >= 0 && c.at("dst") >= 0
}

func detectNfdump(_ string, head []byte) bool {
	lines := headLines(head, 1)
	if len(lines) == 0 {
		return false
	}
	_, ok := nfdumpHeader(lines[0])
	return ok
}

type nfdumpParser struct {
	*flowParse
	loc     *time.Location
	cols    nfdumpColumns
	have    bool
	fields  [maxNfdumpFields][]byte
	rec     flowRecord
	trailer bool
}

func parseNfdump(ctx context.Context, in Input, c *Context) (*Fragment, error) {
	return parseNfdumpIn(ctx, in, c, time.Local)
}

// parseNfdumpIn parses with timestamps read in loc.
func parseNfdumpIn(ctx context.Context, in Input, c *Context, loc *time.Location) (*Fragment, error) {
	fp := newFlowParse(ctx, "nfdump", in, c)
	p := &nfdumpParser{flowParse: fp, loc: loc}
	for {
		line, ok := p.next()
		if !ok {
			break
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if string(bytes.TrimSpace(line)) == "Summary" {
			p.trailer = true
			break // nfdump 1.6: totals follow, not flows
		}
		if cols, ok := nfdumpHeader(line); ok {
			p.cols, p.have = cols, true
			continue
		}
		if !p.line(line) {
			break
		}
	}
	if p.trailer {
		p.agg.note("stopped at the Summary trailer (nfdump 1.6 totals)")
	}
	return p.finish()
}

func (p *nfdumpParser) line(line []byte) bool {
	p.rep.Records++
	if !p.have {
		return p.skip("record before a header line")
	}
	f, ok := splitSep(line, ',', p.fields[:0])
	if !ok || len(f) != p.cols.n {
		return p.skip(fmt.Sprintf("%d columns, the header names %d", len(f), p.cols.n))
	}
	c := &p.cols
	r := &p.rec
	*r = flowRecord{}
	get := func(role string) []byte {
		if i := c.at(role); i >= 0 {
			return bytes.TrimSpace(f[i])
		}
		return nil
	}
	if r.Src, ok = parseAddrBytes(get("src")); !ok {
		return p.skip("source address " + quote(get("src")))
	}
	if r.Dst, ok = parseAddrBytes(get("dst")); !ok {
		return p.skip("destination address " + quote(get("dst")))
	}
	if v := get("proto"); v != nil {
		if r.Proto, ok = nfdumpProto(v); !ok {
			return p.skip("protocol " + quote(v))
		}
	}
	icmp := r.Proto == protoICMP || r.Proto == protoICMPv6
	if v := get("sport"); v != nil {
		if r.SrcPort, ok = parsePort(v); !ok && !icmp {
			return p.skip("source port " + quote(v))
		}
	}
	if v := get("dport"); v != nil {
		if r.DstPort, ok = parsePort(v); !ok && !icmp { // ICMP: "type.code"
			return p.skip("destination port " + quote(v))
		}
	}
	var n [5]uint64
	for i, role := range []string{"packets", "opackets", "bytes", "obytes", "flows"} {
		if v := get(role); v != nil {
			if n[i], ok = parseUint(v); !ok {
				return p.skip(role + " " + quote(v))
			}
		}
	}
	r.Packets, r.Bytes, r.Count = n[0]+n[1], n[2]+n[3], n[4]
	if v := get("first"); v != nil {
		if r.Start, ok = nfdumpTime(v, p.loc); !ok {
			return p.skip("first seen " + quote(v))
		}
	}
	if v := get("last"); v != nil {
		if r.End, ok = nfdumpTime(v, p.loc); !ok {
			return p.skip("last seen " + quote(v))
		}
	} else if v := get("duration"); v != nil && r.Start != 0 {
		d, ok := parseEpoch(v)
		if !ok {
			return p.skip("duration " + quote(v))
		}
		r.End = r.Start + d
	}
	if v := get("flags"); v != nil && r.Proto == protoTCP {
		flags, ok := nfdumpFlags(v)
		if !ok {
			return p.skip("flags " + quote(v))
		}
		const fin, syn, rst, psh, ack = 0x01, 0x02, 0x04, 0x08, 0x10
		switch {
		case flags&syn != 0 && flags&ack == 0: // a SYN nobody acknowledged
			r.Initiator, r.Outcome = initSrc, outcomeUnanswered
		case flags&rst != 0 && flags&(syn|psh|fin) == 0: // a bare reset: a refusal
			r.Outcome = outcomeRejected
		}
	}
	p.agg.add(r)
	return true
}

// nfdumpProto reads a protocol number or name.
func nfdumpProto(b []byte) (uint8, bool) {
	if n, ok := parseUint(b); ok {
		return uint8(n), n <= 255
	}
	switch strings.ToUpper(string(b)) {
	case "TCP":
		return protoTCP, true
	case "UDP":
		return protoUDP, true
	case "ICMP":
		return protoICMP, true
	case "ICMP6", "ICMPV6", "IPV6-ICMP":
		return protoICMPv6, true
	case "GRE":
		return 47, true
	case "ESP":
		return 50, true
	case "AH":
		return 51, true
	case "SCTP":
		return 132, true
	}
	if len(b) > 0 && len(b) <= 16 {
		return 255, true // a protocol nfdump names and that has no ports here
	}
	return 0, false
}

// nfdumpFlags reads TCP flags: letters (C E U A P R S F, dots for unset,
// 1.7's 8 and 1.6's 6 positions), a 1.6 bit string ("000010" = SYN, FIN
// last), or a number (0x12 or 18).
func nfdumpFlags(b []byte) (uint8, bool) {
	if bytes.HasPrefix(b, []byte("0x")) {
		var n uint64
		for _, c := range b[2:] {
			switch {
			case c >= '0' && c <= '9':
				n = n*16 + uint64(c-'0')
			case c >= 'a' && c <= 'f':
				n = n*16 + uint64(c-'a'+10)
			case c >= 'A' && c <= 'F':
				n = n*16 + uint64(c-'A'+10)
			default:
				return 0, false
			}
			if n > 0xff {
				return 0, false
			}
		}
		return uint8(n), len(b) > 2
	}
	if len(b) == 6 || len(b) == 8 || len(b) == 9 {
		bits := true
		for _, c := range b {
			bits = bits && (c == '0' || c == '1')
		}
		if bits {
			var n uint8
			for _, c := range b[max(0, len(b)-8):] {
				n = n<<1 | (c - '0')
			}
			return n, true
		}
	}
	if n, ok := parseUint(b); ok {
		return uint8(n), n <= 0xff
	}
	var n uint8
	for _, c := range b {
		switch c {
		case '.':
		case 'C':
			n |= 0x80
		case 'E':
			n |= 0x40
		case 'U':
			n |= 0x20
		case 'A':
			n |= 0x10
		case 'P':
			n |= 0x08
		case 'R':
			n |= 0x04
		case 'S':
			n |= 0x02
		case 'F':
			n |= 0x01
		default:
			return 0, false
		}
	}
	return n, len(b) > 0
}

// nfdumpTime reads "YYYY-MM-DD hh:mm:ss[.mmm]" in loc (all zeros: unknown),
// epoch seconds with a fraction (%tsr), or epoch milliseconds (csv-fast).
func nfdumpTime(b []byte, loc *time.Location) (int64, bool) {
	if len(b) >= 19 && b[4] == '-' && b[7] == '-' && b[10] == ' ' && b[13] == ':' && b[16] == ':' {
		var v [6]int
		for i, span := range [6][2]int{{0, 4}, {5, 7}, {8, 10}, {11, 13}, {14, 16}, {17, 19}} {
			n, ok := parseUint(b[span[0]:span[1]])
			if !ok {
				return 0, false
			}
			v[i] = int(n)
		}
		if rest := b[19:]; len(rest) > 0 {
			if _, ok := parseUint(rest[1:]); rest[0] != '.' || !ok {
				return 0, false
			}
		}
		if v == [6]int{} {
			return 0, true
		}
		if v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 60 {
			return 0, false
		}
		return time.Date(v[0], time.Month(v[1]), v[2], v[3], v[4], v[5], 0, loc).Unix(), true
	}
	if bytes.IndexByte(b, '.') < 0 {
		if n, ok := parseUint(b); ok && n > 1e11 { // csv-fast: milliseconds
			return int64(n / 1000), n < 1<<50
		}
	}
	return parseEpoch(b)
}
