// Package simulate computes what a compromise, a failure or a containment does
// to a compiled topology: compromise spread with hop counts and attack paths,
// failure propagation through hard and soft dependencies and replica groups,
// and the status of every customer journey. It follows the semantics of
// DESIGN.md exactly; tests hold it to them on hand-drawn graphs.
package simulate

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/firebreak/firebreak/graph"
)

// Sentinel errors. Both are graph.ErrInvalid, so the CLI reports them as bad
// input (exit 2).
var (
	ErrUnknownNode = fmt.Errorf("%w: unknown node", graph.ErrInvalid)
	ErrUnknownEdge = fmt.Errorf("%w: unknown edge", graph.ErrInvalid)
)

// EdgeRef names an edge by its endpoints.
type EdgeRef struct{ From, To string }

func (e EdgeRef) String() string { return e.From + ":" + e.To }

// ParseEdgeRef reads FROM:TO. Node ids may themselves contain colons, so every
// split point is tried and the one naming two known nodes wins.
func ParseEdgeRef(s string, known func(string) bool) (EdgeRef, error) {
	var found []EdgeRef
	for i := 0; i < len(s); i++ {
		if s[i] == ':' && known(s[:i]) && known(s[i+1:]) {
			found = append(found, EdgeRef{s[:i], s[i+1:]})
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return EdgeRef{}, fmt.Errorf("%w %q: want FROM:TO naming two known nodes", ErrUnknownEdge, s)
	}
	return EdgeRef{}, fmt.Errorf("%w %q: ambiguous, more than one way to split it into FROM:TO", ErrUnknownEdge, s)
}

// Scenario is what the responder says happened and what they would contain.
type Scenario struct {
	Compromised []string
	Failed      []string
	Quarantined []string
	Blocked     []EdgeRef
	// CompromisedOffline takes compromised nodes offline: they fail too.
	CompromisedOffline bool
	// LateralOnly spreads the compromise only over edges whose port class is
	// a lateral-movement class.
	LateralOnly bool
	// Timed computes each reached node's earliest compromise time from the
	// edges' dwell times, and the earliest attack path.
	Timed bool
	// At limits the blast radius to what is compromised by this time after
	// the seeds (implies Timed). Zero means no limit.
	At time.Duration
}

// Options are the model choices a site makes once, in config.
type Options struct {
	// ServiceCompromisesHost makes a compromised node's runs_on host
	// compromised as well (container escape assumed).
	ServiceCompromisesHost bool
	// Classes are the port classes, in priority order; nil means
	// DefaultClasses. Other applies to edges no class matches; a zero value
	// means DefaultOtherClass.
	Classes []PortClass
	Other   PortClass
}

// Validate checks the options a config produced.
func (o Options) Validate() error {
	return validateClasses(o.withDefaults().Classes, o.withDefaults().Other)
}

func (o Options) withDefaults() Options {
	if o.Classes == nil {
		o.Classes = DefaultClasses()
	}
	if o.Other.Name == "" && o.Other.Dwell == 0 && o.Other.Probability == 0 {
		o.Other = DefaultOtherClass()
	}
	return o
}

// Engine runs scenarios against one compiled index. It is safe for concurrent
// use: each run borrows its own scratch space.
type Engine struct {
	ix      *graph.Index
	opts    Options
	classes []edgeClass // per port set
	pool    sync.Pool
}

// New returns an engine over ix. Options should have been validated.
func New(ix *graph.Index, opts Options) *Engine {
	opts = opts.withDefaults()
	e := &Engine{ix: ix, opts: opts, classes: classify(ix, opts.Classes, opts.Other)}
	e.pool.New = func() any { return newScratch(ix) }
	return e
}

// Index returns the engine's index.
func (e *Engine) Index() *graph.Index { return e.ix }

// seeds is a scenario resolved to dense ids, sorted and de-duplicated.
type seeds struct {
	compromised, failed, quarantined []int32
	blocked                          []uint32 // forward edge positions
	blockedRefs                      []EdgeRef
}

func (e *Engine) resolve(s Scenario) (seeds, error) {
	var out seeds
	var errs []error
	ids := func(list []string, what string) []int32 {
		var d []int32
		for _, id := range list {
			x, ok := e.ix.Lookup(id)
			if !ok {
				errs = append(errs, fmt.Errorf("%s %q: %w", what, id, ErrUnknownNode))
				continue
			}
			d = append(d, x)
		}
		return sortUnique(d)
	}
	out.compromised = ids(s.Compromised, "compromise")
	out.failed = ids(s.Failed, "fail")
	out.quarantined = ids(s.Quarantined, "quarantine")
	for _, b := range s.Blocked {
		f, ok1 := e.ix.Lookup(b.From)
		t, ok2 := e.ix.Lookup(b.To)
		if !ok1 || !ok2 {
			errs = append(errs, fmt.Errorf("block %s: %w", b, ErrUnknownNode))
			continue
		}
		pos, ok := e.ix.FindEdge(f, t)
		if !ok {
			errs = append(errs, fmt.Errorf("block %s: %w (no such edge)", b, ErrUnknownEdge))
			continue
		}
		out.blocked = append(out.blocked, pos)
	}
	sort.Slice(out.blocked, func(i, j int) bool { return out.blocked[i] < out.blocked[j] })
	out.blocked = uniqueU32(out.blocked)
	for _, p := range out.blocked {
		out.blockedRefs = append(out.blockedRefs, EdgeRef{e.ix.ID(e.ix.Source(p)), e.ix.ID(e.ix.Target(p))})
	}
	return out, errors.Join(errs...)
}

func sortUnique(d []int32) []int32 {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	out := d[:0]
	for i, x := range d {
		if i == 0 || x != d[i-1] {
			out = append(out, x)
		}
	}
	return out
}

func uniqueU32(d []uint32) []uint32 {
	out := d[:0]
	for i, x := range d {
		if i == 0 || x != d[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// Run simulates one scenario: compromise spread, failure and degradation, and
// every journey. Unknown node ids or edges are reported together as
// ErrUnknownNode / ErrUnknownEdge.
func (e *Engine) Run(s Scenario) (*Result, error) { return e.run(s, true) }

// BlastRadius computes only the compromise spread of a scenario (Reached),
// leaving failure and journeys out: what a responder asks first, and what
// a caller updating a view on every keystroke needs.
func (e *Engine) BlastRadius(s Scenario) (*Result, error) { return e.run(s, false) }

func (e *Engine) run(s Scenario, full bool) (*Result, error) {
	if s.At < 0 {
		return nil, fmt.Errorf("%w: --at %v is negative", graph.ErrInvalid, s.At)
	}
	sd, err := e.resolve(s)
	if err != nil {
		return nil, err
	}
	sc := e.pool.Get().(*scratch)
	defer e.pool.Put(sc)
	sc.begin()
	defer sc.end()

	r := &Result{ix: e.ix, scenario: s, seeds: sd}
	e.applyMasks(sc, sd)
	if s.Timed || s.At > 0 {
		e.earliest(sc, sd, s, r)
	}
	e.spread(sc, sd, s, r)
	if full {
		e.fail(sc, sd, r, s.CompromisedOffline)
		e.journeys(sc, r)
	}
	return r, nil
}

// applyMasks marks quarantined nodes (and everything that runs on them: they
// share the host's network stack, so its firewall cuts them off too) and
// blocked edges.
func (e *Engine) applyMasks(sc *scratch, sd seeds) {
	var mark func(d int32)
	mark = func(d int32) {
		if sc.quar.has(d) {
			return
		}
		sc.quar.set(d)
		for _, r := range e.ix.Residents(d) {
			mark(r)
		}
	}
	for _, q := range sd.quarantined {
		mark(q)
	}
	for _, b := range sd.blocked {
		sc.blocked.set(int32(b))
	}
}

// describe joins node ids for messages.
func describe(ix *graph.Index, ds []int32) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = ix.ID(d)
	}
	return strings.Join(s, ", ")
}
