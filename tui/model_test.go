package tui

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/firebreak/firebreak/simulate"
)

// Update-level tests: messages in, commands run, their messages fed back; no
// terminal. The fixture is drawn in helpers_test.go.

// pick selects a node in the list by typing a filter, as a user would, then
// keeps the filter (enter).
func pick(t *testing.T, m Model, id string) Model {
	t.Helper()
	m = update(t, m, cat(one(keyEsc), keys("/"+id), one(keyEnter))...)
	if d := m.nodes.Detail(); !strings.HasPrefix(d, id+" ") {
		t.Fatalf("pick %s: selected %q", id, d)
	}
	return m
}

func blastHops(m Model) map[string]int32 {
	out := map[string]int32{}
	for _, r := range m.blast.rows {
		out[r.id] = r.hops
	}
	return out
}

func journeyStatus(m Model) map[string]string {
	out := map[string]string{}
	for _, r := range m.journeys.rows {
		s := r.status.String()
		if r.exposed {
			s += "+exposed"
		}
		out[r.j.ID] = s
	}
	return out
}

func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %v\n want %v", what, got, want)
	}
}

var allOK = map[string]string{"browse": "ok", "buy": "ok", "newsletter": "ok"}

func TestFirstScreenIsTheEmptyScenario(t *testing.T) {
	m := newShop(t)
	equal(t, "journeys", journeyStatus(m), allOK)
	equal(t, "blast radius", len(m.blast.rows), 0)
	equal(t, "run", m.run, 0)
	v := m.View()
	for _, want := range []string{"press c on a node to mark it compromised", "0 compromised, 0 failed, 0 quarantined", "0 broken"} {
		if !strings.Contains(v, want) {
			t.Errorf("first screen lacks %q", want)
		}
	}
}

func TestCompromiseShowsBlastRadius(t *testing.T) {
	m := pick(t, newShop(t), "laptop")
	m = update(t, m, keys("c")...)
	equal(t, "scenario", m.scenario.sim(), simulate.Scenario{Compromised: []string{"laptop"}, Timed: true})
	equal(t, "hops", blastHops(m), map[string]int32{"laptop": 0, "web1": 1, "api": 2, "pay": 3, "reco": 3, "paydb": 4})
	// The crown jewel comes first and the pane says so.
	equal(t, "first row", m.blast.rows[0].id, "paydb")
	if !strings.Contains(m.blast.View(), "1 CROWN JEWEL REACHED") {
		t.Errorf("blast title does not flag the crown jewel:\n%s", m.blast.View())
	}
	// Its attack path is in the detail line when the pane has focus.
	m = update(t, m, keyTab, keyTab)
	label, text := m.detail()
	equal(t, "detail", label+": "+text, "path: laptop → web1 → api → pay → paydb · 4 hops · T+1h15m · CROWN JEWEL")
	// web1 and web2 are any_of alternatives of both web journeys' first step.
	equal(t, "journeys", journeyStatus(m), map[string]string{"browse": "ok+exposed", "buy": "ok+exposed", "newsletter": "ok"})
	equal(t, "impact", m.out.impact, simulate.Impact{Exposed: 2, CustomersPerHour: 1120, RevenuePerHour: 9000})
}

func TestQuarantineBreaksJourney(t *testing.T) {
	m := pick(t, newShop(t), "mail")
	m = update(t, m, keys("i")...)
	equal(t, "journeys", journeyStatus(m), map[string]string{"browse": "ok", "buy": "ok", "newsletter": "broken"})
	equal(t, "worst first", m.journeys.rows[0].j.ID, "newsletter")
	equal(t, "cause", m.journeys.rows[0].cause, "step 1 down: mail (quarantined)")
	if !strings.Contains(m.View(), "1 broken") {
		t.Error("status bar does not count the broken journey")
	}

	// Quarantining api takes the web tier (hard dependency) and so both web
	// journeys down.
	m = update(t, pick(t, m, "api"), keys("i")...)
	equal(t, "journeys", journeyStatus(m), map[string]string{"browse": "broken", "buy": "broken", "newsletter": "broken"})
	equal(t, "counts", [3]int{0, 0, 2}, func() [3]int { c, f, q := m.scenario.counts(); return [3]int{c, f, q} }())
}

