package graph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strconv"

	"gopkg.in/yaml.v3"
)

// The wire shapes of the native format. Decoding never goes through these
// (the strict reader does, to keep line numbers); they exist so that encoding
// and the CLI's --json listings use exactly the native field names.

// NodeDoc is a node as written in the native format.
type NodeDoc struct {
	ID          string   `json:"id" yaml:"id"`
	Kind        string   `json:"kind" yaml:"kind"`
	Name        string   `json:"name,omitempty" yaml:"name,omitempty"`
	Labels      LabelMap `json:"labels,omitempty" yaml:"labels,omitempty"`
	Addresses   []string `json:"addresses,omitempty" yaml:"addresses,omitempty,flow"`
	RunsOn      string   `json:"runs_on,omitempty" yaml:"runs_on,omitempty"`
	CrownJewel  bool     `json:"crown_jewel,omitempty" yaml:"crown_jewel,omitempty"`
	Sensitivity string   `json:"sensitivity,omitempty" yaml:"sensitivity,omitempty"`
	Enforce     string   `json:"enforce,omitempty" yaml:"enforce,omitempty"`
	Listens     PortList `json:"listens,omitempty" yaml:"listens,omitempty,flow"`
	Sources     []string `json:"sources,omitempty" yaml:"sources,omitempty,flow"`
}

// ObservedDoc is an edge's observed traffic as written in the native format.
type ObservedDoc struct {
	Count     uint64 `json:"count,omitempty" yaml:"count,omitempty"`
	Bytes     uint64 `json:"bytes,omitempty" yaml:"bytes,omitempty"`
	FirstSeen int64  `json:"first_seen,omitempty" yaml:"first_seen,omitempty"`
	LastSeen  int64  `json:"last_seen,omitempty" yaml:"last_seen,omitempty"`
}

// EdgeDoc is an edge as written in the native format.
type EdgeDoc struct {
	From       string       `json:"from" yaml:"from"`
	To         string       `json:"to" yaml:"to"`
	Ports      PortList     `json:"ports,omitempty" yaml:"ports,omitempty,flow"`
	Dependency string       `json:"dependency" yaml:"dependency"`
	Group      string       `json:"group,omitempty" yaml:"group,omitempty"`
	Observed   *ObservedDoc `json:"observed,omitempty" yaml:"observed,omitempty"`
	Sources    []string     `json:"sources,omitempty" yaml:"sources,omitempty,flow"`
}

// StepDoc is a journey step as written in the native format.
type StepDoc struct {
	Name     string     `json:"name,omitempty" yaml:"name,omitempty"`
	Requires []string   `json:"requires,omitempty" yaml:"requires,omitempty,flow"`
	AnyOf    [][]string `json:"any_of,omitempty" yaml:"any_of,omitempty,flow"`
}

// WeightDoc is a journey's weight.
type WeightDoc struct {
	CustomersPerHour float64 `json:"customers_per_hour" yaml:"customers_per_hour"`
	RevenuePerHour   float64 `json:"revenue_per_hour" yaml:"revenue_per_hour"`
}

// JourneyDoc is a journey as written in the native format.
type JourneyDoc struct {
	ID     string    `json:"id" yaml:"id"`
	Name   string    `json:"name,omitempty" yaml:"name,omitempty"`
	Tier   string    `json:"tier,omitempty" yaml:"tier,omitempty"`
	Weight WeightDoc `json:"weight" yaml:"weight"`
	Steps  []StepDoc `json:"steps" yaml:"steps"`
}

// TopologyFile is a whole Topology document.
type TopologyFile struct {
	APIVersion  string    `json:"apiVersion" yaml:"apiVersion"`
	Kind        string    `json:"kind" yaml:"kind"`
	Description string    `json:"description,omitempty" yaml:"description,omitempty"`
	Nodes       []NodeDoc `json:"nodes" yaml:"nodes"`
	Edges       []EdgeDoc `json:"edges" yaml:"edges"`
}

// JourneysFile is a whole Journeys document.
type JourneysFile struct {
	APIVersion  string       `json:"apiVersion" yaml:"apiVersion"`
	Kind        string       `json:"kind" yaml:"kind"`
	Description string       `json:"description,omitempty" yaml:"description,omitempty"`
	Journeys    []JourneyDoc `json:"journeys" yaml:"journeys"`
}

