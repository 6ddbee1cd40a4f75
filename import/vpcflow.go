package importer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
)

// AWS VPC flow logs: one flow per line, fields separated by spaces (runs of
// them, as in AWS's own examples), "-" for what does not apply. The default
// format is the 14 version-2 fields in a fixed order; custom formats choose
// any fields in any order, and S3 delivery starts each file with a header
// line naming them. A header is recognised by all its tokens being shaped
// like field names, known ones among them: a custom header need not start
// with "version" and may name fields newer than this importer. It may appear
// again mid-stream (concatenated files) and applies from there on. Without
// a header the default v2 order is assumed. CloudWatch Logs exports wrap each
// record as {"message": "..."}; S3 files are gzipped (the core decompresses
// them). NODATA and SKIPDATA lines are not flows. pkt-srcaddr/pkt-dstaddr,
// when present, are the real ends behind a NAT gateway, transit gateway or
// EKS pod networking; tcp-flags tell the initiator (SYN from the client,
// SYN-ACK from the server).
var vpcFlowFormat = Format{Name: "vpcflow", Detect: detectVPCFlow, Parse: parseVPCFlow, Flow: true}

// vpcFields are the field names AWS documents (versions 2 to 8). A header
// may name others (newer fields): they are carried, not interpreted.
var vpcFields = map[string]bool{
	"version": true, "account-id": true, "interface-id": true, "srcaddr": true, "dstaddr": true,
	"srcport": true, "dstport": true, "protocol": true, "packets": true, "bytes": true,
	"start": true, "end": true, "action": true, "log-status": true,
	"vpc-id": true, "subnet-id": true, "instance-id": true, "tcp-flags": true, "type": true,
	"pkt-srcaddr": true, "pkt-dstaddr": true,
	"region": true, "az-id": true, "sublocation-type": true, "sublocation-id": true,
	"pkt-src-aws-service": true, "pkt-dst-aws-service": true, "flow-direction": true, "traffic-path": true,
	"ecs-cluster-arn": true, "ecs-cluster-name": true, "ecs-container-instance-arn": true,
	"ecs-container-instance-id": true, "ecs-container-id": true, "ecs-second-container-id": true,
	"ecs-service-name": true, "ecs-task-definition-arn": true, "ecs-task-arn": true, "ecs-task-id": true,
	"reject-reason": true,
}

// vpcDefault is the default (version 2) format.
var vpcDefault = strings.Fields("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status")

// maxVPCFields bounds the fields of one line (AWS has about 40).
const maxVPCFields = 96

// vpcColumns maps the fields this importer reads to their position; -1
// when the format lacks one.
type vpcColumns struct {
	n                                     int
	src, dst, sport, dport, proto         int
	packets, bytes, start, end            int
	action, status, flags, pktSrc, pktDst int
	header                                bool // from a header line, not the default
}

func vpcColumnsOf(names []string, header bool) (vpcColumns, bool) {
	c := vpcColumns{n: len(names), header: header}
	for _, p := range []*int{&c.src, &c.dst, &c.sport, &c.dport, &c.proto, &c.packets, &c.bytes, &c.start, &c.end, &c.action, &c.status, &c.flags, &c.pktSrc, &c.pktDst} {
		*p = -1
	}
	at := map[string]*int{"srcaddr": &c.src, "dstaddr": &c.dst, "srcport": &c.sport, "dstport": &c.dport,
		"protocol": &c.proto, "packets": &c.packets, "bytes": &c.bytes, "start": &c.start, "end": &c.end,
		"action": &c.action, "log-status": &c.status, "tcp-flags": &c.flags, "pkt-srcaddr": &c.pktSrc, "pkt-dstaddr": &c.pktDst}
	for i, n := range names {
		if p, ok := at[n]; ok && *p < 0 {
			*p = i
		}
	}
	return c, (c.src >= 0 || c.pktSrc >= 0) && (c.dst >= 0 || c.pktDst >= 0)
}

// vpcHeaderName normalises a header token: "${srcaddr}" as in the format
// string, "log_status" as in Athena or Parquet column names. It allocates
// only for names with underscores.
func vpcHeaderName(b []byte) (name []byte, ok bool) {
	b = bytes.TrimSuffix(bytes.TrimPrefix(b, []byte("${")), []byte("}"))
	if len(b) == 0 || len(b) > 64 || b[0] < 'a' || b[0] > 'z' {
		return nil, false
	}
	under := false
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return nil, false
		}
		under = under || c == '_'
	}
	if under {
		b = bytes.ReplaceAll(b, []byte("_"), []byte("-"))
	}
	return b, true
}

