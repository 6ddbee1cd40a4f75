//go:build linux

package contain

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/firebreak/firebreak/graph"
	"github.com/firebreak/firebreak/simulate"
)

// labProbeParallel bounds the nodes the prober asks at once.
const labProbeParallel = 32

// LabProbe walks every journey of the lab model with real connections, from
// the lab namespace (a neutral vantage point, no node's). It drives a
// round-based probe (see lab_verdict.go): in each round every node the
// prober can reach judges itself from what its dependencies answer over
// real connections from its own namespace, until a round changes nothing —
// failures first, then degradation. Then it judges each step as the
// simulation does (see labJourneys). A node the prober cannot reach —
// failed, quarantined — counts as down. The result has the shape of
// `simulate --json`'s journeys, sorted by id.
func LabProbe(ctx context.Context, st *LabState, lm *graph.Model) ([]simulate.ReportJourney, error) {
	if err := checkJourneyNodes(st, lm); err != nil {
		return nil, err
	}
	id, err := labProbeID()
	if err != nil {
		return nil, err
	}
	ids := sortedKeys(st.Nodes)
	dead := map[string]bool{} // nodes the prober could not reach
	final := map[string]labVerdict{}
	for _, ph := range []labPhase{labPhaseDown, labPhaseDegraded} {
		prev := map[string]labStatus{}
		for k := 1; ; k++ {
			if k > len(ids)+2 {
				return nil, fmt.Errorf("lab %s: %s phase did not settle after %d rounds", st.Name, ph, k-1)
			}
			cur := labRoundAll(ctx, st, ids, dead, labRoundLine("ROUND", id, ph, k))
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			changed := false
			for n, v := range cur {
				if v.Unreachable {
					dead[n] = true
				}
				if v.Status != prev[n] {
					changed = true
				}
				prev[n] = v.Status
				final[n] = v
			}
			if !changed {
				break
			}
		}
	}
	return labJourneys(lm.Journeys, func(n string) labVerdict {
		if dead[n] {
			return labUnreachable
		}
		return final[n]
	}), nil
}

// labRoundAll sends one round's request to every node the prober can still
// reach, in parallel.
func labRoundAll(ctx context.Context, st *LabState, ids []string, dead map[string]bool, line string) map[string]labVerdict {
	out := make(map[string]labVerdict, len(ids))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, labProbeParallel)
	for _, n := range ids {
		if dead[n] {
			continue
		}
		addr, _ := st.ProbeAddr(n)
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			pctx, cancel := context.WithTimeout(ctx, labProbeBudget+time.Second)
			defer cancel()
			v := askLabLine(pctx, st.LabNetNS, addr, line)
			mu.Lock()
			out[n] = v
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// LabProbePaths is LabProbe the way a single query works: it sends PROBE
// to every node a journey names, and each node judges itself by probing
// its dependencies recursively along the path (a node already on the path
// answers ok, which yields the same least fixpoint). It costs one
// connection per dependency path, so it suits small or loosely coupled
// topologies; tests use it to hold the two evaluations to each other.
func LabProbePaths(ctx context.Context, st *LabState, lm *graph.Model) ([]simulate.ReportJourney, error) {
	if err := checkJourneyNodes(st, lm); err != nil {
		return nil, err
	}
	ids := labJourneyNodes(lm.Journeys)
	verdicts := labRoundAll(ctx, st, ids, nil, labProbeLine(nil))
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return labJourneys(lm.Journeys, func(n string) labVerdict { return verdicts[n] }), nil
}

func checkJourneyNodes(st *LabState, lm *graph.Model) error {
	for _, id := range labJourneyNodes(lm.Journeys) {
		if _, ok := st.Nodes[id]; !ok {
			return fmt.Errorf("lab %s: journey node %s is not in the lab", st.Name, id)
		}
	}
	return nil
}

func labProbeID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// LabWaitReady waits until every node's probe port accepts connections
// from the lab namespace, or ctx ends.
func LabWaitReady(ctx context.Context, st *LabState) error {
	for _, id := range sortedKeys(st.Nodes) {
		addr, _ := st.ProbeAddr(id)
		for {
			c, err := DialTCP(ctx, st.LabNetNS, addr, labConnectTimeout)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("lab %s: node %s does not answer on %s: %w", st.Name, id, addr, err)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}
