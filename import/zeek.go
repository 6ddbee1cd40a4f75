package importer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"time"
)

// Zeek conn.log, as TSV ("Zeek ASCII") or JSON lines. TSV columns come from
// the #fields header, never from positions: users add columns and Zeek 7.1
// added ip_proto. A stream may hold several header blocks (concatenated or
// rotated files) with different fields, a banner before #separator, no
// #close; values may be unset ("-"), empty ("(empty)"), \xHH-escaped, and
// timestamps masked (XXXXXXXXXX.XXXXXX in Zeek's own test baselines). The
// originator opened the connection unless the history has "^" (Zeek flipped
// the direction by guess) or the state is OTH (midstream): then the ports
// decide. TCP states S0, SH and RSTOS0 (nobody answered) and REJ (refused)
// are attempts, not dependencies; UDP S0 is one-way traffic (syslog, statsd,
// NetFlow export) and stays an edge: UDP has no handshake to fail.
var zeekFormat = Format{Name: "zeek", Detect: detectZeek, Parse: parseZeek, Flow: true}

// maxZeekFields bounds the columns of one line.
const maxZeekFields = 128

// zeekColumns maps the columns this importer reads; -1 when absent.
type zeekColumns struct {
	n                                     int
	ts, origH, origP, respH, respP        int
	proto, ipProto, duration, state, hist int
	origBytes, respBytes, origIP, respIP  int
}

func zeekColumnsOf(names []string) (zeekColumns, error) {
	c := zeekColumns{n: len(names)}
	at := map[string]*int{"ts": &c.ts, "id.orig_h": &c.origH, "id.orig_p": &c.origP, "id.resp_h": &c.respH,
		"id.resp_p": &c.respP, "proto": &c.proto, "ip_proto": &c.ipProto, "duration": &c.duration,
		"conn_state": &c.state, "history": &c.hist, "orig_bytes": &c.origBytes, "resp_bytes": &c.respBytes,
		"orig_ip_bytes": &c.origIP, "resp_ip_bytes": &c.respIP}
	for _, p := range at {
		*p = -1
	}
	for i, n := range names {
		if p, ok := at[n]; ok && *p < 0 {
			*p = i
		}
	}
	switch {
	case c.origH < 0 || c.respH < 0:
		return c, fmt.Errorf("#fields lacks id.orig_h or id.resp_h")
	case c.proto < 0 && c.ipProto < 0:
		return c, fmt.Errorf("#fields lacks proto and ip_proto")
	}
	return c, nil
}

// zeekUnescape decodes \xHH escapes (allocating only when there is one).
func zeekUnescape(b []byte) []byte {
	if bytes.IndexByte(b, '\\') < 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+3 < len(b) && b[i+1] == 'x' {
			if v, err := strconv.ParseUint(string(b[i+2:i+4]), 16, 8); err == nil {
				out = append(out, byte(v))
				i += 3
				continue
			}
		}
		out = append(out, b[i])
	}
	return out
}

// zeekDirective splits a header line "#keyword<sep>value..." (the keyword
// may also end at a space: "#separator \x09", and masked "#open XXXX").
func zeekDirective(line []byte, sep byte) (key, rest []byte) {
	line = line[1:]
	for i, c := range line {
		if c == sep || c == ' ' {
			return line[:i], line[i+1:]
		}
	}
	return line, nil
}

