package importer

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
)

// Linux conntrack tables: /proc/net/nf_conntrack (with the L3 columns
// "ipv4 2"), `conntrack -L` (without them, or with them under -o extended),
// and `conntrack -E -o timestamp` event streams ("[1790253007.123456]
// [NEW] …"). Columns are space-padded; the timeout is absent for offloaded
// flows and the state word for UDP and ICMP; packets= and bytes= appear only
// with accounting on. The original tuple is the initiator. DNAT shows as a
// reply source that differs from the original destination (a Kubernetes
// ClusterIP → pod): the reply source is the real server. SNAT shows as a
// reply destination that differs from the original source. TCP entries
// still [UNREPLIED] are attempts; UDP ones are one-way traffic. IPv6
// addresses in /proc are printed in full (2001:0db8:0000:…) and are
// normalised. The conntrack tool's summary line ("conntrack v1.4.7
// (conntrack-tools): 46 flow entries have been shown.") often lands in
// captured files and is ignored.
var conntrackFormat = Format{Name: "conntrack", Detect: detectConntrack, Parse: parseConntrack, Flow: true}

// maxConntrackFields bounds the tokens of one entry.
const maxConntrackFields = 64

// conntrackL4 names the layer-4 protocols /proc and conntrack print.
var conntrackL4 = map[string]bool{
	"tcp": true, "udp": true, "udplite": true, "icmp": true, "icmpv6": true, "sctp": true,
	"gre": true, "dccp": true, "unknown": true,
}

// conntrackEntry is one parsed line, before it becomes a record.
type conntrackEntry struct {
	ts        int64 // -o timestamp prefix, seconds
	event     flowEvent
	update    bool
	proto     uint8
	tuple     [2]conntrackTuple // original, reply
	unreplied bool
	delta     int64 // delta-time=: seconds since the entry was created
}

type conntrackTuple struct {
	src, dst       netip.Addr
	sport, dport   uint16
	packets, bytes uint64
	hasSrc         bool
}

// conntrackPrefix reads the columns before the tuples; it returns the index
// of the first tuple token, or -1 when fields are not a conntrack entry.
func conntrackPrefix(f [][]byte, e *conntrackEntry) int {
	i := 0
	if i < len(f) && len(f[i]) > 2 && f[i][0] == '[' && f[i][len(f[i])-1] == ']' {
		if ts, ok := parseEpoch(f[i][1 : len(f[i])-1]); ok {
			e.ts = ts
			i++
		}
	}
	if i < len(f) {
		switch string(f[i]) {
		case "[NEW]":
			e.event, i = eventStart, i+1
		case "[DESTROY]":
			e.event, i = eventEnd, i+1
		case "[UPDATE]":
			e.update, i = true, i+1
		}
	}
	if i+1 < len(f) {
		switch string(f[i]) {
		case "ipv4", "ipv6", "unknown":
			if _, ok := parseUint(f[i+1]); ok && i+2 < len(f) && conntrackL4[string(f[i+2])] {
				i += 2
			}
		}
	}
	if i+1 >= len(f) || !conntrackL4[string(f[i])] {
		return -1
	}
	n, ok := parseUint(f[i+1])
	if !ok || n > 255 {
		return -1
	}
	e.proto = uint8(n)
	i += 2
	if i < len(f) {
		if _, ok := parseUint(f[i]); ok {
			i++ // the timeout; absent for offloaded flows
		}
	}
	if i < len(f) && len(f[i]) > 0 && f[i][0] >= 'A' && f[i][0] <= 'Z' && bytes.IndexByte(f[i], '=') < 0 {
		i++ // the state word; absent for UDP and ICMP
	}
	if i >= len(f) || bytes.IndexByte(f[i], '=') < 0 { // GRE: "timeout=180, stream_timeout=18000 src=…"
		return -1
	}
	return i
}

func detectConntrack(_ string, head []byte) bool {
	lines := headLines(head, 5)
	var buf [maxConntrackFields][]byte
	for _, l := range lines {
		if bytes.HasPrefix(l, []byte("conntrack v")) {
			continue
		}
		f, _ := splitFields(l, buf[:0])
		var e conntrackEntry
		return conntrackPrefix(f, &e) >= 0 && bytes.Contains(l, []byte(" dst="))
	}
	return false
}

type conntrackParser struct {
	*flowParse
	fields  [maxConntrackFields][]byte
	rec     flowRecord
	summary uint64
	updates uint64
}

