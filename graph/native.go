package graph

import (
	"bytes"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"
)

// The native format's header. A file is either a Topology (nodes, edges) or a
// Journeys map; both may be YAML or JSON.
const (
	APIVersion       = "firebreak/v1"
	DocKindTopology  = "Topology"
	DocKindJourneys  = "Journeys"
	maxIDLen         = 256
	maxNativeNesting = 64
)

// Document is one parsed native file.
type Document struct {
	File     string
	Kind     string
	Nodes    []Node
	Edges    []Edge
	Journeys []Journey
}

// IsNative reports whether data looks like a firebreak native file, for format
// detection: it names apiVersion firebreak/v1 near the top.
func IsNative(data []byte) bool {
	head := data
	if len(head) > 4096 {
		head = head[:4096]
	}
	return bytes.Contains(head, []byte(APIVersion)) && bytes.Contains(head, []byte("apiVersion"))
}

// ParseNative reads one native YAML or JSON file strictly. Every problem is
// reported as an *InputError naming file, line and field; all problems found
// are joined, up to a bound.
func ParseNative(file string, data []byte) (*Document, error) {
	if len(data) > streamThreshold && looksJSON(data) {
		return parseNativeJSON(file, data)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &InputError{Pos: Pos{File: file, Line: yamlErrLine(err)}, Msg: cleanYAMLErr(err)}
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		return nil, &InputError{Pos: Pos{File: file, Line: 1}, Msg: "empty file"}
	}
	if depth(&root, 0) > maxNativeNesting {
		return nil, &InputError{Pos: Pos{File: file, Line: 1}, Msg: fmt.Sprintf("nested deeper than %d levels", maxNativeNesting)}
	}
	errs := &errList{}
	r := &yreader{file: file, errs: errs}
	top := r.object(root.Content[0], "")
	doc := &Document{File: file}
	if v := top.str("apiVersion", true); v != "" && v != APIVersion {
		r.fail(top.get("apiVersion"), "apiVersion", "unsupported version %q (want %q)", v, APIVersion)
	}
	doc.Kind = top.str("kind", true)
	top.str("description", false)
	switch doc.Kind {
	case DocKindTopology:
		for i, n := range top.list("nodes") {
			nd := r.node(n, fmt.Sprintf("nodes[%d]", i))
			nd.Pos.Path = fmt.Sprintf("nodes[%d]", i)
			doc.Nodes = append(doc.Nodes, nd)
		}
		for i, n := range top.list("edges") {
			e := r.edge(n, fmt.Sprintf("edges[%d]", i))
			e.Pos.Path = fmt.Sprintf("edges[%d]", i)
			doc.Edges = append(doc.Edges, e)
		}
	case DocKindJourneys:
		for i, n := range top.list("journeys") {
			j := r.journey(n, fmt.Sprintf("journeys[%d]", i))
			j.Pos.Path = fmt.Sprintf("journeys[%d]", i)
			doc.Journeys = append(doc.Journeys, j)
		}
	case "":
	default:
		r.fail(top.get("kind"), "kind", "unknown kind %q (want %s or %s)", doc.Kind, DocKindTopology, DocKindJourneys)
	}
	top.done()
	if err := errs.err(); err != nil {
		return nil, err
	}
	return doc, nil
}

func depth(n *yaml.Node, d int) int {
	if d > maxNativeNesting {
		return d
	}
	max := d
	for _, c := range n.Content {
		if x := depth(c, d+1); x > max {
			max = x
		}
	}
	return max
}

// yaml.v3 errors read "yaml: line N: msg"; pull the line out so the error has
// the same shape as ours.
func yamlErrLine(err error) int {
	var line int
	s := err.Error()
	if i := strings.Index(s, "line "); i >= 0 {
		fmt.Sscanf(s[i:], "line %d", &line)
	}
	return line
}

func cleanYAMLErr(err error) string {
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	if i := strings.Index(s, "line "); i == 0 {
		if j := strings.Index(s, ": "); j > 0 {
			s = s[j+2:]
		}
	}
	return "not valid YAML or JSON: " + s
}

