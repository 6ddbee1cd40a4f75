package importer

import (
	"fmt"
	"sort"
	"strings"

	"github.com/firebreak/firebreak/graph"
	"gopkg.in/yaml.v3"
)

// Label selectors and port sets of NetworkPolicies.

type k8sSelector struct {
	match map[string]string
	exprs []k8sExpr
	bad   bool // an unknown operator: matches nothing
}

type k8sExpr struct {
	key, op string
	values  []string
}

// k8sPorts is a set of ports; all means every port of every protocol.
type k8sPorts struct {
	all bool
	r   []graph.PortRange
}

func (s k8sPorts) empty() bool { return !s.all && len(s.r) == 0 }

func (s k8sPorts) String() string {
	if s.all {
		return "every port"
	}
	var parts []string
	for _, r := range s.r {
		parts = append(parts, r.String())
	}
	return strings.Join(parts, " ")
}

// k8sNormalize sorts ranges and merges overlapping or adjacent ones.
func k8sNormalize(rs []graph.PortRange) []graph.PortRange {
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].Proto != rs[j].Proto {
			return rs[i].Proto < rs[j].Proto
		}
		return rs[i].Lo < rs[j].Lo
	})
	var out []graph.PortRange
	for _, r := range rs {
		if n := len(out); n > 0 && out[n-1].Proto == r.Proto && uint32(r.Lo) <= uint32(out[n-1].Hi)+1 {
			out[n-1].Hi = max(out[n-1].Hi, r.Hi)
			continue
		}
		out = append(out, r)
	}
	return out
}

func k8sUnion(a, b k8sPorts) k8sPorts {
	if a.all || b.all {
		return k8sPorts{all: true}
	}
	return k8sPorts{r: k8sNormalize(append(append([]graph.PortRange{}, a.r...), b.r...))}
}

func k8sIntersect(a, b k8sPorts) k8sPorts {
	switch {
	case a.all:
		return b
	case b.all:
		return a
	}
	var out []graph.PortRange
	for _, x := range a.r {
		for _, y := range b.r {
			if x.Proto == y.Proto {
				if lo, hi := max(x.Lo, y.Lo), min(x.Hi, y.Hi); lo <= hi {
					out = append(out, graph.PortRange{Proto: x.Proto, Lo: lo, Hi: hi})
				}
			}
		}
	}
	return k8sPorts{r: k8sNormalize(out)}
}

// selector reads a LabelSelector of file; a present but empty one matches
// all.
func (p *k8sParser) selector(file string, n *yaml.Node) *k8sSelector {
	s := &k8sSelector{match: p.b.strMap(ynGet(n, "matchLabels"))}
	for _, e := range p.b.list(ynGet(n, "matchExpressions")) {
		x := k8sExpr{key: ynStr(ynGet(e, "key")), op: ynStr(ynGet(e, "operator"))}
		for _, v := range p.b.strList(ynGet(e, "values")) {
			x.values = append(x.values, v.Value)
		}
		switch x.op {
		case "In", "NotIn", "Exists", "DoesNotExist":
		default:
			p.notes.add("%s:%d: selector operator %q is not In, NotIn, Exists or DoesNotExist: the selector matches nothing", file, ynLine(e, 0), x.op)
			s.bad = true
		}
		s.exprs = append(s.exprs, x)
	}
	return s
}

func (s *k8sSelector) matches(labels map[string]string) bool {
	if s.bad {
		return false
	}
	if !k8sLabelsMatch(s.match, labels) {
		return false
	}
	for _, x := range s.exprs {
		v, ok := labels[x.key]
		in := false
		for _, want := range x.values {
			in = in || (ok && v == want)
		}
		switch x.op {
		case "In":
			if !in {
				return false
			}
		case "NotIn":
			if in {
				return false
			}
		case "Exists":
			if !ok {
				return false
			}
		case "DoesNotExist":
			if ok {
				return false
			}
		}
	}
	return true
}

func (s *k8sSelector) String() string {
	parts := []string{}
	if l := k8sLabelString(s.match); l != "" {
		parts = append(parts, l)
	}
	for _, x := range s.exprs {
		switch x.op {
		case "In", "NotIn":
			parts = append(parts, fmt.Sprintf("%s %s (%s)", x.key, strings.ToLower(x.op), strings.Join(x.values, ",")))
		case "Exists":
			parts = append(parts, x.key)
		default:
			parts = append(parts, "!"+x.key)
		}
	}
	if len(parts) == 0 {
		return "{} (all)"
	}
	return strings.Join(parts, ",")
}