func portStrings(ps []PortRange) []string {
	if len(ps) == 0 {
		return nil
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// Doc converts a node to its wire shape.
func (n Node) Doc() NodeDoc {
	d := NodeDoc{
		ID: n.ID, Kind: string(n.Kind), Name: n.Name, Labels: n.Labels, RunsOn: n.RunsOn,
		CrownJewel: n.CrownJewel, Sensitivity: string(n.Sensitivity), Enforce: n.Enforce,
		Listens: portStrings(n.Listens), Sources: n.Sources,
	}
	for _, a := range n.Addresses {
		d.Addresses = append(d.Addresses, FormatAddress(a))
	}
	return d
}

// Doc converts an edge to its wire shape.
func (e Edge) Doc() EdgeDoc {
	d := EdgeDoc{From: e.From, To: e.To, Ports: portStrings(e.Ports), Dependency: e.Dependency.String(), Group: e.Group, Sources: e.Sources}
	if e.Observed != nil {
		o := ObservedDoc(*e.Observed)
		d.Observed = &o
	}
	return d
}

// Doc converts a journey to its wire shape.
func (j Journey) Doc() JourneyDoc {
	d := JourneyDoc{ID: j.ID, Name: j.Name, Tier: j.Tier, Weight: WeightDoc{j.CustomersPerHour, j.RevenuePerHour}}
	for _, s := range j.Steps {
		d.Steps = append(d.Steps, StepDoc{Name: s.Name, Requires: s.Requires, AnyOf: s.AnyOf})
	}
	return d
}

// TopologyDoc returns the model's nodes and edges as a Topology document.
func (m *Model) TopologyDoc(description string) TopologyFile {
	f := TopologyFile{APIVersion: APIVersion, Kind: DocKindTopology, Description: description,
		Nodes: make([]NodeDoc, 0, len(m.Nodes)), Edges: make([]EdgeDoc, 0, len(m.Edges))}
	for _, n := range m.Nodes {
		f.Nodes = append(f.Nodes, n.Doc())
	}
	for _, e := range m.Edges {
		f.Edges = append(f.Edges, e.Doc())
	}
	return f
}

// JourneysDoc returns the model's journeys as a Journeys document.
func (m *Model) JourneysDoc(description string) JourneysFile {
	f := JourneysFile{APIVersion: APIVersion, Kind: DocKindJourneys, Description: description,
		Journeys: make([]JourneyDoc, 0, len(m.Journeys))}
	for _, j := range m.Journeys {
		f.Journeys = append(f.Journeys, j.Doc())
	}
	return f
}

// WriteYAML encodes v (a TopologyFile or JourneysFile) as YAML.
func WriteYAML(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// WriteJSON encodes v as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Model converts a stored node back. Stored documents were validated on the
// way in, so errors here mean a damaged workspace.
func (d NodeDoc) Model() (Node, error) {
	n := Node{ID: d.ID, Kind: Kind(d.Kind), Name: d.Name, Labels: d.Labels, RunsOn: d.RunsOn, CrownJewel: d.CrownJewel,
		Sensitivity: Sensitivity(d.Sensitivity), Enforce: d.Enforce, Sources: d.Sources}
	for _, a := range d.Addresses {
		p, err := ParseAddress(a)
		if err != nil {
			return n, fmt.Errorf("node %q address %q: %w", d.ID, a, err)
		}
		n.Addresses = append(n.Addresses, p)
	}
	ps, err := parsePorts(d.Listens)
	if err != nil {
		return n, fmt.Errorf("node %q: %w", d.ID, err)
	}
	n.Listens = ps
	return n, nil
}

// Model converts a stored edge back.
func (d EdgeDoc) Model() (Edge, error) {
	e := Edge{From: d.From, To: d.To, Group: d.Group, Sources: d.Sources}
	dep, err := ParseDependency(d.Dependency)
	if err != nil {
		return e, fmt.Errorf("edge %s->%s: %w", d.From, d.To, err)
	}
	e.Dependency = dep
	if e.Ports, err = parsePorts(d.Ports); err != nil {
		return e, fmt.Errorf("edge %s->%s: %w", d.From, d.To, err)
	}
	if d.Observed != nil {
		o := Observed(*d.Observed)
		e.Observed = &o
	}
	return e, nil
}

// Model converts a stored journey back.
func (d JourneyDoc) Model() Journey {
	j := Journey{ID: d.ID, Name: d.Name, Tier: d.Tier, CustomersPerHour: d.Weight.CustomersPerHour, RevenuePerHour: d.Weight.RevenuePerHour}
	for _, s := range d.Steps {
		j.Steps = append(j.Steps, Step{Name: s.Name, Requires: s.Requires, AnyOf: s.AnyOf})
	}
	return j
}

func parsePorts(ss []string) ([]PortRange, error) {
	var out []PortRange
	for _, s := range ss {
		p, err := ParsePortRange(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// PortList is a list of ports as the native format writes them ("443/tcp").
// Reading JSON it also takes bare numbers, as the YAML reader does.
type PortList []string

// UnmarshalJSON accepts strings and integers. Port lists are on every edge of
// a big import, so the plain shape (no escapes) is scanned directly.
func (p *PortList) UnmarshalJSON(b []byte) error {
	if out, ok := scanPortList(b); ok {
		*p = out
		return nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make(PortList, 0, len(raw))
	for _, r := range raw {
		var s string
		if err := json.Unmarshal(r, &s); err == nil {
			out = append(out, s)
			continue
		}
		var n uint64
		if err := json.Unmarshal(r, &n); err != nil {
			return &json.UnmarshalTypeError{Value: string(r), Type: reflect.TypeOf(""), Field: "ports"}
		}
		out = append(out, strconv.FormatUint(n, 10))
	}
	*p = out
	return nil
}

// LabelMap is a node's labels. Reading JSON it also takes numbers and
// booleans as values, kept as written, as the YAML reader does.
type LabelMap map[string]string

// UnmarshalJSON accepts scalar values.
func (l *LabelMap) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make(LabelMap, len(raw))
	for k, r := range raw {
		var s string
		if err := json.Unmarshal(r, &s); err == nil {
			out[k] = s
			continue
		}
		if len(r) == 0 || r[0] == '{' || r[0] == '[' || string(r) == "null" {
			return &json.UnmarshalTypeError{Value: string(r), Type: reflect.TypeOf(""), Field: "labels." + k}
		}
		out[k] = string(r)
	}
	*l = out
	return nil
}

// WriteTopologyStream writes the model's Topology as JSON with one node or
// edge per line: it streams (no whole-document value in memory), and on a
// big estate every element has its own line for error messages.
func WriteTopologyStream(w io.Writer, m *Model, description string) error {
	bw := &errWriter{w: w}
	head, _ := json.Marshal(struct {
		APIVersion  string `json:"apiVersion"`
		Kind        string `json:"kind"`
		Description string `json:"description,omitempty"`
	}{APIVersion, DocKindTopology, description})
	bw.write(head[:len(head)-1])
	bw.write([]byte(",\n\"nodes\": ["))
	streamList(bw, len(m.Nodes), func(i int) any { return m.Nodes[i].Doc() })
	bw.write([]byte("],\n\"edges\": ["))
	streamList(bw, len(m.Edges), func(i int) any { return m.Edges[i].Doc() })
	bw.write([]byte("]}\n"))
	return bw.err
}

// WriteJourneysStream writes the model's Journeys document, one per line.
func WriteJourneysStream(w io.Writer, m *Model, description string) error {
	bw := &errWriter{w: w}
	head, _ := json.Marshal(struct {
		APIVersion  string `json:"apiVersion"`
		Kind        string `json:"kind"`
		Description string `json:"description,omitempty"`
	}{APIVersion, DocKindJourneys, description})
	bw.write(head[:len(head)-1])
	bw.write([]byte(",\n\"journeys\": ["))
	streamList(bw, len(m.Journeys), func(i int) any { return m.Journeys[i].Doc() })
	bw.write([]byte("]}\n"))
	return bw.err
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) write(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}

func streamList(w *errWriter, n int, doc func(i int) any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for i := 0; i < n && w.err == nil; i++ {
		buf.Reset()
		buf.WriteByte('\n')
		if err := enc.Encode(doc(i)); err != nil {
			w.err = err
			return
		}
		b := bytes.TrimRight(buf.Bytes(), "\n")
		if i < n-1 {
			b = append(b, ',')
		}
		w.write(b)
	}
	if n > 0 {
		w.write([]byte("\n"))
	}
}

// scanPortList reads ["443/tcp", 53, ...] without allocating per element,
// reporting false for anything else (escapes, other types), which the caller
// then hands to encoding/json.
func scanPortList(b []byte) (PortList, bool) {
	i := 0
	skip := func() {
		for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
			i++
		}
	}
	skip()
	if i >= len(b) || b[i] != '[' {
		return nil, false
	}
	i++
	var out PortList
	for {
		skip()
		if i < len(b) && b[i] == ']' && len(out) == 0 {
			i++
			break
		}
		switch {
		case i < len(b) && b[i] == '"':
			j := i + 1
			for j < len(b) && b[j] != '"' && b[j] != '\\' {
				j++
			}
			if j >= len(b) || b[j] != '"' {
				return nil, false
			}
			out = append(out, string(b[i+1:j]))
			i = j + 1
		case i < len(b) && b[i] >= '0' && b[i] <= '9':
			j := i
			for j < len(b) && b[j] >= '0' && b[j] <= '9' {
				j++
			}
			out = append(out, string(b[i:j]))
			i = j
		default:
			return nil, false
		}
		skip()
		if i < len(b) && b[i] == ',' {
			i++
			continue
		}
		if i < len(b) && b[i] == ']' {
			i++
			break
		}
		return nil, false
	}
	skip()
	return out, i == len(b)
}
