package contain

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/firebreak/firebreak/graph"
	"github.com/firebreak/firebreak/simulate"
)

// The lab's wire protocol, the same on every port of every node. The client
// sends one line
//
//	PROBE <comma-separated ids of the nodes already on this probe's path>
//
// and reads one line back: OK, DEGRADED <reason> or DOWN <reason>, where
// the reason is the chain of dependencies that explains it, written as the
// simulation writes causes ("orders-db ← db-host (unreachable)"). A
// connection that sends nothing within labIdle, or anything else, gets the
// banner "firebreak-lab <node-id>": what plain connectivity checks see.

// labStatus is a node's health as the lab observes it.
type labStatus uint8

const (
	labOK labStatus = iota
	labDegraded
	labDown
)

func (s labStatus) String() string {
	switch s {
	case labOK:
		return "OK"
	case labDegraded:
		return "DEGRADED"
	}
	return "DOWN"
}

// labVerdict is one node's answer. Unreachable means there was no answer
// at all (connection refused, dropped or timed out): it counts as down.
type labVerdict struct {
	Status      labStatus
	Reason      string
	Unreachable bool
}

var labUnreachable = labVerdict{Status: labDown, Unreachable: true}

// line is the verdict as the responder sends it.
func (v labVerdict) line() string {
	if v.Status == labOK {
		return "OK"
	}
	return v.Status.String() + " " + v.Reason
}

// parseLabVerdict reads a responder's reply line.
func parseLabVerdict(line string) (labVerdict, bool) {
	line = strings.TrimRight(line, "\r\n")
	word, reason, _ := strings.Cut(line, " ")
	switch word {
	case "OK":
		return labVerdict{Status: labOK}, reason == ""
	case "DEGRADED":
		return labVerdict{Status: labDegraded, Reason: reason}, true
	case "DOWN":
		return labVerdict{Status: labDown, Reason: reason}, true
	}
	return labVerdict{}, false
}

// A whole-lab probe (LabProbe) computes every node's status as a
// synchronous fixpoint in rounds, which costs one connection per dependency
// edge per round however the dependencies interlock (walking paths costs
// one per path, and paths multiply in big dependency cycles). Two more
// requests carry it:
//
//	ROUND <probe-id> <phase> <n>   prober → a node's probe port: compute
//	                               round n of phase (down, then degraded)
//	                               and answer the verdict
//	STATE <probe-id> <phase> <n>   node → a dependency's edge port: answer
//	                               the verdict of round n
//
// A node's round n reads its dependencies' round n-1 over real connections
// from its own namespace; round 0 is all OK. Verdicts are sticky (a node
// stays down, or degraded, with the reason it first had), so the rounds
// climb to the least fixpoint and the prober stops at the first round that
// changes nothing.

// labPhase is the stage of a round-based probe: failure first, then
// degradation over the settled failures, as the simulation does.
type labPhase string

const (
	labPhaseDown     labPhase = "down"
	labPhaseDegraded labPhase = "degraded"
)

// labRequest is a parsed request line.
type labRequest struct {
	kind  string // "PROBE", "ROUND" or "STATE"
	path  []string
	id    string
	phase labPhase
	round int
}

// parseLabRequest reads a request line; ok is false for anything else.
func parseLabRequest(line string) (labRequest, bool) {
	line = strings.TrimRight(line, "\r\n")
	if path, ok := parseLabProbe(line); ok {
		return labRequest{kind: "PROBE", path: path}, true
	}
	f := strings.Fields(line)
	if len(f) != 4 || (f[0] != "ROUND" && f[0] != "STATE") || f[1] == "" {
		return labRequest{}, false
	}
	ph := labPhase(f[2])
	if ph != labPhaseDown && ph != labPhaseDegraded {
		return labRequest{}, false
	}
	n, err := strconv.Atoi(f[3])
	if err != nil || n < 0 || n > labMaxRounds {
		return labRequest{}, false
	}
	return labRequest{kind: f[0], id: f[1], phase: ph, round: n}, true
}

// labMaxRounds bounds the rounds of one phase: a least fixpoint over N
// nodes settles within N+1 rounds, and the lab has at most a few hundred.
const labMaxRounds = 4096

func labRoundLine(kind, id string, ph labPhase, n int) string {
	return fmt.Sprintf("%s %s %s %d\n", kind, id, ph, n)
}