func detectZeek(_ string, head []byte) bool {
	lines := headLines(head, 40)
	if len(lines) == 0 {
		return false
	}
	if lines[0][0] == '{' {
		var m map[string]json.RawMessage
		if json.Unmarshal(lines[0], &m) != nil {
			return false
		}
		if path, ok := m["_path"]; ok && string(path) != `"conn"` {
			return false
		}
		_, oh := m["id.orig_h"]
		_, rh := m["id.resp_h"]
		if id, ok := m["id"]; ok && !oh {
			var nested map[string]json.RawMessage
			if json.Unmarshal(id, &nested) == nil {
				_, oh = nested["orig_h"]
				_, rh = nested["resp_h"]
			}
		}
		_, proto := m["proto"]
		_, state := m["conn_state"]
		return oh && rh && (proto || state)
	}
	sep := byte('\t')
	seenHeader := false
	for _, l := range lines {
		if l[0] != '#' {
			if seenHeader {
				return false // data before #fields
			}
			continue // a banner line before the header
		}
		key, rest := zeekDirective(l, sep)
		switch string(key) {
		case "separator":
			if v := zeekUnescape(bytes.TrimSpace(rest)); len(v) == 1 {
				sep = v[0]
			}
			seenHeader = true
		case "path":
			if string(rest) != "conn" {
				return false
			}
			seenHeader = true
		case "fields":
			var buf [maxZeekFields][]byte
			fields, _ := splitSep(rest, sep, buf[:0])
			names := make([]string, len(fields))
			for i, f := range fields {
				names[i] = string(zeekUnescape(f))
			}
			_, err := zeekColumnsOf(names)
			return err == nil
		}
	}
	return false
}

// zeekParser holds the state of one conn.log parse.
type zeekParser struct {
	*flowParse
	sep          byte
	unset, empty []byte
	cols         zeekColumns
	colsErr      error // why the current #fields cannot be read, nil if they can
	haveFields   bool
	otherPath    []byte // #path of the current block when it is not conn
	fields       [maxZeekFields][]byte
	rec          flowRecord

	notConn, masked, jsonOther uint64
}

func parseZeek(ctx context.Context, in Input, c *Context) (*Fragment, error) {
	fp := newFlowParse(ctx, "zeek", in, c)
	p := &zeekParser{flowParse: fp, sep: '\t', unset: []byte("-"), empty: []byte("(empty)")}
	for {
		line, ok := p.next()
		if !ok {
			break
		}
		var cont bool
		switch {
		case len(bytes.TrimSpace(line)) == 0:
			cont = true
		case line[0] == '#':
			cont = p.directive(line)
		case line[0] == '{':
			cont = p.json(line)
		default:
			cont = p.tsv(line)
		}
		if !cont {
			break
		}
	}
	if p.notConn+p.jsonOther > 0 {
		p.agg.note("not flows: %s of other Zeek logs", plural(p.notConn+p.jsonOther, "record", "records"))
	}
	if p.masked > 0 {
		p.agg.note("time: %s with masked or unset timestamps (first/last seen unknown)", plural(p.masked, "record", "records"))
	}
	return p.finish()
}

// directive reads a header line.
func (p *zeekParser) directive(line []byte) bool {
	key, rest := zeekDirective(line, p.sep)
	switch string(key) {
	case "separator":
		v := zeekUnescape(bytes.TrimSpace(rest))
		if len(v) != 1 {
			p.rep.Records++ // a header line that cannot be read counts as a bad record
			return p.skip("#separator " + quote(rest) + " is not one byte")
		}
		p.sep = v[0]
	case "unset_field":
		p.unset = append([]byte(nil), zeekUnescape(rest)...)
	case "empty_field":
		p.empty = append([]byte(nil), zeekUnescape(rest)...)
	case "path":
		p.otherPath = nil
		if string(rest) != "conn" {
			p.otherPath = append([]byte(nil), rest...)
		}
	case "fields":
		fields, ok := splitSep(rest, p.sep, p.fields[:0])
		if !ok {
			// Records of this block are skipped with the reason.
			p.colsErr, p.haveFields = fmt.Errorf("#fields names more than %d columns", maxZeekFields), true
			return true
		}
		names := make([]string, len(fields))
		for i, f := range fields {
			names[i] = string(zeekUnescape(f))
		}
		p.cols, p.colsErr = zeekColumnsOf(names)
		p.haveFields = true
	}
	// #set_separator, #open, #close, #types, banners and comments: nothing to do
	return true
}

// zeekValue returns column i, or nil when absent, unset or empty.
func (p *zeekParser) value(f [][]byte, i int) []byte {
	if i < 0 || bytes.Equal(f[i], p.unset) || bytes.Equal(f[i], p.empty) || len(f[i]) == 0 {
		return nil
	}
	return f[i]
}

