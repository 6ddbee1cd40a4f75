package simulate

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/firebreak/firebreak/graph"
)

// Report is the stable, sorted, serialisable form of a Result: the shape of
// `firebreak simulate --json`.
type Report struct {
	Seeds              ReportSeeds     `json:"seeds"`
	Reached            []ReportReached `json:"reached"`
	CrownJewelsReached []string        `json:"crown_jewels_reached"`
	Failed             []string        `json:"failed"`
	Degraded           []string        `json:"degraded"`
	Journeys           []ReportJourney `json:"journeys"`
	Impact             ReportImpact    `json:"impact"`
	// Explanations say why each reached crown jewel is reached: its shortest
	// attack path and, in a timed run, the path that gets there soonest.
	Explanations []ReportExplanation `json:"explanations"`
	MonteCarlo   *ReportMonteCarlo   `json:"monte_carlo,omitempty"`
}

// ReportExplanation explains one reached crown jewel.
type ReportExplanation struct {
	Node            string   `json:"node"`
	Hops            int      `json:"hops"`
	ShortestPath    []string `json:"shortest_path"`
	EarliestPath    []string `json:"earliest_path,omitempty"`
	EarliestSeconds int64    `json:"earliest_s"`
}

// ReportSeeds echoes the scenario, sorted.
type ReportSeeds struct {
	Compromised []string `json:"compromised"`
	Failed      []string `json:"failed"`
	Quarantined []string `json:"quarantined"`
	Blocked     []string `json:"blocked"`
	At          string   `json:"at,omitempty"`
	LateralOnly bool     `json:"lateral_only,omitempty"`
}

// ReportReached is one compromised node.
type ReportReached struct {
	Node string   `json:"node"`
	Hops int      `json:"hops"`
	Path []string `json:"path"`
	// Seconds is the earliest compromise time, in timed runs only.
	Seconds *int64 `json:"time_s,omitempty"`
}

// ReportJourney is one journey's outcome.
type ReportJourney struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Exposed bool   `json:"exposed"`
	Cause   string `json:"cause"`
}

// ReportImpact sums affected journeys' weights.
type ReportImpact struct {
	JourneysBroken   int     `json:"journeys_broken"`
	JourneysDegraded int     `json:"journeys_degraded"`
	JourneysExposed  int     `json:"journeys_exposed"`
	CustomersPerHour float64 `json:"customers_per_hour"`
	RevenuePerHour   float64 `json:"revenue_per_hour"`
}

func (r *Result) ids(ds []int32) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = r.ix.ID(d)
	}
	sort.Strings(out)
	return out
}

func causeIDs(r *Result, cs []Cause) []string {
	ds := make([]int32, len(cs))
	for i, c := range cs {
		ds[i] = c.Node
	}
	return r.ids(ds)
}

