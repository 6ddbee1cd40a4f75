package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/firebreak/firebreak/graph"
)

// The token scanner behind the jaeger format: it finds dependency links in
// any of the JSON shapes jaeger.go lists, with their lines, without decoding
// anything else.

// The members the scanner looks at, by slot; the first jScalars keep their
// value, the rest only whether they are present.
const (
	jParent = iota
	jChild
	jCallCount
	jErrorCount
	jTimestamp
	jMsg
	jCode
	jData
	jTotal
	jLimit
	jOffset
	jErrors
	jDependencies
	jScalars = jData
)

var jaegerSlots = map[string]int{"parent": jParent, "child": jChild, "callCount": jCallCount, "errorCount": jErrorCount,
	"timestamp": jTimestamp, "msg": jMsg, "code": jCode, "data": jData, "total": jTotal, "limit": jLimit,
	"offset": jOffset, "errors": jErrors, "dependencies": jDependencies}

// jaegerFrame is one open JSON container while scanning.
type jaegerFrame struct {
	obj       bool
	wantKey   bool         // object: the next token is a member name
	key       string       // object: the member whose value comes next
	under     string       // the member this container is the value of ("" at top level or in an array)
	container bool         // array: holds dependency links (top level, "data" or "dependencies")
	inArray   *jaegerFrame // object: the array it is an element of
	elems     int          // array: elements read
	line      int          // where it opens
	vals      [jScalars]any
	has       uint32 // object: bit per slot of the members present
	members   int    // object: members read
	depsFrom  int    // object: links read inside its "dependencies" array start here
	depsTo    int
	depsArray bool // object: its "dependencies" member is an array
}

func (f *jaegerFrame) present(slot int) bool { return f.has&(1<<slot) != 0 }

// jaegerRaw is one link object as read: parent, child, callCount and
// errorCount as tokens, its line, and its daily document's timestamp.
type jaegerRaw struct {
	vals [jTimestamp]any
	line int
	ts   any
}

// jaegerScan walks a stream of JSON values token by token: it keeps line
// numbers, bounds nesting, and finds links wherever the known shapes put
// them without decoding anything else; a link costs a few words.
type jaegerScan struct {
	dec      *json.Decoder
	data     []byte
	maxDepth int
	stack    []*jaegerFrame
	links    []jaegerRaw
	lineOff  int64
	line     int
	// recognized: a dependency container (or the query service's envelope)
	// was seen, so an empty result is a result.
	recognized bool
	daily      bool     // a {"timestamp", "dependencies": [...]} document was seen
	envelope   bool     // the query service's {"data", "total", "limit", "offset", "errors"}
	emptyData  bool     // its data is [] or null
	errMsgs    []string // the envelope's "errors"
}

func newJaegerScan(data []byte, maxDepth int) *jaegerScan {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return &jaegerScan{dec: dec, data: data, maxDepth: maxDepth, line: 1}
}

// lineAt returns the line of a byte offset; offsets only grow.
func (s *jaegerScan) lineAt(off int64) int {
	if off > int64(len(s.data)) {
		off = int64(len(s.data))
	}
	if off > s.lineOff {
		s.line += bytes.Count(s.data[s.lineOff:off], []byte{'\n'})
		s.lineOff = off
	}
	return s.line
}

// run scans every top-level value; stop, if set, ends the scan early.
func (s *jaegerScan) run(stop func() bool) error {
	for stop == nil || !stop() {
		tok, err := s.dec.Token()
		if errors.Is(err, io.EOF) && len(s.stack) == 0 {
			return nil
		}
		if err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				return fmt.Errorf("%d: %w: %v", s.lineAt(se.Offset), graph.ErrInvalid, err)
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("%d: %w: unexpected end of JSON", s.lineAt(int64(len(s.data))), graph.ErrInvalid)
			}
			return fmt.Errorf("%d: %w: %v", s.lineAt(s.dec.InputOffset()), graph.ErrInvalid, err)
		}
		if err := s.token(tok); err != nil {
			return err
		}
	}
	return nil
}

