package simulate

import (
	"fmt"
	"time"

	"github.com/firebreak/firebreak/graph"
)

// PortClass groups ports by how an attacker moves over them: how long a hop
// over such an edge takes (Dwell), how likely one attempt succeeds
// (Probability, for Monte Carlo trials), and whether it is a lateral-movement
// channel (remote administration, file sharing) as opposed to application
// traffic.
type PortClass struct {
	Name        string
	Ports       []graph.PortRange
	Dwell       time.Duration
	Probability float64
	Lateral     bool
}

// DefaultClasses are the port classes used when the config names none,
// fastest first. They encode common incident-response experience: remote
// administration and SMB are how intruders move; databases and web services
// are reachable but slower to turn into a foothold.
func DefaultClasses() []PortClass {
	p := func(specs ...string) []graph.PortRange {
		out := make([]graph.PortRange, 0, len(specs))
		for _, s := range specs {
			r, err := graph.ParsePortRange(s)
			if err != nil {
				panic(err) // constant input
			}
			out = append(out, r)
		}
		return out
	}
	return []PortClass{
		{Name: "remote-admin", Ports: p("22/tcp", "23/tcp", "3389/tcp", "5900/tcp", "5985-5986/tcp"), Dwell: 10 * time.Minute, Probability: 0.6, Lateral: true},
		{Name: "file-sharing", Ports: p("135/tcp", "139/tcp", "445/tcp", "2049/tcp"), Dwell: 15 * time.Minute, Probability: 0.5, Lateral: true},
		{Name: "database", Ports: p("1433/tcp", "1521/tcp", "3306/tcp", "5432-5433/tcp", "6379/tcp", "9042/tcp", "9200/tcp", "11211/tcp", "27017/tcp"), Dwell: 45 * time.Minute, Probability: 0.3},
		{Name: "web", Ports: p("80/tcp", "443/tcp", "8000-8999/tcp", "9000-9999/tcp"), Dwell: 2 * time.Hour, Probability: 0.15},
	}
}

// DefaultOtherClass applies to edges whose ports match no class.
func DefaultOtherClass() PortClass {
	return PortClass{Name: "other", Dwell: time.Hour, Probability: 0.2}
}

// validateClasses checks a class list from config.
func validateClasses(cs []PortClass, other PortClass) error {
	for _, c := range append(append([]PortClass(nil), cs...), other) {
		if c.Dwell < 0 {
			return fmt.Errorf("%w: port class %q: dwell %v is negative", graph.ErrInvalid, c.Name, c.Dwell)
		}
		if c.Probability < 0 || c.Probability > 1 {
			return fmt.Errorf("%w: port class %q: probability %v is not within 0..1", graph.ErrInvalid, c.Name, c.Probability)
		}
	}
	return nil
}

// classify assigns every port set of the index a class: the first class (in
// configured order, fastest first by convention) that any of its ports falls
// in. An edge open on every port takes the first class: an attacker uses the
// fastest way in.
func classify(ix *graph.Index, cs []PortClass, other PortClass) []edgeClass {
	out := make([]edgeClass, len(ix.PortSets()))
	for i, ps := range ix.PortSets() {
		chosen := other
		found := false
		for _, c := range cs {
			if matches(ps, c.Ports) {
				chosen, found = c, true
				break
			}
		}
		if !found && len(ps) == 0 && len(cs) > 0 {
			chosen = cs[0]
		}
		out[i] = edgeClass{
			dwell:   int64(chosen.Dwell / time.Second),
			chance:  probThreshold(chosen.Probability),
			lateral: chosen.Lateral,
		}
	}
	return out
}

// edgeClass is what the traversals need of a class, per port set.
type edgeClass struct {
	dwell   int64  // seconds
	chance  uint64 // success when a uniform uint64 draw is below it
	lateral bool
}

// success reports whether one attempt over an edge of this class succeeds,
// given a uniform draw. Probability 1 always succeeds, 0 never does.
func (c edgeClass) success(draw uint64) bool {
	return c.chance == ^uint64(0) || draw < c.chance
}

func probThreshold(p float64) uint64 {
	switch {
	case p <= 0:
		return 0
	case p >= 1:
		return ^uint64(0)
	}
	return uint64(p * (1 << 63) * 2)
}

func matches(edge, class []graph.PortRange) bool {
	if len(edge) == 0 {
		return false // "any port" is handled by the caller: the first class
	}
	for _, e := range edge {
		if e.Proto == graph.ProtoAny {
			return true
		}
		for _, c := range class {
			if (c.Proto == graph.ProtoAny || c.Proto == e.Proto) && e.Lo <= c.Hi && c.Lo <= e.Hi {
				return true
			}
		}
	}
	return false
}
