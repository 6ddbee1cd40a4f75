package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/firebreak/firebreak/graph"
)

// The OTLP metrics reader of the otel format: JSON (one document, or the
// file exporter's one per line) and YAML.

// otelYAML walks OTLP metrics documents (YAML, or JSON turned into the same
// node tree) along the known paths only.
type otelYAML struct {
	file     string
	lineBase int // JSON documents: the line each starts on
	maxDepth int
	budget   int // node visits left: bounds what YAML aliases can expand to
	roots    int // documents with resourceMetrics
	points   []otelPoint
}

func otelReadYAML(data []byte, file string, lim Limits) ([]otelPoint, error) {
	r := &otelYAML{file: file, maxDepth: lim.MaxDepth}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w: %v", file, graph.ErrInvalid, err)
		}
		if err := r.doc(&doc); err != nil {
			return nil, err
		}
	}
	return r.result()
}

// otelReadJSON reads one OTLP JSON document or many (the file exporter
// writes one per line).
func otelReadJSON(data []byte, file string, lim Limits) ([]otelPoint, error) {
	r := &otelYAML{file: file, maxDepth: lim.MaxDepth}
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			break
		}
		end := min(int(dec.InputOffset()), len(data))
		if err != nil {
			var se *json.SyntaxError
			switch {
			case errors.As(err, &se):
				end = min(int(se.Offset), len(data))
			case errors.Is(err, io.ErrUnexpectedEOF):
				end = len(data)
			}
			return nil, fmt.Errorf("%s:%d: %w: %v", file, 1+bytes.Count(data[:end], []byte{'\n'}), graph.ErrInvalid, err)
		}
		r.lineBase = 1 + bytes.Count(data[:max(end-len(raw), 0)], []byte{'\n'})
		var v any
		vd := json.NewDecoder(bytes.NewReader(raw))
		vd.UseNumber()
		if err := vd.Decode(&v); err != nil {
			return nil, fmt.Errorf("%s:%d: %w: %v", file, r.lineBase, graph.ErrInvalid, err)
		}
		if err := r.doc(otelJSONNode(v)); err != nil {
			return nil, err
		}
	}
	return r.result()
}

func (r *otelYAML) result() ([]otelPoint, error) {
	if r.roots == 0 {
		return nil, fmt.Errorf("%s: %w: no resourceMetrics: not OTLP metrics", r.file, graph.ErrInvalid)
	}
	return r.points, nil
}

// otelJSONNode turns decoded JSON into a YAML node tree.
func otelJSONNode(v any) *yaml.Node {
	switch x := v.(type) {
	case map[string]any:
		n := &yaml.Node{Kind: yaml.MappingNode}
		for _, k := range sortedKeys(x) {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, otelJSONNode(x[k]))
		}
		return n
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		for _, e := range x {
			n.Content = append(n.Content, otelJSONNode(e))
		}
		return n
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Value: fmt.Sprint(v)}
}

// otelSize checks the nesting of a tree and counts its nodes.
func otelSize(n *yaml.Node, depth, maxDepth int, count *int) bool {
	*count++
	if depth > maxDepth {
		return false
	}
	for _, c := range n.Content {
		if !otelSize(c, depth+1, maxDepth, count) {
			return false
		}
	}
	return true
}

func (r *otelYAML) doc(doc *yaml.Node) error {
	nodes := 0
	if !otelSize(doc, 0, r.maxDepth+2, &nodes) {
		return fmt.Errorf("%s:%d: %w: nested deeper than %d", r.file, r.lineBase+doc.Line, ErrTooLarge, r.maxDepth)
	}
	r.budget = 4*nodes + 1024
	rms := r.get(doc, "resourceMetrics")
	if rms == nil {
		return nil
	}
	r.roots++
	for _, rm := range r.items(rms) {
		res := otelKey(r.attrs(r.get(r.get(rm, "resource"), "attributes")))
		sms := r.get(rm, "scopeMetrics")
		if sms == nil {
			sms = r.get(rm, "instrumentationLibraryMetrics") // OTLP before 0.15
		}
		for _, sm := range r.items(sms) {
			for _, m := range r.items(r.get(sm, "metrics")) {
				r.metric(m, res)
			}
		}
	}
	if r.budget < 0 {
		return fmt.Errorf("%s: %w: YAML aliases expand beyond the document", r.file, ErrTooLarge)
	}
	return nil
}