func (s *jaegerScan) top() *jaegerFrame {
	if len(s.stack) == 0 {
		return nil
	}
	return s.stack[len(s.stack)-1]
}

func (s *jaegerScan) token(tok any) error {
	top := s.top()
	if top != nil && top.obj && top.wantKey {
		if d, ok := tok.(json.Delim); ok && d == '}' {
			s.closeObject()
			return nil
		}
		key, _ := tok.(string)
		top.key, top.wantKey = key, false
		return nil
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{', '[':
			return s.open(v == '{')
		case ']':
			s.closeArray()
		}
	default:
		if top == nil {
			return nil // a scalar at top level says nothing
		}
		if top.obj {
			if slot, ok := jaegerSlots[top.key]; ok && slot < jScalars {
				top.vals[slot] = v
			}
			s.member(top)
			if top.key == "data" && v == nil && len(s.stack) == 1 {
				s.emptyData = true // {"data": null, ...}: nothing computed
			}
		}
		s.valueDone()
	}
	return nil
}

func (s *jaegerScan) open(obj bool) error {
	if len(s.stack) >= s.maxDepth {
		return fmt.Errorf("%d: %w: JSON nested deeper than %d", s.lineAt(s.dec.InputOffset()), ErrTooLarge, s.maxDepth)
	}
	f := &jaegerFrame{obj: obj, wantKey: obj, line: s.lineAt(s.dec.InputOffset())}
	if parent := s.top(); parent != nil {
		if parent.obj {
			f.under = parent.key
			s.member(parent)
			if f.under == "dependencies" && !obj {
				parent.depsFrom = len(s.links)
			}
		} else if obj {
			f.inArray = parent
		}
	}
	if !obj {
		f.container = len(s.stack) == 0 || f.under == "data" || f.under == "dependencies"
	}
	s.stack = append(s.stack, f)
	return nil
}

func (s *jaegerScan) closeObject() {
	f := s.top()
	s.stack = s.stack[:len(s.stack)-1]
	if f.inArray != nil && f.inArray.container && (f.present(jParent) || f.present(jChild)) {
		r := jaegerRaw{line: f.line}
		copy(r.vals[:], f.vals[:])
		s.links = append(s.links, r)
	}
	if f.depsArray && f.present(jTimestamp) {
		// The daily document; alone, it is recognised only with nothing
		// but those two members (an empty day says little else).
		s.daily = s.daily || f.members == 2
		for i := f.depsFrom; i < f.depsTo; i++ {
			s.links[i].ts = f.vals[jTimestamp]
		}
	}
	if f.inArray != nil && f.inArray.under == "errors" && len(s.stack) == 2 {
		msg, _ := f.vals[jMsg].(string)
		s.errMsgs = append(s.errMsgs, strings.TrimSpace(fmt.Sprint(f.vals[jCode], " ", msg)))
	}
	if len(s.stack) == 0 && f.present(jData) && (f.present(jTotal) || f.present(jLimit) || f.present(jOffset) || f.present(jErrors)) {
		s.envelope = true // the query service's envelope
		s.recognized = s.recognized || s.emptyData
	}
	s.valueDone()
}

func (s *jaegerScan) closeArray() {
	f := s.top()
	s.stack = s.stack[:len(s.stack)-1]
	if f.container {
		s.recognized = true
	}
	if parent := s.top(); parent != nil && parent.obj {
		switch {
		case f.under == "dependencies":
			parent.depsTo, parent.depsArray = len(s.links), true
		case f.under == "data" && len(s.stack) == 1 && f.elems == 0:
			s.emptyData = true
		}
	}
	s.valueDone()
}

// member records that object f has its current member.
func (s *jaegerScan) member(f *jaegerFrame) {
	f.members++
	if slot, ok := jaegerSlots[f.key]; ok {
		f.has |= 1 << slot
	}
}

// valueDone records that the container on top received a whole value.
func (s *jaegerScan) valueDone() {
	if top := s.top(); top != nil {
		if top.obj {
			top.wantKey = true
		} else {
			top.elems++
		}
	}
}
