package graph

import (
	"fmt"
	"strconv"

	"gopkg.in/yaml.v3"
)

// A strict reader over a yaml.Node tree. yaml.v3 keeps the line of every node,
// which is what lets every error name file, line and field; it also reads JSON,
// so both spellings of the native format share one code path.

type yreader struct {
	file     string
	errs     *errList
	lineBase int // added to every line: an element re-read out of a larger file
}

func (r *yreader) pos(n *yaml.Node) Pos { return Pos{File: r.file, Line: r.lineBase + n.Line} }

func (r *yreader) fail(n *yaml.Node, field, format string, args ...any) {
	r.errs.add(r.pos(n), field, format, args...)
}

// resolve follows aliases so anchors work as users expect.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!str":
			return "a string"
		case "!!int":
			return "an integer"
		case "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "null"
		}
		return "a scalar"
	}
	return "an unknown value"
}

// yobj reads one mapping and remembers which keys were consumed so that done
// can report the unknown ones.
type yobj struct {
	r      *yreader
	n      *yaml.Node
	path   string
	keys   []string
	vals   map[string]*yaml.Node
	keyPos map[string]*yaml.Node
	used   map[string]bool
}

func (r *yreader) object(n *yaml.Node, path string) *yobj {
	n = resolve(n)
	o := &yobj{r: r, n: n, path: path, vals: map[string]*yaml.Node{}, keyPos: map[string]*yaml.Node{}, used: map[string]bool{}}
	if n.Kind != yaml.MappingNode {
		r.fail(n, path, "want a mapping, got %s", kindName(n))
		return o
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			r.fail(k, path, "keys must be strings")
			continue
		}
		if prev, dup := o.keyPos[k.Value]; dup {
			r.fail(k, o.field(k.Value), "duplicate key (first at line %d)", prev.Line)
			continue
		}
		o.keys = append(o.keys, k.Value)
		o.vals[k.Value] = resolve(v)
		o.keyPos[k.Value] = k
	}
	return o
}

func (o *yobj) field(key string) string {
	if o.path == "" {
		return key
	}
	return o.path + "." + key
}

// get returns the value node for key, or nil.
func (o *yobj) get(key string) *yaml.Node {
	o.used[key] = true
	v := o.vals[key]
	if v != nil && v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return nil
	}
	return v
}

func (o *yobj) line(key string) int {
	if v := o.vals[key]; v != nil {
		return v.Line
	}
	return o.n.Line
}

func (o *yobj) missing(key string) {
	o.r.fail(o.n, o.field(key), "required field is missing")
}

// done reports every key that no reader consumed.
func (o *yobj) done() {
	for _, k := range o.keys {
		if !o.used[k] {
			o.r.fail(o.keyPos[k], o.field(k), "unknown field")
		}
	}
}

func (o *yobj) str(key string, required bool) string {
	v := o.get(key)
	if v == nil {
		if required {
			o.missing(key)
		}
		return ""
	}
	if v.Kind != yaml.ScalarNode || v.Tag != "!!str" {
		o.r.fail(v, o.field(key), "want a string, got %s (quote it)", kindName(v))
		return ""
	}
	return v.Value
}

func (o *yobj) boolean(key string) bool {
	v := o.get(key)
	if v == nil {
		return false
	}
	if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" {
		o.r.fail(v, o.field(key), "want true or false, got %s", kindName(v))
		return false
	}
	b, _ := strconv.ParseBool(v.Value)
	if v.Value == "yes" || v.Value == "on" || v.Value == "True" || v.Value == "TRUE" {
		b = true
	}
	return b
}

func (o *yobj) number(key string) float64 {
	v := o.get(key)
	if v == nil {
		return 0
	}
	if v.Kind != yaml.ScalarNode || (v.Tag != "!!int" && v.Tag != "!!float") {
		o.r.fail(v, o.field(key), "want a number, got %s", kindName(v))
		return 0
	}
	f, err := strconv.ParseFloat(v.Value, 64)
	if err != nil {
		var i int64
		if err := v.Decode(&i); err != nil {
			o.r.fail(v, o.field(key), "not a number: %q", v.Value)
			return 0
		}
		f = float64(i)
	}
	if f < 0 {
		o.r.fail(v, o.field(key), "must not be negative")
		return 0
	}
	return f
}

func (o *yobj) uint(key string) uint64 {
	v := o.get(key)
	if v == nil {
		return 0
	}
	var u uint64
	if v.Kind != yaml.ScalarNode || v.Tag != "!!int" || v.Decode(&u) != nil {
		o.r.fail(v, o.field(key), "want a non-negative integer, got %s", kindName(v))
		return 0
	}
	return u
}

func (o *yobj) integer(key string) int64 {
	v := o.get(key)
	if v == nil {
		return 0
	}
	var i int64
	if v.Kind != yaml.ScalarNode || v.Tag != "!!int" || v.Decode(&i) != nil {
		o.r.fail(v, o.field(key), "want an integer, got %s", kindName(v))
		return 0
	}
	return i
}

// list returns the items of a sequence value (nil if absent).
func (o *yobj) list(key string) []*yaml.Node {
	v := o.get(key)
	if v == nil {
		return nil
	}
	if v.Kind != yaml.SequenceNode {
		o.r.fail(v, o.field(key), "want a list, got %s", kindName(v))
		return nil
	}
	out := make([]*yaml.Node, len(v.Content))
	for i, c := range v.Content {
		out[i] = resolve(c)
	}
	return out
}

// strItem is a string with the line it came from.
type strItem struct {
	s    string
	line int
}

func (o *yobj) strList(key string) []strItem {
	var out []strItem
	for i, n := range o.list(key) {
		if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
			o.r.fail(n, fmt.Sprintf("%s[%d]", o.field(key), i), "want a string, got %s (quote it)", kindName(n))
			continue
		}
		out = append(out, strItem{n.Value, o.r.lineBase + n.Line})
	}
	return out
}

// strMap reads a flat mapping whose values are scalars (numbers and booleans
// are kept as written).
func (o *yobj) strMap(key string) map[string]string {
	v := o.get(key)
	if v == nil {
		return nil
	}
	if v.Kind != yaml.MappingNode {
		o.r.fail(v, o.field(key), "want a mapping, got %s", kindName(v))
		return nil
	}
	m := map[string]string{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], resolve(v.Content[i+1])
		f := o.field(key) + "." + k.Value
		if _, dup := m[k.Value]; dup {
			o.r.fail(k, f, "duplicate key")
			continue
		}
		if val.Kind != yaml.ScalarNode || val.Tag == "!!null" {
			o.r.fail(val, f, "want a string, got %s", kindName(val))
			continue
		}
		m[k.Value] = val.Value
	}
	return m
}
