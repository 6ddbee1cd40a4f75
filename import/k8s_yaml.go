package importer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/firebreak/firebreak/graph"
	"gopkg.in/yaml.v3"
)

// Tolerant readers over yaml.v3 node trees, shared by the Kubernetes and
// Backstage importers. Unlike the native format's strict reader they ignore
// unknown fields (both formats carry plenty the graph does not need) but keep
// every node's line for file:line messages. yaml.v3 reads JSON too, so the
// JSON spellings of both formats share the code.
//
// Two bounds make hostile input harmless: ynDocs rejects documents nested
// deeper than Limits.MaxDepth (checked without recursion), and every list a
// reader walks is charged to a budget, so anchors and aliases cannot turn a
// small file into an exponential amount of work.

// ynBudget bounds the list items the readers visit per input; aliases make
// that unbounded by the file size alone.
type ynBudget struct {
	left int
	over bool
}

func newYNBudget(size int) *ynBudget { return &ynBudget{left: 1_000_000 + 16*size} }

// add grows the budget for another input of size bytes (ParseMany).
func (b *ynBudget) add(size int) { b.left += 16 * size }

// ynDoc is one YAML document with the line it starts on.
type ynDoc struct {
	root *yaml.Node // the document's content (never a DocumentNode)
	line int
}

// ynErr builds a located, ErrInvalid-wrapped error.
func ynErr(file string, line int, format string, args ...any) error {
	return &graph.InputError{Pos: graph.Pos{File: file, Line: line}, Msg: fmt.Sprintf(format, args...)}
}

// ynYAMLLine pulls "line N" out of a yaml.v3 error message.
func ynYAMLLine(err error) int {
	s := err.Error()
	var line int
	if i := strings.Index(s, "line "); i >= 0 {
		fmt.Sscanf(s[i:], "line %d", &line)
	}
	return line
}

// ynDocs splits data into its YAML documents, skipping empty ones (a
// leading "---", comment-only blocks), and refuses documents nested deeper
// than maxDepth (0: no check). A syntax error is returned as
// file:line; onErr may replace it with a better message (unrendered
// templates).
func ynDocs(file string, data []byte, maxDepth int, onErr func(line int, err error) error) ([]ynDoc, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []ynDoc
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			line := ynYAMLLine(err)
			if onErr != nil {
				if e := onErr(line, err); e != nil {
					return nil, e
				}
			}
			msg := strings.TrimPrefix(err.Error(), "yaml: ")
			if i := strings.Index(msg, ": "); strings.HasPrefix(msg, "line ") && i > 0 {
				msg = msg[i+2:]
			}
			return nil, ynErr(file, line, "not valid YAML or JSON: %s", msg)
		}
		root := &n
		if root.Kind == yaml.DocumentNode {
			if len(root.Content) == 0 {
				continue
			}
			root = root.Content[0]
		}
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue
		}
		if d := ynDepth(root, maxDepth); maxDepth > 0 && d > maxDepth {
			return nil, fmt.Errorf("%s:%d: %w: nested deeper than %d levels", file, root.Line, ErrTooLarge, maxDepth)
		}
		docs = append(docs, ynDoc{root: root, line: root.Line})
	}
}

// ynDepth measures nesting without recursion, stopping past limit. Aliases
// are not followed: their targets are measured where they are defined.
func ynDepth(root *yaml.Node, limit int) int {
	if limit <= 0 {
		return 0
	}
	type item struct {
		n *yaml.Node
		d int
	}
	stack := []item{{root, 1}}
	max := 0
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if it.d > max {
			max = it.d
			if max > limit {
				return max
			}
		}
		for _, c := range it.n.Content {
			stack = append(stack, item{c, it.d + 1})
		}
	}
	return max
}

// ynResolve follows aliases (bounded: an alias cycle is not possible in
// yaml.v3 output, but a long chain costs nothing to cap).
func ynResolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 64; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

// ynGet returns the value of key in mapping m, or nil when m is not a
// mapping, the key is absent or its value is null.
func ynGet(m *yaml.Node, key string) *yaml.Node {
	m = ynResolve(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key {
			v := ynResolve(m.Content[i+1])
			if v == nil || (v.Kind == yaml.ScalarNode && v.Tag == "!!null") {
				return nil
			}
			return v
		}
	}
	return nil
}

// ynHas reports whether mapping m has key, even with a null value.
func ynHas(m *yaml.Node, key string) bool {
	m = ynResolve(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key {
			return true
		}
	}
	return false
}

// ynPath follows a chain of keys.
func ynPath(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		n = ynGet(n, k)
		if n == nil {
			return nil
		}
	}
	return n
}

// ynStr returns a scalar's text ("" for anything else). Numbers and booleans
// come back as written, which is what ports and label values need.
func ynStr(n *yaml.Node) string {
	n = ynResolve(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return ""
	}
	return n.Value
}

// ynLine is a node's line, or def for a missing node.
func ynLine(n *yaml.Node, def int) int {
	if n == nil || n.Line == 0 {
		return def
	}
	return n.Line
}