func (r *otelYAML) metric(m *yaml.Node, res string) {
	name := r.str(r.get(m, "name"))
	role := otelRoleOf(name)
	if role == otelOther {
		return
	}
	for _, kind := range []string{"sum", "gauge", "histogram", "exponentialHistogram", "summary"} {
		body := r.get(m, kind)
		if body == nil {
			continue
		}
		temporality := r.str(r.get(body, "aggregationTemporality"))
		cumulative := temporality != "1" && !strings.HasSuffix(temporality, "DELTA")
		for _, dp := range r.items(r.get(body, "dataPoints")) {
			attrs := r.attrs(r.get(dp, "attributes"))
			raw := r.get(dp, "count")
			if kind == "sum" || kind == "gauge" {
				if raw = r.get(dp, "asInt"); raw == nil {
					raw = r.get(dp, "asDouble")
				}
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(r.str(raw)), 64)
			if err != nil {
				v = math.NaN()
			}
			ns, _ := strconv.ParseInt(r.str(r.get(dp, "timeUnixNano")), 10, 64)
			series := fmt.Sprint(role, "\x00", name, "\x00", res, "\x00", otelKey(attrs), "\x00", r.str(r.get(dp, "startTimeUnixNano")))
			r.points = append(r.points, otelPoint{role: role, attrs: attrs, value: v, series: series,
				cumulative: cumulative, time: max(ns/1e9, 0), line: r.lineBase + dp.Line})
		}
	}
}

// resolve follows aliases and document nodes, spending the visit budget.
func (r *otelYAML) resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && i < 16 && (n.Kind == yaml.AliasNode || n.Kind == yaml.DocumentNode); i++ {
		if n.Kind == yaml.AliasNode {
			n = n.Alias
		} else if len(n.Content) > 0 {
			n = n.Content[0]
		} else {
			return nil
		}
	}
	r.budget--
	if r.budget < 0 {
		return nil
	}
	return n
}

// get looks a member up by name, accepting OTLP JSON's camelCase and
// protobuf's snake_case spellings.
func (r *otelYAML) get(n *yaml.Node, key string) *yaml.Node {
	n = r.resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	want := strings.ToLower(key)
	for i := 0; i+1 < len(n.Content); i += 2 {
		if strings.ToLower(strings.ReplaceAll(n.Content[i].Value, "_", "")) == want {
			return n.Content[i+1]
		}
	}
	return nil
}

func (r *otelYAML) items(n *yaml.Node) []*yaml.Node {
	if n = r.resolve(n); n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

func (r *otelYAML) str(n *yaml.Node) string {
	if n = r.resolve(n); n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return ""
	}
	return n.Value
}

// attrs reads OTLP attributes [{key, value: {stringValue|boolValue|intValue|
// doubleValue: …}}] as strings; lists and maps are left out.
func (r *otelYAML) attrs(n *yaml.Node) map[string]string {
	out := map[string]string{}
	for _, kv := range r.items(n) {
		key := r.str(r.get(kv, "key"))
		val := r.resolve(r.get(kv, "value"))
		switch {
		case key == "" || val == nil:
		case val.Kind == yaml.ScalarNode:
			out[key] = r.str(val)
		case val.Kind == yaml.MappingNode && len(val.Content) == 2 && val.Content[1].Kind == yaml.ScalarNode:
			out[key] = r.str(val.Content[1])
		case val.Kind == yaml.MappingNode && len(val.Content) == 0:
			out[key] = ""
		}
	}
	return out
}