func (p *zeekParser) tsv(line []byte) bool {
	p.rep.Records++
	switch {
	case !p.haveFields:
		return p.skip("record before a #fields header")
	case p.otherPath != nil:
		p.notConn++
		return true
	case p.colsErr != nil:
		return p.skip(p.colsErr.Error())
	}
	f, ok := splitSep(line, p.sep, p.fields[:0])
	if !ok || len(f) != p.cols.n {
		return p.skip(fmt.Sprintf("%d columns, #fields names %d", len(f), p.cols.n))
	}
	c := &p.cols
	r := &p.rec
	*r = flowRecord{}
	oh, rh := p.value(f, c.origH), p.value(f, c.respH)
	if r.Src, ok = parseAddrBytes(oh); !ok {
		return p.skip("id.orig_h " + quote(oh))
	}
	if r.Dst, ok = parseAddrBytes(rh); !ok {
		return p.skip("id.resp_h " + quote(rh))
	}
	if v := p.value(f, c.origP); v != nil {
		if r.SrcPort, ok = parsePort(v); !ok {
			return p.skip("id.orig_p " + quote(v))
		}
	}
	if v := p.value(f, c.respP); v != nil {
		if r.DstPort, ok = parsePort(v); !ok {
			return p.skip("id.resp_p " + quote(v))
		}
	}
	proto, ok := zeekProto(p.value(f, c.ipProto), zeekUnescape(p.value(f, c.proto)), r.Dst)
	if !ok {
		return p.skip("protocol " + quote(f[max(c.proto, c.ipProto)]))
	}
	r.Proto = proto
	if v := p.value(f, c.ts); v != nil && v[0] != 'X' {
		if r.Start, ok = parseEpoch(v); !ok {
			return p.skip("ts " + quote(v))
		}
	} else {
		p.masked++
	}
	if v := p.value(f, c.duration); v != nil && r.Start != 0 {
		d, ok := parseEpoch(v)
		if !ok {
			return p.skip("duration " + quote(v))
		}
		r.End = r.Start + d
	}
	var sum [4]uint64
	for i, col := range []int{c.origIP, c.respIP, c.origBytes, c.respBytes} {
		if v := p.value(f, col); v != nil {
			if sum[i], ok = parseUint(v); !ok {
				return p.skip("byte count " + quote(v))
			}
		}
	}
	r.Bytes = sum[0] + sum[1]
	if c.origIP < 0 && c.respIP < 0 {
		r.Bytes = sum[2] + sum[3]
	}
	zeekState(r, zeekUnescape(p.value(f, c.state)), zeekUnescape(p.value(f, c.hist)))
	p.agg.add(r)
	return true
}

// zeekProto reads ip_proto (Zeek 7.1+) or the proto enum.
func zeekProto(ipProto, name []byte, dst netip.Addr) (uint8, bool) {
	if ipProto != nil {
		n, ok := parseUint(ipProto)
		return uint8(n), ok && n <= 255
	}
	switch string(name) {
	case "tcp":
		return protoTCP, true
	case "udp":
		return protoUDP, true
	case "icmp":
		if dst.Is6() {
			return protoICMPv6, true
		}
		return protoICMP, true
	case "unknown_transport":
		return 255, true
	}
	return 0, false
}

// zeekState sets outcome and initiator from conn_state and history.
func zeekState(r *flowRecord, state, history []byte) {
	r.Initiator = initSrc
	if bytes.IndexByte(history, '^') >= 0 || string(state) == "OTH" {
		r.Initiator = initUnknown
	}
	switch string(state) {
	case "REJ":
		r.Outcome = outcomeRejected
	case "S0", "SH", "RSTOS0":
		if r.Proto != protoUDP {
			r.Outcome = outcomeUnanswered
		}
	}
}