// vpcHeader reports whether fields are a header line: every token shaped
// like a field name (a record always holds a number, an address or "-"), at
// least three known ones, among them a source and a destination address.
// Unknown names are newer fields: carried, not read.
func vpcHeader(fields [][]byte) (vpcColumns, bool) {
	if len(fields) < 2 {
		return vpcColumns{}, false
	}
	known := 0
	for _, f := range fields { // data lines fail early, on a number or address
		n, ok := vpcHeaderName(f)
		if !ok {
			return vpcColumns{}, false
		}
		if vpcFields[string(n)] {
			known++
		}
	}
	if known < 3 {
		return vpcColumns{}, false
	}
	names := make([]string, len(fields))
	for i, f := range fields {
		n, _ := vpcHeaderName(f)
		names[i] = string(n)
	}
	return vpcColumnsOf(names, true)
}

// vpcDataLine reports whether fields look like a default-format record.
func vpcDataLine(fields [][]byte) bool {
	if len(fields) != len(vpcDefault) {
		return false
	}
	_, v := parseUint(fields[0])
	_, acct := parseUint(fields[1])
	acct = acct || string(fields[1]) == "unknown"
	eni := bytes.HasPrefix(fields[2], []byte("eni-")) || string(fields[2]) == "-"
	switch string(fields[12]) {
	case "ACCEPT", "REJECT", "-":
	default:
		return false
	}
	switch string(fields[13]) {
	case "OK", "NODATA", "SKIPDATA":
	default:
		return false
	}
	return v && acct && eni
}

// cloudWatchEvent is a CloudWatch Logs export line: one event, or a
// subscription batch.
type cloudWatchEvent struct {
	Message   *string `json:"message"`
	LogEvents []struct {
		Message string `json:"message"`
	} `json:"logEvents"`
}

func (e cloudWatchEvent) messages() []string {
	var out []string
	if e.Message != nil {
		out = append(out, *e.Message)
	}
	for _, ev := range e.LogEvents {
		out = append(out, ev.Message)
	}
	return out
}

func detectVPCFlow(_ string, head []byte) bool {
	lines := headLines(head, 3)
	if h := trimHead(head); len(h) > 0 && h[0] == '{' {
		// CloudWatch Logs JSON. A subscription batch can be longer than the
		// head, so look at the text of the first message rather than parse.
		msg, ok := firstJSONMessage(h)
		lines = [][]byte{msg}
		if !ok {
			return false
		}
	}
	if len(lines) == 0 {
		return false
	}
	var buf [maxVPCFields][]byte
	looksVPC := func(line []byte) bool {
		fields, ok := splitFields(line, buf[:0])
		if !ok || len(fields) == 0 {
			return false
		}
		if _, ok := vpcHeader(fields); ok {
			return true
		}
		return vpcDataLine(fields)
	}
	return looksVPC(lines[0])
}