// ynList returns a sequence's items (nil for anything else), charging the
// budget.
func (b *ynBudget) list(n *yaml.Node) []*yaml.Node {
	n = ynResolve(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	b.left -= len(n.Content) + 1
	if b.left < 0 {
		b.over = true
		return nil
	}
	out := make([]*yaml.Node, 0, len(n.Content))
	for _, c := range n.Content {
		if c = ynResolve(c); c != nil {
			out = append(out, c)
		}
	}
	return out
}

// ynPairs returns a mapping's key/value pairs in order (nil for anything
// else), charging the budget.
func (b *ynBudget) pairs(n *yaml.Node) [][2]*yaml.Node {
	n = ynResolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	b.left -= len(n.Content)/2 + 1
	if b.left < 0 {
		b.over = true
		return nil
	}
	var out [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := ynResolve(n.Content[i]), ynResolve(n.Content[i+1])
		if k == nil || v == nil || k.Kind != yaml.ScalarNode {
			continue
		}
		out = append(out, [2]*yaml.Node{k, v})
	}
	return out
}

// strMap reads a flat mapping of scalars (label sets, selectors, ConfigMap
// data); nested values are ignored.
func (b *ynBudget) strMap(n *yaml.Node) map[string]string {
	var out map[string]string
	for _, kv := range b.pairs(n) {
		if kv[1].Kind != yaml.ScalarNode {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[kv[0].Value] = ynStr(kv[1])
	}
	return out
}

// strList reads a list of scalars; a single scalar counts as a one-item
// list (hand-written catalogs do that).
func (b *ynBudget) strList(n *yaml.Node) []*yaml.Node {
	n = ynResolve(n)
	if n != nil && n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		return []*yaml.Node{n}
	}
	var out []*yaml.Node
	for _, c := range b.list(n) {
		if c.Kind == yaml.ScalarNode && c.Tag != "!!null" {
			out = append(out, c)
		}
	}
	return out
}

// ynFindScalar walks a subtree without recursion and returns the first
// scalar (key or value) for which match holds, skipping the subtrees whose
// key skip names. It is bounded by the budget.
func (b *ynBudget) findScalar(root *yaml.Node, skip func(key string) bool, match func(string) bool) *yaml.Node {
	stack := []*yaml.Node{root}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n == nil || n.Kind == yaml.AliasNode {
			continue
		}
		if b.left--; b.left < 0 {
			b.over = true
			return nil
		}
		switch n.Kind {
		case yaml.ScalarNode:
			if match(n.Value) {
				return n
			}
		case yaml.MappingNode:
			for i := len(n.Content) - 2; i >= 0; i -= 2 {
				if skip != nil && skip(n.Content[i].Value) {
					continue
				}
				stack = append(stack, n.Content[i], n.Content[i+1])
			}
		default:
			for i := len(n.Content) - 1; i >= 0; i-- {
				stack = append(stack, n.Content[i])
			}
		}
	}
	return nil
}

// same reports whether two subtrees are written the same, ignoring lines,
// comments and quoting (an object repeated in two files). Aliases are
// followed; the walk is iterative and charged to the budget.
func (b *ynBudget) same(x, y *yaml.Node) bool {
	type pair struct{ x, y *yaml.Node }
	stack := []pair{{x, y}}
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		u, v := ynResolve(p.x), ynResolve(p.y)
		if u == nil || v == nil {
			if u != v {
				return false
			}
			continue
		}
		if b.left--; b.left < 0 {
			b.over = true
			return false
		}
		if u.Kind != v.Kind || len(u.Content) != len(v.Content) ||
			(u.Kind == yaml.ScalarNode && (u.Value != v.Value || u.ShortTag() != v.ShortTag())) {
			return false
		}
		for i := range u.Content {
			stack = append(stack, pair{u.Content[i], v.Content[i]})
		}
	}
	return true
}

// ynRecover turns a panic in a parser (a bug, never expected) into an
// input error, so no file can crash the process.
func ynRecover(name string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s: %w: the parser failed on this input (%v); please report it", name, graph.ErrInvalid, r)
	}
}

// ynLimits fills zero limits with the defaults, so a Context built
// without limits is still bounded.
func ynLimits(c *Context) Limits {
	l := DefaultLimits
	if c != nil {
		if c.Limits.MaxDoc > 0 {
			l.MaxDoc = c.Limits.MaxDoc
		}
		if c.Limits.MaxDepth > 0 {
			l.MaxDepth = c.Limits.MaxDepth
		}
		if c.Limits.MaxLine > 0 {
			l.MaxLine = c.Limits.MaxLine
		}
	}
	return l
}

// ynCapList is a list of report lines, keeping at most max entries and counting the
// rest in a final line.
type ynCapList struct {
	items   []string
	dropped int
	max     int
	seen    map[string]bool
}

// add appends a line unless it is already there.
func (l *ynCapList) add(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	if l.seen[s] {
		return
	}
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	l.seen[s] = true
	if len(l.items) >= l.max {
		l.dropped++
		return
	}
	l.items = append(l.items, s)
}

func (l *ynCapList) out(what string) []string {
	if l.dropped > 0 {
		return append(l.items, fmt.Sprintf("… and %d more %s", l.dropped, what))
	}
	return l.items
}