func parseConntrack(ctx context.Context, in Input, c *Context) (*Fragment, error) {
	fp := newFlowParse(ctx, "conntrack", in, c)
	p := &conntrackParser{flowParse: fp}
	for {
		line, ok := p.next()
		if !ok {
			break
		}
		if !p.line(line) {
			break
		}
	}
	if p.summary > 0 {
		p.agg.note("ignored: %s of the conntrack tool", plural(p.summary, "summary line", "summary lines"))
	}
	if p.updates > 0 {
		p.agg.note("ignored: %s (state changes of entries already counted)", plural(p.updates, "[UPDATE] event", "[UPDATE] events"))
	}
	return p.finish()
}

func (p *conntrackParser) line(line []byte) bool {
	f, ok := splitFields(line, p.fields[:0])
	if len(f) == 0 {
		return true
	}
	if string(f[0]) == "conntrack" {
		p.summary++
		return true
	}
	p.rec = flowRecord{}
	p.rep.Records++
	if !ok {
		return p.skip(fmt.Sprintf("more than %d fields", maxConntrackFields))
	}
	var e conntrackEntry
	i := conntrackPrefix(f, &e)
	if i < 0 {
		return p.skip("not a conntrack entry: " + quote(line))
	}
	if e.update {
		p.updates++
		return true
	}
	t := 0
	for _, tok := range f[i:] {
		if tok[0] == '[' {
			if string(tok) == "[UNREPLIED]" {
				e.unreplied = true
			}
			continue
		}
		k, v, found := bytes.Cut(tok, []byte("="))
		if !found {
			return p.skip("token " + quote(tok))
		}
		tu := &e.tuple[t]
		switch string(k) {
		case "src":
			if tu.hasSrc {
				if t == 1 {
					return p.skip("three tuples")
				}
				t++
				tu = &e.tuple[t]
			}
			if tu.src, ok = parseAddrBytes(v); !ok {
				return p.skip("src " + quote(v))
			}
			tu.hasSrc = true
		case "dst":
			if tu.dst, ok = parseAddrBytes(v); !ok {
				return p.skip("dst " + quote(v))
			}
		case "sport":
			if tu.sport, ok = parsePort(v); !ok {
				return p.skip("sport " + quote(v))
			}
		case "dport":
			if tu.dport, ok = parsePort(v); !ok {
				return p.skip("dport " + quote(v))
			}
		case "packets":
			if tu.packets, ok = parseUint(v); !ok {
				return p.skip("packets " + quote(v))
			}
		case "bytes":
			if tu.bytes, ok = parseUint(v); !ok {
				return p.skip("bytes " + quote(v))
			}
		case "delta-time":
			d, ok := parseUint(v)
			if !ok || d > 1<<40 {
				return p.skip("delta-time " + quote(v))
			}
			e.delta = int64(d)
		}
	}
	orig, reply := &e.tuple[0], &e.tuple[1]
	if !orig.src.IsValid() || !orig.dst.IsValid() {
		return p.skip("no original src= and dst=")
	}
	r := &p.rec
	r.Proto, r.Initiator, r.Event = e.proto, initSrc, e.event
	r.Src, r.SrcPort, r.Dst, r.DstPort = orig.src, orig.sport, orig.dst, orig.dport
	if reply.src.IsValid() && (reply.src != orig.dst || reply.sport != orig.dport && reply.sport != 0) {
		// DNAT: the reply comes from the real server.
		r.Dst, r.DstPort = reply.src, reply.sport
		r.DstAlias = netip.AddrPortFrom(orig.dst, orig.dport)
	}
	if reply.dst.IsValid() && reply.dst != orig.src {
		r.SrcAlias = reply.dst // SNAT: the server saw this address
	}
	r.Packets, r.Bytes = orig.packets+reply.packets, orig.bytes+reply.bytes
	switch e.event {
	case eventStart:
		r.Start = e.ts
	case eventEnd:
		r.End = e.ts
		if e.ts != 0 && e.delta > 0 && e.delta < e.ts {
			r.Start = e.ts - e.delta
		}
	}
	// A [NEW] event is unreplied by nature (the SYN was just sent); only an
	// entry that is listed or destroyed unreplied went unanswered.
	if e.unreplied && r.Proto != protoUDP && e.event != eventStart {
		r.Outcome = outcomeUnanswered
	}
	p.agg.add(r)
	return true
}