// firstJSONMessage finds the first "message" string of a JSON text, which
// may be cut short. VPC records hold no quotes or escapes, so the value
// ends at the next quote.
func firstJSONMessage(h []byte) ([]byte, bool) {
	i := bytes.Index(h, []byte(`"message"`))
	if i < 0 {
		return nil, false
	}
	rest := bytes.TrimLeft(h[i+len(`"message"`):], " \t\r\n")
	if len(rest) == 0 || rest[0] != ':' {
		return nil, false
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	if len(rest) == 0 || rest[0] != '"' {
		return nil, false
	}
	end := bytes.IndexByte(rest[1:], '"')
	if end < 0 {
		return nil, false
	}
	msg := rest[1 : 1+end]
	return msg, bytes.IndexByte(msg, '\\') < 0
}

// vpcParser holds the state of one VPC flow-log parse.
type vpcParser struct {
	*flowParse
	cols             vpcColumns
	fields           [maxVPCFields][]byte
	nodata, skipdata uint64
	noAddr           uint64
	rec              flowRecord
}

func parseVPCFlow(ctx context.Context, in Input, c *Context) (*Fragment, error) {
	fp := newFlowParse(ctx, "vpcflow", in, c)
	p := &vpcParser{flowParse: fp}
	p.cols, _ = vpcColumnsOf(vpcDefault, false)
	for {
		line, ok := p.next()
		if !ok {
			break
		}
		if len(line) > 0 && line[0] == '{' {
			if !p.cloudWatch(line) {
				break
			}
			continue
		}
		if !p.line(line) {
			break
		}
	}
	if p.nodata > 0 {
		p.agg.note("no flows: %s (capture windows without traffic)", plural(p.nodata, "NODATA line", "NODATA lines"))
	}
	if p.skipdata > 0 {
		p.agg.note("no flows: %s (records AWS dropped for capacity: flows are missing)", plural(p.skipdata, "SKIPDATA line", "SKIPDATA lines"))
	}
	if p.noAddr > 0 {
		p.agg.note("no flows: %s without addresses", plural(p.noAddr, "record", "records"))
	}
	return p.finish()
}

// cloudWatch handles a JSON-wrapped line.
func (p *vpcParser) cloudWatch(line []byte) bool {
	var ev cloudWatchEvent
	if err := json.Unmarshal(line, &ev); err != nil {
		p.rep.Records++
		return p.skip("not a CloudWatch Logs event: " + err.Error())
	}
	msgs := ev.messages()
	if len(msgs) == 0 {
		p.rep.Records++
		return p.skip("CloudWatch Logs event without a message")
	}
	for _, m := range msgs {
		if !p.line([]byte(m)) {
			return false
		}
	}
	return true
}

// line handles one text line: a header, a record, or blank. It returns
// false to stop (a fatal error is in p.err).
func (p *vpcParser) line(line []byte) bool {
	fields, ok := splitFields(line, p.fields[:0])
	if len(fields) == 0 {
		return true
	}
	if !ok {
		p.rep.Records++
		return p.skip(fmt.Sprintf("more than %d fields", maxVPCFields))
	}
	if c := fields[0][0]; c >= 'a' && c <= 'z' || c == '$' {
		if cols, ok := vpcHeader(fields); ok {
			p.cols = cols
			return true
		}
	}
	p.rep.Records++
	if len(fields) != p.cols.n {
		if p.cols.header {
			return p.skip(fmt.Sprintf("%d fields, the header names %d", len(fields), p.cols.n))
		}
		return p.skip(fmt.Sprintf("%d fields: without a header line the default format (%d fields) is assumed", len(fields), p.cols.n))
	}
	return p.record(fields)
}

// vpcValue returns field i, or nil when the format lacks it or it is "-".
func vpcValue(fields [][]byte, i int) []byte {
	if i < 0 || len(fields[i]) == 1 && fields[i][0] == '-' {
		return nil
	}
	return fields[i]
}

func (p *vpcParser) record(f [][]byte) bool {
	c := &p.cols
	if st := vpcValue(f, c.status); st != nil {
		switch string(st) {
		case "OK":
		case "NODATA":
			p.nodata++
			return true
		case "SKIPDATA":
			p.skipdata++
			return true
		default:
			return p.skip("log-status " + quote(st))
		}
	}
	r := &p.rec
	*r = flowRecord{}
	src, dst := vpcValue(f, c.pktSrc), vpcValue(f, c.pktDst)
	ifSrc, ifDst := vpcValue(f, c.src), vpcValue(f, c.dst)
	if src == nil {
		src = ifSrc
	}
	if dst == nil {
		dst = ifDst
	}
	if src == nil || dst == nil {
		p.noAddr++
		return true
	}
	var ok bool
	if r.Src, ok = parseAddrBytes(src); !ok {
		return p.skip("source address " + quote(src))
	}
	if r.Dst, ok = parseAddrBytes(dst); !ok {
		return p.skip("destination address " + quote(dst))
	}
	if ifSrc != nil && !bytes.Equal(ifSrc, src) {
		if a, ok := parseAddrBytes(ifSrc); ok {
			r.SrcAlias = a
		}
	}
	if ifDst != nil && !bytes.Equal(ifDst, dst) {
		if a, ok := parseAddrBytes(ifDst); ok {
			r.DstAlias = netip.AddrPortFrom(a, 0)
		}
	}
	if v := vpcValue(f, c.sport); v != nil {
		if r.SrcPort, ok = parsePort(v); !ok {
			return p.skip("srcport " + quote(v))
		}
	}
	if v := vpcValue(f, c.dport); v != nil {
		if r.DstPort, ok = parsePort(v); !ok {
			return p.skip("dstport " + quote(v))
		}
	}
	if v := vpcValue(f, c.proto); v != nil {
		n, ok := parseUint(v)
		if !ok || n > 255 {
			return p.skip("protocol " + quote(v))
		}
		r.Proto = uint8(n)
	}
	for _, x := range []struct {
		i   int
		dst *uint64
	}{{c.packets, &r.Packets}, {c.bytes, &r.Bytes}} {
		if v := vpcValue(f, x.i); v != nil {
			if *x.dst, ok = parseUint(v); !ok {
				return p.skip("counter " + quote(v))
			}
		}
	}
	for _, x := range []struct {
		i   int
		dst *int64
	}{{c.start, &r.Start}, {c.end, &r.End}} {
		if v := vpcValue(f, x.i); v != nil {
			if *x.dst, ok = parseEpoch(v); !ok {
				return p.skip("time " + quote(v))
			}
		}
	}
	if v := vpcValue(f, c.action); v != nil {
		switch string(v) {
		case "ACCEPT":
		case "REJECT":
			r.Outcome = outcomeRejected
		default:
			return p.skip("action " + quote(v))
		}
	}
	if v := vpcValue(f, c.flags); v != nil && r.Proto == protoTCP {
		flags, ok := parseUint(v)
		if !ok || flags > 0xffff {
			return p.skip("tcp-flags " + quote(v))
		}
		switch {
		case flags&0x12 == 0x12: // SYN-ACK: sent by the server
			r.Initiator = initDst
		case flags&0x02 != 0: // SYN: sent by the client
			r.Initiator = initSrc
		}
	}
	p.agg.add(r)
	return true
}
