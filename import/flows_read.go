package importer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"unsafe"

	"github.com/firebreak/firebreak/graph"
)

// Reading flow files: every flow format is line oriented and may hold
// anything, so the reader bounds each line, never buffers more than
// Limits.MaxLine, and turns every problem into a counted skip or, with
// --strict, an error naming the file and line. Gzipped files (S3-delivered
// VPC logs, rotated Zeek logs) are decompressed by the core (decompress,
// used by Open and ParseAll) before detection and parsing: the flow
// formats only ever see plain text.

// headLines splits a detection head into lines, dropping the last one when
// the head was cut in the middle of it, and blank lines.
func headLines(head []byte, max int) [][]byte {
	head = bytes.TrimPrefix(head, []byte("\ufeff"))
	complete := len(head) < headSize || bytes.HasSuffix(head, []byte("\n"))
	lines := bytes.Split(head, []byte("\n"))
	if !complete && len(lines) > 1 {
		lines = lines[:len(lines)-1]
	}
	var out [][]byte
	for _, l := range lines {
		l = bytes.TrimRight(l, "\r")
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		out = append(out, l)
		if len(out) == max {
			break
		}
	}
	return out
}

// lineReader yields the lines of a stream, each at most max bytes. A longer
// line is consumed and reported as over the bound, without being buffered.
type lineReader struct {
	r    *bufio.Reader
	max  int
	buf  []byte // assembles a line that spans the bufio buffer
	line int    // number of the line last returned, from 1
	err  error  // the read error that ended the stream, io.EOF at the end
	long bool   // the line last returned exceeded max (and is empty)
}

// flowReadBuffer is the bufio size; lines shorter than it are not copied.
const flowReadBuffer = 64 << 10

// newLineReader reads the lines of r, each at most max bytes.
func newLineReader(r io.Reader, max int) *lineReader {
	if max <= 0 {
		max = DefaultLimits.MaxLine
	}
	return &lineReader{r: bufio.NewReaderSize(r, flowReadBuffer), max: max}
}

