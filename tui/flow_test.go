package tui

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/firebreak/firebreak/simulate"
)

// End-to-end flows: keys typed into the running program as a user would,
// assertions on the final model and its output.

func TestFlowCompromiseThenInspectBlastRadius(t *testing.T) {
	tm := startDemo(t)
	waitFor(t, tm, "press c on a node")
	typeKeys(tm, cat(keys("/laptop-1"), one(keyEnter), keys("c"))...)
	waitFor(t, tm, "REACHED")
	typeKeys(tm, keyTab, keyTab)
	waitFor(t, tm, " path ")
	typeKeys(tm, keys("q")...)

	m := final(t, tm)
	equal(t, "focus", m.focus, paneBlast)
	equal(t, "scenario", m.scenario.sim(), simulate.Scenario{Compromised: []string{"laptop-1"}, Timed: true})
	sel, _ := m.blast.Selected()
	if !sel.crown {
		t.Errorf("first blast entry %s is not a crown jewel", sel.id)
	}
	label, text := m.detail()
	if label != "path" || !strings.HasPrefix(text, "laptop-1 → ") || !strings.HasSuffix(text, sel.id+" · "+plural(int(sel.hops), "hop")+" · T+20m · CROWN JEWEL") {
		t.Errorf("detail %s: %q", label, text)
	}
	if v := m.View(); !strings.Contains(v, "1 compromised, 0 failed, 0 quarantined") {
		t.Errorf("final view:\n%s", v)
	}
}

// A responder sees a crown jewel in the blast radius, jumps to it in the node
// list and isolates it (or, when it runs on a host, that host: a host's
// compromise includes everything on it, so isolating only the resident does
// not take it out of the blast radius). It leaves the blast radius, and the
// journeys board shows what the isolation costs.
func TestFlowIsolateReachedCrownJewel(t *testing.T) {
	sess := demoSession(t)
	before, err := evaluate(New(sess, Options{}).engine, simulate.Scenario{Compromised: []string{"laptop-1"}, Timed: true})
	if err != nil || len(before.blast) == 0 || !before.blast[0].crown {
		t.Fatalf("the demo's laptop-1 should reach a crown jewel (err %v)", err)
	}
	jewel := before.blast[0].id
	target := jewel
	if n, _ := sess.Model.NodeByID(jewel); n.RunsOn != "" {
		target = n.RunsOn
	}

	tm := teatest.NewTestModel(t, New(sess, Options{}), teatest.WithInitialTermSize(80, 24))
	waitFor(t, tm, "press c on a node")
	typeKeys(tm, cat(keys("/laptop-1"), one(keyEnter), keys("c"))...)
	waitFor(t, tm, "REACHED")
	typeKeys(tm, keyTab, keyTab, keyEnter) // blast radius, first entry, show in node list
	waitFor(t, tm, " node "+jewel)
	if target != jewel {
		typeKeys(tm, cat(keys("/"+target), one(keyEnter))...)
		waitFor(t, tm, " node "+target)
	}
	typeKeys(tm, keys("i")...)
	waitFor(t, tm, "1 quarantined")
	typeKeys(tm, keyCtrlC)

	m := final(t, tm)
	sc := m.scenario.sim()
	equal(t, "scenario", sc, simulate.Scenario{Compromised: []string{"laptop-1"}, Quarantined: []string{target}, Timed: true})
	if _, reached := blastHops(m)[jewel]; reached {
		t.Errorf("%s is still in the blast radius after isolating %s", jewel, target)
	}
	// The board shows exactly what the engine says about this scenario.
	want, err := evaluate(m.engine, sc)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "impact", m.out.impact, want.impact)
	equal(t, "journeys", len(m.journeys.rows), len(want.journeys))
	for i := range want.journeys {
		g, w := m.journeys.rows[i], want.journeys[i]
		equal(t, "journey "+w.j.ID, [3]any{g.j.ID, g.status, g.cause}, [3]any{w.j.ID, w.status, w.cause})
	}
}

func TestFlowFilterTypesQ(t *testing.T) {
	tm := startDemo(t)
	waitFor(t, tm, "press c on a node")
	typeKeys(tm, keys("/qqq")...) // no node matches, and the program must not quit
	waitFor(t, tm, "no node matches")
	typeKeys(tm, keyEsc)
	waitFor(t, tm, "Nodes 60 ")
	typeKeys(tm, keys("q")...)

	m := final(t, tm)
	equal(t, "filter", [2]any{m.nodes.Filter(), m.nodes.Filtering()}, [2]any{"", false})
	equal(t, "scenario", m.scenario.sim(), simulate.Scenario{Timed: true})
}

func TestRun(t *testing.T) {
	// q on the input quits cleanly.
	err := Run(context.Background(), demoSession(t), Options{NoColor: true},
		tea.WithInput(strings.NewReader("q")), tea.WithOutput(io.Discard))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	// A cancelled context ends the program with the context's error.
	r, w := io.Pipe() // input that never sends a key
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err = Run(ctx, demoSession(t), Options{NoColor: true}, tea.WithInput(r), tea.WithOutput(io.Discard))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run with a cancelled context: %v", err)
	}
}