// zeekJSON is one NDJSON record. Keys are flat dotted names; the nested
// form ("id": {"orig_h": …}) is read too. Unset fields are omitted.
type zeekJSON struct {
	Path  *string         `json:"_path"`
	TS    json.RawMessage `json:"ts"`
	OrigH string          `json:"id.orig_h"`
	OrigP *uint16         `json:"id.orig_p"`
	RespH string          `json:"id.resp_h"`
	RespP *uint16         `json:"id.resp_p"`
	ID    *struct {
		OrigH string  `json:"orig_h"`
		OrigP *uint16 `json:"orig_p"`
		RespH string  `json:"resp_h"`
		RespP *uint16 `json:"resp_p"`
	} `json:"id"`
	Proto       string   `json:"proto"`
	IPProto     *uint8   `json:"ip_proto"`
	Duration    *float64 `json:"duration"`
	OrigBytes   *uint64  `json:"orig_bytes"`
	RespBytes   *uint64  `json:"resp_bytes"`
	OrigIPBytes *uint64  `json:"orig_ip_bytes"`
	RespIPBytes *uint64  `json:"resp_ip_bytes"`
	ConnState   string   `json:"conn_state"`
	History     string   `json:"history"`
}

func (p *zeekParser) json(line []byte) bool {
	p.rep.Records++
	var z zeekJSON
	if err := json.Unmarshal(line, &z); err != nil {
		return p.skip("JSON: " + err.Error())
	}
	if z.Path != nil && *z.Path != "conn" {
		p.jsonOther++
		return true
	}
	if z.ID != nil && z.OrigH == "" {
		z.OrigH, z.OrigP, z.RespH, z.RespP = z.ID.OrigH, z.ID.OrigP, z.ID.RespH, z.ID.RespP
	}
	r := &p.rec
	*r = flowRecord{}
	var err error
	if r.Src, err = netip.ParseAddr(z.OrigH); err != nil {
		return p.skip("id.orig_h " + strconv.Quote(z.OrigH))
	}
	if r.Dst, err = netip.ParseAddr(z.RespH); err != nil {
		return p.skip("id.resp_h " + strconv.Quote(z.RespH))
	}
	r.Src, r.Dst = r.Src.WithZone("").Unmap(), r.Dst.WithZone("").Unmap()
	if z.OrigP != nil {
		r.SrcPort = *z.OrigP
	}
	if z.RespP != nil {
		r.DstPort = *z.RespP
	}
	var ipProto []byte
	if z.IPProto != nil {
		ipProto = strconv.AppendUint(nil, uint64(*z.IPProto), 10)
	}
	proto, ok := zeekProto(ipProto, []byte(z.Proto), r.Dst)
	if !ok {
		return p.skip("proto " + strconv.Quote(z.Proto))
	}
	r.Proto = proto
	ts, ok := zeekJSONTime(z.TS)
	if !ok {
		return p.skip("ts " + quote(z.TS))
	}
	if ts == 0 {
		p.masked++
	}
	r.Start = ts
	if z.Duration != nil && ts != 0 && *z.Duration >= 0 && *z.Duration < 1e9 {
		r.End = ts + int64(*z.Duration)
	}
	switch {
	case z.OrigIPBytes != nil || z.RespIPBytes != nil:
		r.Bytes = deref(z.OrigIPBytes) + deref(z.RespIPBytes)
	default:
		r.Bytes = deref(z.OrigBytes) + deref(z.RespBytes)
	}
	zeekState(r, []byte(z.ConnState), []byte(z.History))
	p.agg.add(r)
	return true
}

func deref(p *uint64) uint64 {
	if p == nil {
		return 0
	}
	return *p
}

// zeekJSONTime reads ts as epoch seconds (float), epoch milliseconds
// (JSON::TS_MILLIS, an integer), or an ISO 8601 string (JSON::TS_ISO8601).
// Absent is 0.
func zeekJSONTime(raw json.RawMessage) (int64, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, true
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, false
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return 0, false
		}
		return t.Unix(), true
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > 1e16 {
		return 0, false
	}
	if f > 1e11 { // milliseconds: 1e11 s is the year 5138
		f /= 1000
	}
	return int64(f), true
}