func TestFailDegradesThroughSoftDependency(t *testing.T) {
	m := update(t, pick(t, newShop(t), "reco"), keys("f")...)
	equal(t, "journeys", journeyStatus(m), map[string]string{"browse": "degraded", "buy": "degraded", "newsletter": "ok"})
	if d := m.nodes.Detail(); !strings.Contains(d, "down (failed)") {
		t.Errorf("node detail: %q", d)
	}
}

func TestToggleAndClearRestore(t *testing.T) {
	m := pick(t, newShop(t), "laptop")
	m = update(t, m, keys("cc")...)
	equal(t, "c twice", m.scenario.sim(), simulate.Scenario{Timed: true})
	equal(t, "blast after toggle", len(m.blast.rows), 0)

	m = update(t, m, keys("cfi")...)
	equal(t, "marks", m.scenario.mark("laptop"), markCompromised|markFailed|markQuarantined)
	m = update(t, m, keys("x")...)
	equal(t, "x clears the node", m.scenario.sim(), simulate.Scenario{Timed: true})
	equal(t, "journeys after x", journeyStatus(m), allOK)
	equal(t, "blast after x", len(m.blast.rows), 0)

	m = update(t, m, keys("c")...)
	m = update(t, pick(t, m, "mail"), keys("i")...)
	m = update(t, m, keys("X")...)
	equal(t, "X clears everything", m.scenario.sim(), simulate.Scenario{Timed: true})
	equal(t, "journeys after X", journeyStatus(m), allOK)
}

func TestStaleRunsAreDropped(t *testing.T) {
	m := newShop(t)
	// Two marks in quick succession: run 1, then run 2, before either reports.
	next, cmd1 := m.Update(markMsg{node: "laptop", toggle: markCompromised})
	m = next.(Model)
	next, cmd2 := m.Update(markMsg{node: "mail", toggle: markQuarantined})
	m = next.(Model)
	equal(t, "latest run", m.run, 2)
	if !m.pending || !strings.Contains(m.View(), "updating") {
		t.Error("a pending run is not shown")
	}
	msg1, msg2 := cmd1(), cmd2()
	equal(t, "run ids", [2]int{msg1.(simResultMsg).run, msg2.(simResultMsg).run}, [2]int{1, 2})

	m = update(t, m, msg2)
	want := blastHops(m)
	equal(t, "run 2 applied", journeyStatus(m)["newsletter"], "broken")
	m = update(t, m, msg1) // run 1 reports late: ignored
	equal(t, "stale run ignored: blast", blastHops(m), want)
	equal(t, "stale run ignored: journeys", journeyStatus(m)["newsletter"], "broken")
	equal(t, "pending", m.pending, false)

	m = update(t, m, errMsg{run: 1, err: errors.New("late failure")})
	if m.err != nil {
		t.Errorf("stale error shown: %v", m.err)
	}
}

func TestRunErrorsShowInStatusBar(t *testing.T) {
	m := update(t, newShop(t), markMsg{node: "ghost", toggle: markCompromised})
	if !errors.Is(m.err, simulate.ErrUnknownNode) {
		t.Fatalf("err = %v", m.err)
	}
	lines := strings.Split(m.View(), "\n")
	if status := lines[len(lines)-2]; !strings.Contains(status, `error: compromise "ghost"`) {
		t.Errorf("status bar: %q", status)
	}
	// The next good run clears it.
	m = update(t, m, markMsg{node: "ghost", clear: true})
	if m.err != nil {
		t.Errorf("error not cleared: %v", m.err)
	}
}

