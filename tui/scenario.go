package tui

import (
	"sort"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/firebreak/firebreak/graph"
	"github.com/firebreak/firebreak/simulate"
)

// mark is what the responder says about one node; marks combine (a
// compromised node can also be quarantined).
type mark uint8

const (
	markCompromised mark = 1 << iota
	markFailed
	markQuarantined
)

// scenario is the responder's marks. It is immutable: every change returns a
// new value with its own map, so panes can hold it without seeing later edits.
type scenario struct {
	marks map[string]mark
}

func (s scenario) mark(id string) mark { return s.marks[id] }

// apply returns the scenario after msg.
func (s scenario) apply(msg markMsg) scenario {
	next := s.mark(msg.node) ^ msg.toggle
	if msg.clear {
		next = 0
	}
	out := scenario{marks: make(map[string]mark, len(s.marks)+1)}
	for id, m := range s.marks {
		out.marks[id] = m
	}
	if next == 0 {
		delete(out.marks, msg.node)
	} else {
		out.marks[msg.node] = next
	}
	return out
}

// counts returns how many nodes carry each mark.
func (s scenario) counts() (compromised, failed, quarantined int) {
	for _, m := range s.marks {
		if m&markCompromised != 0 {
			compromised++
		}
		if m&markFailed != 0 {
			failed++
		}
		if m&markQuarantined != 0 {
			quarantined++
		}
	}
	return
}

// sim converts the marks to a simulate.Scenario with fresh, sorted slices: a
// snapshot a command can own.
func (s scenario) sim() simulate.Scenario {
	sc := simulate.Scenario{Timed: true} // earliest compromise times for the blast radius
	for id, m := range s.marks {
		if m&markCompromised != 0 {
			sc.Compromised = append(sc.Compromised, id)
		}
		if m&markFailed != 0 {
			sc.Failed = append(sc.Failed, id)
		}
		if m&markQuarantined != 0 {
			sc.Quarantined = append(sc.Quarantined, id)
		}
	}
	sort.Strings(sc.Compromised)
	sort.Strings(sc.Failed)
	sort.Strings(sc.Quarantined)
	return sc
}

// Messages.
type (
	// markMsg asks to toggle marks on a node, or to clear them all.
	markMsg struct {
		node   string
		toggle mark
		clear  bool
	}
	// resetMsg clears every mark.
	resetMsg struct{}
	// selectNodeMsg asks the node list to show and select a node.
	selectNodeMsg struct{ node string }
	// simResultMsg carries the outcome of simulation run `run`.
	simResultMsg struct {
		run int
		out *outcome
	}
	// errMsg is the one error message type; run is 0 for errors outside a
	// simulation run.
	errMsg struct {
		run int
		err error
	}
)

// nodeStatus is what the last run did to one node.
type nodeStatus struct {
	flags status
	hops  int32 // when reached
}

type status uint8

const (
	stReached status = 1 << iota
	stFailed
	stDegraded
)

// blastRow is one node reached by the compromise.
type blastRow struct {
	node  int32
	id    string
	hops  int32
	at    int64 // earliest compromise time, seconds
	crown bool
}

// journeyRow is one journey's outcome.
type journeyRow struct {
	j       *graph.CJourney
	status  simulate.Status
	exposed bool
	cause   string
}

// outcome is a simulation result prepared for display. It is built off the
// event loop and read-only afterwards.
type outcome struct {
	result   *simulate.Result
	nodes    []nodeStatus // by dense id, which is the position in Model.Nodes
	blast    []blastRow   // crown jewels first, then by hops, then id
	journeys []journeyRow // worst first, then id
	impact   simulate.Impact
	crown    int // crown jewels reached
}

// evaluate runs sc and prepares the outcome. It touches nothing but its
// arguments, so it is safe to call from a command goroutine.
func evaluate(eng *simulate.Engine, sc simulate.Scenario) (*outcome, error) {
	res, err := eng.Run(sc)
	if err != nil {
		return nil, err
	}
	ix := eng.Index()
	out := &outcome{result: res, nodes: make([]nodeStatus, ix.Len()), impact: res.Impact}
	out.blast = make([]blastRow, 0, len(res.Reached))
	for _, rc := range res.Reached {
		out.nodes[rc.Node] = nodeStatus{flags: stReached, hops: rc.Hops}
		row := blastRow{node: rc.Node, id: ix.ID(rc.Node), hops: rc.Hops, at: rc.Time, crown: ix.CrownJewel(rc.Node)}
		if row.crown {
			out.crown++
		}
		out.blast = append(out.blast, row)
	}
	sort.Slice(out.blast, func(i, j int) bool {
		a, b := out.blast[i], out.blast[j]
		if a.crown != b.crown {
			return a.crown
		}
		if a.hops != b.hops {
			return a.hops < b.hops
		}
		return a.node < b.node
	})
	for _, c := range res.Failed {
		out.nodes[c.Node].flags |= stFailed
	}
	for _, c := range res.Degraded {
		out.nodes[c.Node].flags |= stDegraded
	}
	out.journeys = make([]journeyRow, len(res.Journeys))
	for i, jr := range res.Journeys {
		out.journeys[i] = journeyRow{j: jr.Journey, status: jr.Status, exposed: jr.Exposed, cause: jr.Cause()}
	}
	sort.SliceStable(out.journeys, func(i, j int) bool {
		a, b := out.journeys[i], out.journeys[j]
		if a.status != b.status {
			return a.status > b.status
		}
		return a.exposed && !b.exposed
	})
	// Build the result's lazy lookup tables here, off the event loop.
	res.Compromised(0)
	res.CauseOf(0)
	return out, nil
}

// simulateCmd runs scenario sc as run number run. The closure holds only
// values (and the engine, which is safe for concurrent use), never the live
// model.
func simulateCmd(eng *simulate.Engine, run int, sc simulate.Scenario) tea.Cmd {
	return func() tea.Msg {
		out, err := evaluate(eng, sc)
		if err != nil {
			return errMsg{run: run, err: err}
		}
		return simResultMsg{run: run, out: out}
	}
}
