package graph

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	json "github.com/goccy/go-json"
	"gopkg.in/yaml.v3"
)

// streamThreshold is the size above which a native JSON file is read by the
// streaming decoder instead of the YAML node tree, which costs far too much
// time and memory at millions of elements. Both apply the same rules and give
// the same messages, except that the streaming path does not notice a key
// repeated inside one object (encoding/json keeps the last).
const streamThreshold = 8 << 20

func looksJSON(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n\ufeff")
	return len(t) > 0 && t[0] == '{'
}

// lineCounter turns byte offsets into line numbers, moving forward only, so
// numbering every element of a file costs one pass over it.
type lineCounter struct {
	data []byte
	off  int
	line int
}

func (l *lineCounter) at(off int) int {
	if off < l.off {
		return 1 + bytes.Count(l.data[:off], []byte{'\n'})
	}
	l.line += bytes.Count(l.data[l.off:off], []byte{'\n'})
	l.off = off
	return l.line + 1
}

// elementStart skips the separators before the element at off.
func elementStart(data []byte, off int) int {
	for off < len(data) && (data[off] == ' ' || data[off] == '\n' || data[off] == '\r' || data[off] == '\t' || data[off] == ',') {
		off++
	}
	return off
}

type jsonReader struct {
	file  string
	data  []byte
	dec   *json.Decoder
	lines *lineCounter
	errs  *errList
	fatal bool // the stream itself is broken; stop reading
}

// chunkReader hands the decoder small reads: given the whole file at once,
// json.Decoder's buffer would grow to the file's size and be slid down on
// every refill, which is quadratic in practice.
type chunkReader struct{ data []byte }

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 64<<10)], c.data)
	c.data = c.data[n:]
	return n, nil
}

func parseNativeJSON(file string, data []byte) (*Document, error) {
	r := &jsonReader{file: file, data: data, dec: json.NewDecoder(&chunkReader{data}),
		lines: &lineCounter{data: data}, errs: &errList{}}
	r.dec.DisallowUnknownFields()
	doc := &Document{File: file}
	if !r.delim('{') {
		return nil, r.errs.err()
	}
	var version string
	for r.dec.More() && !r.fatal {
		keyOff := int(r.dec.InputOffset())
		tok, err := r.dec.Token()
		if err != nil {
			r.syntax(err)
			break
		}
		key, _ := tok.(string)
		line := r.lines.at(elementStart(r.data, keyOff))
		switch key {
		case "apiVersion":
			version = r.str(key, line)
		case "kind":
			doc.Kind = r.str(key, line)
		case "description":
			r.str(key, line)
		case "nodes":
			r.array(key, func(i int, start int, line int) {
				var d NodeDoc
				if r.decode(&d, i, key, start) {
					n, ok := d.checked()
					if !ok {
						r.explain(start, fmt.Sprintf("%s[%d]", key, i), line, func(y *yreader, n *yaml.Node, p string) { y.node(n, p) })
					}
					n.Pos = Pos{File: file, Line: line, Path: fmt.Sprintf("%s[%d]", key, i)}
					doc.Nodes = append(doc.Nodes, n)
				}
			})
		case "edges":
			// Streamed files hold one element per line: size the slice once.
			doc.Edges = make([]Edge, 0, bytes.Count(data, []byte{'\n'}))
			r.array(key, func(i int, start int, line int) {
				var d EdgeDoc
				if r.decode(&d, i, key, start) {
					e, ok := d.checked()
					if !ok {
						r.explain(start, fmt.Sprintf("%s[%d]", key, i), line, func(y *yreader, n *yaml.Node, p string) { y.edge(n, p) })
					}
					e.Pos = Pos{File: file, Line: line, Path: fmt.Sprintf("%s[%d]", key, i)}
					doc.Edges = append(doc.Edges, e)
				}
			})
		case "journeys":
			r.array(key, func(i int, start int, line int) {
				var d JourneyDoc
				if r.decode(&d, i, key, start) {
					// Journeys are few: always read them through the strict
					// reader, which also keeps each reference's line.
					r.explain(start, fmt.Sprintf("%s[%d]", key, i), line, func(y *yreader, n *yaml.Node, p string) {
						j := y.journey(n, p)
						j.Pos.Path = p
						doc.Journeys = append(doc.Journeys, j)
					})
				}
			})
		default:
			r.errs.add(Pos{File: file, Line: line}, key, "unknown field")
			var skip json.RawMessage
			if err := r.dec.Decode(&skip); err != nil {
				r.syntax(err)
			}
		}
	}
	if !r.fatal {
		if version == "" {
			r.errs.add(Pos{File: file, Line: 1}, "apiVersion", "required field is missing")
		} else if version != APIVersion {
			r.errs.add(Pos{File: file, Line: 1}, "apiVersion", "unsupported version %q (want %q)", version, APIVersion)
		}
		switch doc.Kind {
		case DocKindTopology:
			if len(doc.Journeys) > 0 {
				r.errs.add(Pos{File: file, Line: 1}, "journeys", "unknown field")
			}
		case DocKindJourneys:
			if len(doc.Nodes)+len(doc.Edges) > 0 {
				r.errs.add(Pos{File: file, Line: 1}, "nodes", "unknown field")
			}
		case "":
			r.errs.add(Pos{File: file, Line: 1}, "kind", "required field is missing")
		default:
			r.errs.add(Pos{File: file, Line: 1}, "kind", "unknown kind %q (want %s or %s)", doc.Kind, DocKindTopology, DocKindJourneys)
		}
	}
	if err := r.errs.err(); err != nil {
		return nil, err
	}
	return doc, nil
}