// checkID enforces the id rules: non-empty, bounded, no white space, control
// characters or commas (the CLI separates id lists with commas).
func checkID(id string) string {
	if id == "" {
		return "must not be empty"
	}
	if len(id) > maxIDLen {
		return fmt.Sprintf("longer than %d characters", maxIDLen)
	}
	ascii := true
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c >= 0x80 {
			ascii = false
			break
		}
		if c <= ' ' || c == 0x7f || c == ',' {
			return fmt.Sprintf("%q: ids may not contain white space, control characters or commas", id)
		}
	}
	if ascii {
		return ""
	}
	for _, c := range id {
		if unicode.IsSpace(c) || unicode.IsControl(c) || c == ',' {
			return fmt.Sprintf("%q: ids may not contain white space, control characters or commas", id)
		}
	}
	return ""
}

func (r *yreader) id(o *yobj, key string) string {
	id := o.str(key, true)
	if id != "" {
		if msg := checkID(id); msg != "" {
			r.fail(o.get(key), o.field(key), "%s", msg)
			return ""
		}
	}
	return id
}

func (r *yreader) node(n *yaml.Node, path string) Node {
	o := r.object(n, path)
	nd := Node{Pos: r.pos(o.n)}
	nd.ID = r.id(o, "id")
	nd.Kind = Kind(o.str("kind", true))
	if nd.Kind != "" && !nd.Kind.valid() {
		r.fail(o.get("kind"), o.field("kind"), "unknown kind %q (want one of %s)", nd.Kind, joinKinds())
	}
	nd.Name = o.str("name", false)
	nd.Labels = o.strMap("labels")
	for i, a := range o.strList("addresses") {
		p, err := ParseAddress(a.s)
		if err != nil {
			r.errs.add(Pos{File: r.file, Line: a.line}, fmt.Sprintf("%s.addresses[%d]", path, i), "%q is not an IP address or CIDR", a.s)
			continue
		}
		nd.Addresses = append(nd.Addresses, p)
	}
	nd.RunsOn = o.str("runs_on", false)
	nd.CrownJewel = o.boolean("crown_jewel")
	nd.Sensitivity = Sensitivity(o.str("sensitivity", false))
	if !nd.Sensitivity.valid() {
		r.fail(o.get("sensitivity"), o.field("sensitivity"), "unknown sensitivity %q (want low, medium, high or critical)", nd.Sensitivity)
	}
	nd.Enforce = o.str("enforce", false)
	if msg := checkEnforce(nd.Enforce); msg != "" {
		r.fail(o.get("enforce"), o.field("enforce"), "%s", msg)
	}
	nd.Listens = r.ports(o, "listens")
	nd.Sources = itemsOf(o.strList("sources"))
	o.done()
	return nd
}

func joinKinds() string {
	s := make([]string, len(Kinds))
	for i, k := range Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

func itemsOf(items []strItem) []string {
	if len(items) == 0 {
		return nil
	}
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.s
	}
	return out
}