func TestFilterNarrowsAndSwallowsKeys(t *testing.T) {
	m := newShop(t)
	m = update(t, m, keys("/web")...)
	if !m.nodes.Filtering() {
		t.Fatal("not filtering after /")
	}
	equal(t, "matches", m.nodes.len(), 2)
	// Every action and global key is typed into the filter instead.
	m, quit := updateQuit(t, m, cat(keys("cfixXq?"), one(keyTab))...)
	equal(t, "filter text", m.nodes.Filter(), "webcfixXq?")
	equal(t, "quit", quit, false)
	equal(t, "scenario", m.scenario.sim(), simulate.Scenario{Timed: true})
	equal(t, "help", m.showHelp, false)
	equal(t, "focus", m.focus, paneNodes)
	equal(t, "matches", m.nodes.len(), 0)
	if !strings.Contains(m.nodes.View(), "no node matches") {
		t.Error("empty filter result not explained")
	}

	// Backspace widens again; arrows move while typing; esc cancels.
	back := tea.KeyMsg{Type: tea.KeyBackspace}
	m = update(t, m, back, back, back, back, back, back, back, keyDown)
	equal(t, "filter text", m.nodes.Filter(), "web")
	equal(t, "selected", strings.Fields(m.nodes.Detail())[0], "web2")
	m = update(t, m, keyEsc)
	equal(t, "esc clears", [2]any{m.nodes.Filtering(), m.nodes.len()}, [2]any{false, 10})
	equal(t, "selection kept", strings.Fields(m.nodes.Detail())[0], "web2")

	// enter keeps the filter and gives keys back to the list.
	m = update(t, m, cat(keys("/pay"), one(keyEnter), keys("jc"))...)
	equal(t, "kept filter", [2]any{m.nodes.Filtering(), m.nodes.len()}, [2]any{false, 2})
	equal(t, "acted on second match", m.scenario.sim().Compromised, []string{"paydb"})
	// ctrl+c quits even while typing.
	_, quit = updateQuit(t, update(t, m, keys("/")...), keyCtrlC)
	equal(t, "ctrl+c", quit, true)
}

func TestFocusCycleAndGlobalKeys(t *testing.T) {
	m := newShop(t)
	order := []pane{}
	for range 4 {
		m = update(t, m, keyTab)
		order = append(order, m.focus)
	}
	equal(t, "tab order", order, []pane{paneJourneys, paneBlast, paneNodes, paneJourneys})
	m = update(t, m, keyShiftTab, keyShiftTab)
	equal(t, "shift+tab", m.focus, paneBlast)

	// "/" from another pane jumps to the node list's filter.
	m = update(t, m, keys("/api")...)
	equal(t, "slash focus", [2]any{m.focus, m.nodes.Filtering()}, [2]any{paneNodes, true})

	m = update(t, m, keyEsc, keyTab)
	m = update(t, m, keys("?")...)
	equal(t, "help open", m.showHelp, true)
	if !strings.Contains(m.View(), "closes this screen") {
		t.Error("help screen not shown")
	}
	m, quit := updateQuit(t, m, keys("c")...)
	equal(t, "keys inert under help", [2]any{m.scenario.sim(), quit}, [2]any{simulate.Scenario{Timed: true}, false})
	m = update(t, m, keyEsc)
	equal(t, "help closed", m.showHelp, false)
	_, quit = updateQuit(t, m, keys("q")...)
	equal(t, "q quits", quit, true)
}

