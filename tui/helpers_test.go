package tui

import (
	"os"
	"reflect"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/firebreak/firebreak/graph"
	"github.com/firebreak/firebreak/internal/testutil"
)

func TestMain(m *testing.M) {
	// Goldens carry no colour escapes and do not depend on the terminal.
	lipgloss.SetColorProfile(termenv.Ascii)
	lipgloss.SetHasDarkBackground(true)
	os.Exit(m.Run())
}

// shop is the fixture most tests use:
//
//	laptop ─ssh(none)→ web1
//	lb ─web group→ web1, web2 ─→ api ─→ pay ─→ paydb (crown jewel)
//	                              api ─soft→ reco
//	pay runs on h2; mail stands alone
const shopTopology = `
	apiVersion: firebreak/v1
	kind: Topology
	nodes:
	  - {id: laptop, kind: host}
	  - {id: lb, kind: lb}
	  - {id: web1, kind: host, addresses: [10.0.1.1, 10.0.9.0/24], sources: [nmap, k8s]}
	  - {id: web2, kind: host, addresses: [10.0.1.2]}
	  - {id: api, kind: service}
	  - {id: h2, kind: host, addresses: [10.0.2.1]}
	  - {id: pay, kind: service, runs_on: h2}
	  - {id: paydb, kind: datastore, crown_jewel: true}
	  - {id: reco, kind: service}
	  - {id: mail, kind: saas}
	edges:
	  - {from: laptop, to: web1, ports: [22], dependency: none}
	  - {from: lb, to: web1, group: web, ports: [443]}
	  - {from: lb, to: web2, group: web, ports: [443]}
	  - {from: web1, to: api}
	  - {from: web2, to: api}
	  - {from: api, to: pay}
	  - {from: api, to: reco, dependency: soft}
	  - {from: pay, to: paydb, ports: [5432]}
`

const shopJourneys = `
	apiVersion: firebreak/v1
	kind: Journeys
	journeys:
	  - id: browse
	    name: Browse the catalogue
	    weight: {customers_per_hour: 1000, revenue_per_hour: 0}
	    steps:
	      - {name: page, requires: [lb], any_of: [[web1, web2]]}
	  - id: buy
	    name: Check out
	    tier: critical
	    weight: {customers_per_hour: 120, revenue_per_hour: 9000}
	    steps:
	      - {name: page, requires: [lb], any_of: [[web1, web2]]}
	      - {name: pay, requires: [api, pay]}
	  - id: newsletter
	    weight: {customers_per_hour: 5, revenue_per_hour: 1}
	    steps:
	      - {requires: [mail]}
`

func shopModel(t testing.TB) *graph.Model {
	return testutil.Model(t, shopTopology, shopJourneys)
}

// newShop is the root model over the shop fixture, sized 80x24.
func newShop(t testing.TB) Model {
	t.Helper()
	m := New(Session{Title: "test: shop", Model: shopModel(t)}, Options{})
	if m.err != nil {
		t.Fatalf("New: %v", m.err)
	}
	return update(t, m, tea.WindowSizeMsg{Width: 80, Height: 24})
}

// update feeds msgs to m one by one, runs every command they return and feeds
// the resulting messages back, as the bubbletea runtime would (but
// synchronously), until nothing is left. Quit is recorded, not obeyed.
func update(t testing.TB, m Model, msgs ...tea.Msg) Model {
	t.Helper()
	m, _ = updateQuit(t, m, msgs...)
	return m
}

func updateQuit(t testing.TB, m Model, msgs ...tea.Msg) (Model, bool) {
	t.Helper()
	quit := false
	queue := append([]tea.Msg(nil), msgs...)
	for steps := 0; len(queue) > 0; steps++ {
		if steps > 1000 {
			t.Fatal("update: message loop does not settle")
		}
		msg := queue[0]
		queue = queue[1:]
		next, cmd := m.Update(msg)
		m = next.(Model)
		queue = append(queue, run(cmd, &quit)...)
	}
	return m, quit
}

// run executes cmd and returns the messages it produces, flattening batches.
func run(cmd tea.Cmd, quit *bool) []tea.Msg {
	if cmd == nil {
		return nil
	}
	switch msg := cmd().(type) {
	case nil:
		return nil
	case tea.QuitMsg:
		*quit = true
		return nil
	case tea.BatchMsg:
		var out []tea.Msg
		for _, c := range msg {
			out = append(out, run(c, quit)...)
		}
		return out
	default:
		// tea.Sequence's message type is unexported: a slice of commands.
		if v := reflect.ValueOf(msg); v.Kind() == reflect.Slice && v.Type().Elem() == reflect.TypeOf(tea.Cmd(nil)) {
			var out []tea.Msg
			for i := 0; i < v.Len(); i++ {
				out = append(out, run(v.Index(i).Interface().(tea.Cmd), quit)...)
			}
			return out
		}
		return []tea.Msg{msg}
	}
}

// Key messages as a terminal would send them.
func keys(s string) []tea.Msg {
	var out []tea.Msg
	for _, r := range s {
		out = append(out, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
	}
	return out
}

var (
	keyTab      = tea.KeyMsg{Type: tea.KeyTab}
	keyShiftTab = tea.KeyMsg{Type: tea.KeyShiftTab}
	keyEnter    = tea.KeyMsg{Type: tea.KeyEnter}
	keyEsc      = tea.KeyMsg{Type: tea.KeyEsc}
	keyDown     = tea.KeyMsg{Type: tea.KeyDown}
	keyUp       = tea.KeyMsg{Type: tea.KeyUp}
	keyCtrlC    = tea.KeyMsg{Type: tea.KeyCtrlC}
)

func cat(groups ...[]tea.Msg) []tea.Msg {
	var out []tea.Msg
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

func one(msgs ...tea.Msg) []tea.Msg { return msgs }

func sizeMsg(s size) tea.WindowSizeMsg { return tea.WindowSizeMsg{Width: s.W, Height: s.H} }