// Report builds the sorted report. Lists are never nil, so JSON shows [].
func (r *Result) Report() Report {
	rep := Report{
		Seeds: ReportSeeds{
			Compromised: r.ids(r.seeds.compromised),
			Failed:      r.ids(r.seeds.failed),
			Quarantined: r.ids(r.seeds.quarantined),
			Blocked:     []string{},
		},
		Reached:            make([]ReportReached, 0, len(r.Reached)),
		CrownJewelsReached: []string{},
		Failed:             causeIDs(r, r.Failed),
		Degraded:           causeIDs(r, r.Degraded),
		Journeys:           make([]ReportJourney, 0, len(r.Journeys)),
		Explanations:       []ReportExplanation{},
	}
	if r.scenario.At > 0 {
		rep.Seeds.At = r.scenario.At.String()
	}
	rep.Seeds.LateralOnly = r.scenario.LateralOnly
	for _, b := range r.seeds.blockedRefs {
		rep.Seeds.Blocked = append(rep.Seeds.Blocked, b.String())
	}
	sort.Strings(rep.Seeds.Blocked)
	for _, rc := range r.Reached {
		rr := ReportReached{Node: r.ix.ID(rc.Node), Hops: int(rc.Hops), Path: r.ids2(r.Path(rc.Node))}
		if r.timed {
			t := rc.Time
			rr.Seconds = &t
		}
		rep.Reached = append(rep.Reached, rr)
		if r.ix.CrownJewel(rc.Node) {
			rep.CrownJewelsReached = append(rep.CrownJewelsReached, rr.Node)
			ex := ReportExplanation{Node: rr.Node, Hops: rr.Hops, ShortestPath: rr.Path}
			if r.timed {
				ex.EarliestPath, ex.EarliestSeconds = r.ids2(r.EarliestPath(rc.Node)), rc.Time
			}
			rep.Explanations = append(rep.Explanations, ex)
		}
	}
	sort.Slice(rep.Reached, func(i, j int) bool { return rep.Reached[i].Node < rep.Reached[j].Node })
	sort.Slice(rep.Explanations, func(i, j int) bool { return rep.Explanations[i].Node < rep.Explanations[j].Node })
	sort.Strings(rep.CrownJewelsReached)
	for _, j := range r.Journeys {
		rep.Journeys = append(rep.Journeys, ReportJourney{ID: j.Journey.ID, Status: j.Status.String(), Exposed: j.Exposed, Cause: j.Cause()})
	}
	rep.Impact = ReportImpact{
		JourneysBroken: r.Impact.Broken, JourneysDegraded: r.Impact.Degraded, JourneysExposed: r.Impact.Exposed,
		CustomersPerHour: r.Impact.CustomersPerHour, RevenuePerHour: r.Impact.RevenuePerHour,
	}
	return rep
}

// ids2 maps a path to ids without sorting it.
func (r *Result) ids2(ds []int32) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = r.ix.ID(d)
	}
	return out
}

// CauseOf returns why node d failed or degraded, if it did.
func (r *Result) CauseOf(d int32) (Cause, bool) {
	r.causeOnce.Do(func() {
		r.causeAt = make(map[int32]Cause, len(r.Failed)+len(r.Degraded))
		for _, c := range r.Failed {
			r.causeAt[c.Node] = c
		}
		for _, c := range r.Degraded {
			r.causeAt[c.Node] = c
		}
	})
	c, ok := r.causeAt[d]
	return c, ok
}

// WriteText writes the report as a readable summary for a terminal.
func (rep Report) WriteText(w io.Writer) error {
	var b strings.Builder
	seeds := func(label string, xs []string) {
		if len(xs) > 0 {
			fmt.Fprintf(&b, "%-12s %s\n", label, strings.Join(xs, ", "))
		}
	}
	seeds("compromised", rep.Seeds.Compromised)
	seeds("failed", rep.Seeds.Failed)
	seeds("quarantined", rep.Seeds.Quarantined)
	seeds("blocked", rep.Seeds.Blocked)
	fmt.Fprintf(&b, "\nBlast radius: %d nodes reached", len(rep.Reached))
	if len(rep.CrownJewelsReached) > 0 {
		fmt.Fprintf(&b, ", crown jewels reached: %s", strings.Join(rep.CrownJewelsReached, ", "))
	}
	b.WriteString("\n")
	byHops := append([]ReportReached(nil), rep.Reached...)
	sort.SliceStable(byHops, func(i, j int) bool { return byHops[i].Hops < byHops[j].Hops })
	for _, rc := range byHops {
		at := ""
		if rc.Seconds != nil {
			at = "T+" + FormatSeconds(*rc.Seconds)
		}
		fmt.Fprintf(&b, "  %3d %8s  %-28s %s\n", rc.Hops, at, rc.Node, strings.Join(rc.Path, " → "))
	}
	for _, ex := range rep.Explanations {
		fmt.Fprintf(&b, "\nWhy %s is reached:\n  shortest (%d hops): %s\n", ex.Node, ex.Hops, strings.Join(ex.ShortestPath, " → "))
		if len(ex.EarliestPath) > 0 {
			fmt.Fprintf(&b, "  earliest (T+%s):   %s\n", FormatSeconds(ex.EarliestSeconds), strings.Join(ex.EarliestPath, " → "))
		}
	}
	fmt.Fprintf(&b, "\nFailed: %d   Degraded: %d\n", len(rep.Failed), len(rep.Degraded))
	if len(rep.Failed) > 0 {
		fmt.Fprintf(&b, "  failed:   %s\n", strings.Join(rep.Failed, ", "))
	}
	if len(rep.Degraded) > 0 {
		fmt.Fprintf(&b, "  degraded: %s\n", strings.Join(rep.Degraded, ", "))
	}
	b.WriteString("\nJourneys:\n")
	for _, j := range rep.Journeys {
		flag := ""
		if j.Exposed {
			flag = " EXPOSED"
		}
		fmt.Fprintf(&b, "  %-9s%-8s %-22s %s\n", strings.ToUpper(j.Status), flag, j.ID, j.Cause)
	}
	if mc := rep.MonteCarlo; mc != nil {
		fmt.Fprintf(&b, "\nMonte Carlo: %d trials, seed %d\n", mc.Trials, mc.Seed)
		for _, n := range mc.CrownJewels {
			fmt.Fprintf(&b, "  crown jewel %-22s p=%.3f  median T+%s\n", n.Node, n.Probability, FormatSeconds(n.MedianSeconds))
		}
		for _, j := range mc.Journeys {
			fmt.Fprintf(&b, "  journey %-26s exposed p=%.3f\n", j.ID, j.Exposure)
		}
	}
	im := rep.Impact
	fmt.Fprintf(&b, "\nImpact: %d broken, %d degraded, %d exposed; %.0f customers/h, %.0f revenue/h at risk\n",
		im.JourneysBroken, im.JourneysDegraded, im.JourneysExposed, im.CustomersPerHour, im.RevenuePerHour)
	_, err := io.WriteString(w, b.String())
	return err
}