func TestBlastPaneActions(t *testing.T) {
	m := update(t, pick(t, newShop(t), "laptop"), keys("c")...)
	m = update(t, m, keyTab, keyTab) // blast radius; paydb (crown jewel) is first
	m = update(t, m, keyDown, keyDown, keyDown)
	_, text := m.detail()
	equal(t, "selected path", text, "laptop → web1 → api · 2 hops · T+20m")
	// Quarantine api from the blast radius: the spread stops at web1.
	m = update(t, m, keys("i")...)
	equal(t, "hops", blastHops(m), map[string]int32{"laptop": 0, "web1": 1})
	equal(t, "journeys", journeyStatus(m), map[string]string{"browse": "broken+exposed", "buy": "broken+exposed", "newsletter": "ok"})
	// enter jumps to the selected entry's node in the list.
	m = update(t, m, keyUp, keyEnter)
	equal(t, "focus", m.focus, paneNodes)
	equal(t, "selected node", strings.Fields(m.nodes.Detail())[0], "laptop")
}

func TestNoColor(t *testing.T) {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.TrueColor)
	r.SetHasDarkBackground(true)
	render := func(opts Options) string {
		opts.Renderer = r
		m := New(Session{Title: "t", Model: shopModel(t)}, opts)
		return update(t, m, sizeMsg(size{80, 24})).View()
	}
	const fg = "\x1b[38;2;" // a 24-bit foreground colour
	if v := render(Options{}); !strings.Contains(v, fg) {
		t.Fatal("colour profile not in effect: the test proves nothing")
	}
	if v := render(Options{NoColor: true}); strings.Contains(v, fg) || strings.Contains(v, "\x1b[48;2;") {
		t.Error("NoColor output has colours")
	}
	t.Setenv("NO_COLOR", "1")
	if v := render(Options{}); strings.Contains(v, fg) {
		t.Error("NO_COLOR output has colours")
	}
}

func TestSessionProblemsAreShown(t *testing.T) {
	m := update(t, New(Session{Title: "empty"}, Options{}), sizeMsg(size{80, 24}))
	if !strings.Contains(m.View(), "error: no model to show") {
		t.Errorf("no model:\n%s", m.View())
	}
	// Marking with no engine reports rather than panics.
	m = update(t, m, markMsg{node: "x", toggle: markCompromised})
	if m.err == nil {
		t.Error("no error without an engine")
	}
}

// Runes that arrive in one read (fast typing over SSH) act as separate key
// presses; pasted text never fires actions.
func TestRunesArrivingTogether(t *testing.T) {
	runes := func(s string) tea.KeyMsg { return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)} }
	m := update(t, newShop(t), runes("jjc")) // api, h2, laptop: compromise laptop
	equal(t, "jjc", m.scenario.sim(), simulate.Scenario{Compromised: []string{"laptop"}, Timed: true})
	m = update(t, m, runes("cx"))
	equal(t, "cx in order", m.scenario.sim(), simulate.Scenario{Timed: true})
	// The filter opens mid-burst: the rest is filter text.
	m = update(t, m, runes("/mai"), runes("l"), keyEnter)
	equal(t, "filter", [2]any{m.nodes.Filter(), m.nodes.len()}, [2]any{"mail", 1})
	m = update(t, m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("cfi"), Paste: true})
	equal(t, "paste", m.scenario.sim(), simulate.Scenario{Timed: true})
}

func TestNodeDetail(t *testing.T) {
	m := newShop(t)
	for id, want := range map[string]string{
		"web1":  "web1 · host · 10.0.1.1, 10.0.9.0/24 · sources: nmap, k8s",
		"pay":   "pay · service · runs on h2",
		"paydb": "paydb · datastore · CROWN JEWEL",
	} {
		equal(t, id, pick(t, m, id).nodes.Detail(), want)
	}
	m = update(t, pick(t, m, "laptop"), keys("c")...)
	m = update(t, pick(t, m, "api"), keys("i")...)
	equal(t, "api", m.nodes.Detail(), "api · service · marked quarantined · down (quarantined)")
	equal(t, "web1", pick(t, m, "web1").nodes.Detail(),
		"web1 · host · 10.0.1.1, 10.0.9.0/24 · compromised at hop 1, down: hard dependency down ← api · sources: nmap, k8s")
}