// next returns the next line without its line ending; ok is false at the end
// of the stream or on a read error (in l.err). The slice is valid until the
// next call.
func (l *lineReader) next() (line []byte, ok bool) {
	if l.err != nil {
		return nil, false
	}
	l.long = false
	l.buf = l.buf[:0]
	n := 0 // bytes of this line consumed so far
	for {
		chunk, err := l.r.ReadSlice('\n')
		n += len(chunk)
		switch {
		case n > l.max+2: // +2: the line ending
			l.long = true
			l.buf = l.buf[:0]
		case err == bufio.ErrBufferFull || len(l.buf) > 0:
			l.buf = append(l.buf, chunk...)
		default:
			line = chunk
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			l.err = err
			if n == 0 {
				return nil, false
			}
		}
		break
	}
	l.line++
	if l.long {
		return nil, true
	}
	if len(l.buf) > 0 {
		line = l.buf
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	return line, true
}

// readErr reports why the stream ended, nil at a clean end.
func (l *lineReader) readErr() error {
	if l.err == nil || errors.Is(l.err, io.EOF) {
		return nil
	}
	return l.err
}

// flowParse is what every flow parser shares: the file, its line reader,
// the report, strictness and the aggregator.
type flowParse struct {
	ctx    context.Context
	name   string
	format string
	lines  *lineReader
	strict bool
	rep    *Report
	agg    *flowAggregator
	err    error // the first fatal error (strict mode, I/O)
}

// newFlowParse prepares a parse of in.
func newFlowParse(ctx context.Context, format string, in Input, c *Context) *flowParse {
	p := &flowParse{ctx: ctx, name: in.Name, format: format, lines: newLineReader(in.R, c.Limits.MaxLine), strict: c.Strict, rep: &Report{}}
	p.agg = newFlowAggregator(newResolver(c.Known), p.rep)
	return p
}

// next returns the next line to parse. Lines over the bound are skipped
// here (fatal with --strict); ok is false at the end or on a fatal error.
func (p *flowParse) next() (line []byte, ok bool) {
	for {
		line, ok = p.lines.next()
		if !ok {
			if err := p.lines.readErr(); err != nil && p.err == nil {
				p.err = fmt.Errorf("%s:%d: %w: %v", p.name, p.lines.line+1, graph.ErrInvalid, err)
			}
			return nil, false
		}
		if p.lines.line%4096 == 0 {
			if err := p.ctx.Err(); err != nil {
				p.err = fmt.Errorf("%s:%d: %w", p.name, p.lines.line, err)
				return nil, false
			}
		}
		if p.lines.long {
			p.rep.Records++
			why := fmt.Sprintf("line longer than %d bytes", p.lines.max)
			if p.strict {
				p.err = fmt.Errorf("%s:%d: %w: %s", p.name, p.lines.line, ErrTooLarge, why)
				return nil, false
			}
			p.rep.Skip(p.name, p.lines.line, why)
			continue
		}
		return line, true
	}
}

// skip counts a malformed record on the current line; with --strict it
// records the fatal error and returns false so the caller stops.
func (p *flowParse) skip(why string) bool {
	if p.strict {
		if p.err == nil {
			p.err = fmt.Errorf("%s:%d: %w: %s", p.name, p.lines.line, graph.ErrInvalid, why)
		}
		return false
	}
	p.rep.Skip(p.name, p.lines.line, why)
	return true
}

// finish turns the aggregate into the fragment, or returns the fatal error.
func (p *flowParse) finish() (*Fragment, error) {
	if p.err != nil {
		return nil, p.err
	}
	f := &Fragment{}
	p.agg.build(f, Provenance(p.format, p.name))
	f.Report = *p.rep
	return f, nil
}

// quote shortens a record for a skip example.
func quote(b []byte) string {
	const max = 80
	if len(b) > max {
		return fmt.Sprintf("%q…", b[:max])
	}
	return fmt.Sprintf("%q", b)
}

// Field parsing shared by the flow formats: no allocation per record.

// splitFields splits line on runs of spaces and tabs into out (reused);
// ok is false when the line has more fields than out can hold.
func splitFields(line []byte, out [][]byte) (fields [][]byte, ok bool) {
	out = out[:0]
	i := 0
	for i < len(line) {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i == len(line) {
			break
		}
		j := i
		for j < len(line) && line[j] != ' ' && line[j] != '\t' {
			j++
		}
		if len(out) == cap(out) {
			return out, false
		}
		out = append(out, line[i:j])
		i = j
	}
	return out, true
}

// splitSep splits line on every sep byte into out (reused); ok is false
// when the line has more fields than out can hold.
func splitSep(line []byte, sep byte, out [][]byte) (fields [][]byte, ok bool) {
	out = out[:0]
	for {
		if len(out) == cap(out) {
			return out, false
		}
		i := bytes.IndexByte(line, sep)
		if i < 0 {
			return append(out, line), true
		}
		out = append(out, line[:i])
		line = line[i+1:]
	}
}

// parseUint reads a decimal number.
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// parsePort reads a port number, 0 to 65535.
func parsePort(b []byte) (uint16, bool) {
	n, ok := parseUint(b)
	if !ok || n > 65535 {
		return 0, false
	}
	return uint16(n), true
}

// parseEpoch reads Unix seconds with an optional fraction ("1521911721.255387"),
// returning whole seconds.
func parseEpoch(b []byte) (int64, bool) {
	if i := bytes.IndexByte(b, '.'); i >= 0 {
		if _, ok := parseUint(b[i+1:]); !ok && i+1 < len(b) {
			return 0, false
		}
		b = b[:i]
	}
	n, ok := parseUint(b)
	if !ok || n > 1<<40 {
		return 0, false
	}
	return int64(n), true
}

// parseAddrBytes parses an IP address without copying b (netip.ParseAddr
// keeps no reference to its input: a zone is interned as a copy, and the
// zone is dropped anyway). IPv4-mapped IPv6 addresses are unmapped.
func parseAddrBytes(b []byte) (netip.Addr, bool) {
	if len(b) == 0 || len(b) > 64 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(unsafe.String(&b[0], len(b)))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}