func (r *jsonReader) syntax(err error) {
	r.fatal = true
	off := int(r.dec.InputOffset())
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off = int(se.Offset)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		off = len(r.data)
	}
	r.errs.add(Pos{File: r.file, Line: r.lines.at(min(off, len(r.data)))}, "", "not valid JSON: %v", err)
}

func (r *jsonReader) delim(want json.Delim) bool {
	tok, err := r.dec.Token()
	if err != nil {
		r.syntax(err)
		return false
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		r.errs.add(Pos{File: r.file, Line: r.lines.at(int(r.dec.InputOffset()))}, "", "want %q, got %v", want, tok)
		r.fatal = true
		return false
	}
	return true
}

func (r *jsonReader) str(key string, line int) string {
	var s any
	if err := r.dec.Decode(&s); err != nil {
		r.syntax(err)
		return ""
	}
	v, ok := s.(string)
	if !ok {
		r.errs.add(Pos{File: r.file, Line: line}, key, "want a string, got %T", s)
	}
	return v
}

// array walks a JSON array, calling fn with each element's index, start
// offset and line; fn decodes the element itself.
func (r *jsonReader) array(key string, fn func(i, start, line int)) {
	if !r.delim('[') {
		return
	}
	for i := 0; r.dec.More() && !r.fatal; i++ {
		start := elementStart(r.data, int(r.dec.InputOffset()))
		fn(i, start, r.lines.at(start))
	}
	if !r.fatal {
		r.delim(']')
	}
}

// decode reads one element. A type mismatch or unknown field is explained by
// the strict reader; broken JSON stops the read.
func (r *jsonReader) decode(v any, i int, key string, start int) bool {
	err := r.dec.Decode(v)
	if err == nil {
		return true
	}
	raw := rawElement(r.data[start:])
	before := len(r.errs.errs) + r.errs.dropped
	if raw != nil {
		r.explain(start, fmt.Sprintf("%s[%d]", key, i), r.lines.at(start), func(y *yreader, n *yaml.Node, p string) {
			switch key {
			case "nodes":
				y.node(n, p)
			case "edges":
				y.edge(n, p)
			case "journeys":
				y.journey(n, p)
			}
		})
	}
	switch {
	case raw == nil:
		r.syntax(err)
	case len(r.errs.errs)+r.errs.dropped == before:
		// The strict reader saw nothing wrong; report the decoder's view.
		r.errs.add(Pos{File: r.file, Line: r.lines.at(start)}, fmt.Sprintf("%s[%d]", key, i), "%v", err)
	}
	// encoding/json cannot resume after a bad element: stop here.
	r.fatal = true
	return false
}

// rawElement returns the bytes of the JSON value at the start of data, or nil
// if it is not valid JSON.
func rawElement(data []byte) json.RawMessage {
	var raw json.RawMessage
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&raw); err != nil {
		return nil
	}
	return raw
}

// explain re-reads one element with the strict YAML reader (JSON is YAML), so
// a problem found on the fast path is reported exactly as for small files.
func (r *jsonReader) explain(start int, path string, line int, read func(*yreader, *yaml.Node, string)) {
	raw := rawElement(r.data[start:])
	var n yaml.Node
	if raw == nil || yaml.Unmarshal(raw, &n) != nil || len(n.Content) == 0 {
		r.errs.add(Pos{File: r.file, Line: line}, path, "not valid JSON")
		return
	}
	y := &yreader{file: r.file, errs: r.errs, lineBase: line - 1}
	read(y, n.Content[0], path)
}

// checked converts a node read on the fast path, reporting whether every
// field is valid; if not, the caller asks the strict reader why.
func (d NodeDoc) checked() (Node, bool) {
	n, err := d.Model()
	ok := err == nil && checkID(d.ID) == "" && Kind(d.Kind).valid() && Sensitivity(d.Sensitivity).valid() &&
		checkEnforce(d.Enforce) == "" && (d.RunsOn == "" || checkID(d.RunsOn) == "")
	return n, ok
}

// checked converts an edge read on the fast path.
func (d EdgeDoc) checked() (Edge, bool) {
	if d.Dependency == "" {
		d.Dependency = "hard"
	}
	e, err := d.Model()
	return e, err == nil && checkID(d.From) == "" && checkID(d.To) == ""
}