// labProbeLine is the request a node (or the prober, with an empty path)
// sends.
func labProbeLine(path []string) string {
	if len(path) == 0 {
		return "PROBE\n"
	}
	return "PROBE " + strings.Join(path, ",") + "\n"
}

// parseLabProbe reads a request line; ok is false for anything else.
func parseLabProbe(line string) (path []string, ok bool) {
	line = strings.TrimRight(line, "\r\n")
	if line == "PROBE" {
		return nil, true
	}
	rest, ok := strings.CutPrefix(line, "PROBE ")
	if !ok {
		return nil, false
	}
	for _, id := range strings.Split(rest, ",") {
		if id != "" {
			path = append(path, id)
		}
	}
	return path, true
}

// labMaxChain bounds the dependency chains in reasons, as the simulation
// bounds its causes.
const labMaxChain = 6

// chain explains node id's verdict: "id (unreachable)", "id ← reason" or
// just "id" for a healthy node.
func (v labVerdict) chain(id string) string {
	switch {
	case v.Unreachable:
		return id + " (unreachable)"
	case v.Status == labOK || v.Reason == "":
		return id
	}
	parts := strings.Split(v.Reason, " ← ")
	if len(parts) > labMaxChain {
		parts = append(parts[:labMaxChain], "…")
	}
	return id + " ← " + strings.Join(parts, " ← ")
}

// labJourneys judges every journey from the verdicts of the nodes it names,
// as the simulation judges a step: broken if a required node is down or
// every member of an any_of list is; degraded if a required node is
// degraded or no member of an any_of list is healthy; the journey takes its
// worst step (the first one, among equals). The lab cannot observe
// compromise, so nothing is exposed.
func labJourneys(js []graph.Journey, verdict func(id string) labVerdict) []simulate.ReportJourney {
	out := make([]simulate.ReportJourney, 0, len(js))
	for _, j := range js {
		status, cause := labOK, ""
		for si, st := range j.Steps {
			s, c := labStep(j, si, st, verdict)
			if s > status {
				status, cause = s, c
			}
		}
		rj := simulate.ReportJourney{ID: j.ID, Status: simulate.StatusOK.String(), Cause: cause}
		switch status {
		case labDegraded:
			rj.Status = simulate.StatusDegraded.String()
		case labDown:
			rj.Status = simulate.StatusBroken.String()
		}
		out = append(out, rj)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out
}

func labStep(j graph.Journey, si int, st graph.Step, verdict func(string) labVerdict) (labStatus, string) {
	name := fmt.Sprintf("step %d", si+1)
	if st.Name != "" {
		name = fmt.Sprintf("step %d %q", si+1, st.Name)
	}
	for _, id := range st.Requires {
		if v := verdict(id); v.Status == labDown {
			return labDown, fmt.Sprintf("%s down: %s", name, v.chain(id))
		}
	}
	for _, alt := range st.AnyOf {
		if len(alt) == 0 {
			continue
		}
		allDown := true
		for _, id := range alt {
			if verdict(id).Status != labDown {
				allDown = false
				break
			}
		}
		if allDown {
			return labDown, fmt.Sprintf("%s down: all of %s down; %s", name, strings.Join(alt, ", "), verdict(alt[0]).chain(alt[0]))
		}
	}
	for _, id := range st.Requires {
		if v := verdict(id); v.Status == labDegraded {
			return labDegraded, fmt.Sprintf("%s degraded: %s", name, v.chain(id))
		}
	}
	for _, alt := range st.AnyOf {
		healthy, first := false, ""
		for _, id := range alt {
			s := verdict(id).Status
			if s == labOK {
				healthy = true
				break
			}
			if first == "" && s == labDegraded {
				first = id
			}
		}
		if !healthy && len(alt) > 0 {
			return labDegraded, fmt.Sprintf("%s degraded: all of %s degraded; %s", name, strings.Join(alt, ", "), verdict(first).chain(first))
		}
	}
	return labOK, ""
}

// labJourneyNodes lists every node the journeys name, sorted and unique.
func labJourneyNodes(js []graph.Journey) []string {
	seen := map[string]bool{}
	var out []string
	for _, j := range js {
		for _, st := range j.Steps {
			for _, id := range st.Nodes() {
				if !seen[id] {
					seen[id] = true
					out = append(out, id)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}