// ParseAddress reads an IP address or a CIDR into a prefix.
func ParseAddress(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// FormatAddress writes a prefix back as the user wrote it: a bare IP for a
// single host.
func FormatAddress(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

// checkEnforce validates an enforce target: local, netns:NAME or
// agent:https://HOST:PORT.
func checkEnforce(s string) string {
	switch {
	case s == "" || s == "local":
		return ""
	case strings.HasPrefix(s, "netns:"):
		name := strings.TrimPrefix(s, "netns:")
		if name == "" || strings.ContainsAny(name, "/ \t") || name == "." || name == ".." {
			return fmt.Sprintf("%q: netns needs a plain namespace name", s)
		}
		return ""
	case strings.HasPrefix(s, "agent:"):
		u, err := url.Parse(strings.TrimPrefix(s, "agent:"))
		if err != nil || u.Scheme != "https" || u.Host == "" || u.Port() == "" {
			return fmt.Sprintf("%q: agent needs https://HOST:PORT (the agent speaks mutual TLS only)", s)
		}
		return ""
	}
	return fmt.Sprintf("%q: want local, netns:NAME or agent:https://HOST:PORT", s)
}

func (r *yreader) ports(o *yobj, key string) []PortRange {
	var out []PortRange
	for i, n := range o.list(key) {
		f := fmt.Sprintf("%s[%d]", o.field(key), i)
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!int") {
			r.fail(n, f, "want a port like 443, \"443/tcp\" or \"8000-8100/udp\", got %s", kindName(n))
			continue
		}
		p, err := ParsePortRange(n.Value)
		if err != nil {
			r.fail(n, f, "%q: want N, N/tcp, N/udp, LO-HI/proto or any", n.Value)
			continue
		}
		out = append(out, p)
	}
	return out
}

func (r *yreader) edge(n *yaml.Node, path string) Edge {
	o := r.object(n, path)
	e := Edge{Pos: r.pos(o.n)}
	e.From = r.id(o, "from")
	e.To = r.id(o, "to")
	e.Ports = r.ports(o, "ports")
	if d := o.str("dependency", false); d != "" {
		dep, err := ParseDependency(d)
		if err != nil {
			r.fail(o.get("dependency"), o.field("dependency"), "unknown dependency %q (want hard, soft or none)", d)
		}
		e.Dependency = dep
	}
	e.Group = o.str("group", false)
	if v := o.get("observed"); v != nil {
		ob := r.object(v, o.field("observed"))
		e.Observed = &Observed{
			Count:     ob.uint("count"),
			Bytes:     ob.uint("bytes"),
			FirstSeen: ob.integer("first_seen"),
			LastSeen:  ob.integer("last_seen"),
		}
		ob.done()
	}
	e.Sources = itemsOf(o.strList("sources"))
	o.done()
	return e
}

func (r *yreader) journey(n *yaml.Node, path string) Journey {
	o := r.object(n, path)
	j := Journey{Pos: r.pos(o.n)}
	j.ID = r.id(o, "id")
	j.Name = o.str("name", false)
	j.Tier = o.str("tier", false)
	if v := o.get("weight"); v != nil {
		w := r.object(v, o.field("weight"))
		j.CustomersPerHour = w.number("customers_per_hour")
		j.RevenuePerHour = w.number("revenue_per_hour")
		w.done()
	}
	steps := o.list("steps")
	if len(steps) == 0 && o.vals["steps"] == nil {
		o.missing("steps")
	}
	for i, sn := range steps {
		j.Steps = append(j.Steps, r.step(sn, fmt.Sprintf("%s.steps[%d]", path, i)))
	}
	o.done()
	return j
}

func (r *yreader) step(n *yaml.Node, path string) Step {
	o := r.object(n, path)
	s := Step{Pos: r.pos(o.n), refPos: map[string]int{}}
	s.Name = o.str("name", false)
	for _, it := range o.strList("requires") {
		s.Requires = append(s.Requires, it.s)
		s.refPos[it.s] = it.line
	}
	for i, alt := range o.list("any_of") {
		f := fmt.Sprintf("%s.any_of[%d]", path, i)
		if alt.Kind != yaml.SequenceNode {
			r.fail(alt, f, "want a list of alternative node ids, got %s", kindName(alt))
			continue
		}
		var ids []string
		for k, c := range alt.Content {
			c = resolve(c)
			if c.Kind != yaml.ScalarNode || c.Tag != "!!str" {
				r.fail(c, fmt.Sprintf("%s[%d]", f, k), "want a string, got %s (quote it)", kindName(c))
				continue
			}
			ids = append(ids, c.Value)
			s.refPos[c.Value] = r.lineBase + c.Line
		}
		if len(ids) == 0 {
			r.fail(alt, f, "an any_of list needs at least one node")
		}
		s.AnyOf = append(s.AnyOf, ids)
	}
	if len(s.Requires) == 0 && len(s.AnyOf) == 0 {
		r.fail(o.n, path, "a step needs requires or any_of")
	}
	o.done()
	return s
}