// ReportMonteCarlo is the Monte Carlo part of a report.
type ReportMonteCarlo struct {
	Trials      int               `json:"trials"`
	Seed        uint64            `json:"seed"`
	Nodes       []ReportMCNode    `json:"nodes"`
	CrownJewels []ReportMCNode    `json:"crown_jewels"`
	Journeys    []ReportMCJourney `json:"journeys"`
}

// ReportMCNode is one node's probability of compromise and median time.
type ReportMCNode struct {
	Node          string  `json:"node"`
	Probability   float64 `json:"probability"`
	MedianSeconds int64   `json:"median_s"`
}

// ReportMCJourney is one journey's probability of exposure.
type ReportMCJourney struct {
	ID       string  `json:"id"`
	Exposure float64 `json:"exposure_probability"`
}

// Report converts a Monte Carlo result; every list is sorted by id.
func (m *MCResult) Report(ix *graph.Index) *ReportMonteCarlo {
	out := &ReportMonteCarlo{Trials: m.Trials, Seed: m.Seed, Nodes: []ReportMCNode{}, CrownJewels: []ReportMCNode{}, Journeys: []ReportMCJourney{}}
	for _, n := range m.Nodes {
		rn := ReportMCNode{Node: ix.ID(n.Node), Probability: n.Probability, MedianSeconds: int64(n.Median / time.Second)}
		out.Nodes = append(out.Nodes, rn)
		if ix.CrownJewel(n.Node) {
			out.CrownJewels = append(out.CrownJewels, rn)
		}
	}
	for _, j := range m.Journeys {
		out.Journeys = append(out.Journeys, ReportMCJourney{ID: j.Journey.ID, Exposure: j.Exposure})
	}
	sort.Slice(out.Nodes, func(i, j int) bool { return out.Nodes[i].Node < out.Nodes[j].Node })
	sort.Slice(out.CrownJewels, func(i, j int) bool { return out.CrownJewels[i].Node < out.CrownJewels[j].Node })
	sort.Slice(out.Journeys, func(i, j int) bool { return out.Journeys[i].ID < out.Journeys[j].ID })
	return out
}

// FormatSeconds writes a compact duration: 0s, 45s, 10m, 1h20m, 2d3h.
func FormatSeconds(sec int64) string {
	if sec <= 0 {
		return "0s"
	}
	var b strings.Builder
	for _, u := range []struct {
		n    int64
		name string
	}{{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}} {
		if v := sec / u.n; v > 0 {
			fmt.Fprintf(&b, "%d%s", v, u.name)
			sec -= v * u.n
		}
	}
	return b.String()
}
