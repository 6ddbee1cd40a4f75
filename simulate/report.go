package simulate

import (
	"fmt"
	"io"
	"sort"
	"strings"
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
}

// ReportSeeds echoes the scenario, sorted.
type ReportSeeds struct {
	Compromised []string `json:"compromised"`
	Failed      []string `json:"failed"`
	Quarantined []string `json:"quarantined"`
	Blocked     []string `json:"blocked"`
}

// ReportReached is one compromised node.
type ReportReached struct {
	Node string   `json:"node"`
	Hops int      `json:"hops"`
	Path []string `json:"path"`
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
	}
	for _, b := range r.seeds.blockedRefs {
		rep.Seeds.Blocked = append(rep.Seeds.Blocked, b.String())
	}
	sort.Strings(rep.Seeds.Blocked)
	for _, rc := range r.Reached {
		rep.Reached = append(rep.Reached, ReportReached{Node: r.ix.ID(rc.Node), Hops: int(rc.Hops), Path: r.ids2(r.Path(rc.Node))})
		if r.ix.CrownJewel(rc.Node) {
			rep.CrownJewelsReached = append(rep.CrownJewelsReached, r.ix.ID(rc.Node))
		}
	}
	sort.Slice(rep.Reached, func(i, j int) bool { return rep.Reached[i].Node < rep.Reached[j].Node })
	sort.Strings(rep.CrownJewelsReached)
	for _, j := range r.Journeys {
		rep.Journeys = append(rep.Journeys, ReportJourney{ID: j.Journey.ID, Status: j.Status.String(), Exposed: j.Exposed, Cause: j.Cause})
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
		fmt.Fprintf(&b, "  %3d  %-28s %s\n", rc.Hops, rc.Node, strings.Join(rc.Path, " → "))
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
	im := rep.Impact
	fmt.Fprintf(&b, "\nImpact: %d broken, %d degraded, %d exposed; %.0f customers/h, %.0f revenue/h at risk\n",
		im.JourneysBroken, im.JourneysDegraded, im.JourneysExposed, im.CustomersPerHour, im.RevenuePerHour)
	_, err := io.WriteString(w, b.String())
	return err
}
