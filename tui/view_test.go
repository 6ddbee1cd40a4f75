package tui

import (
	"bytes"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/firebreak/firebreak/internal/demo"
	"github.com/firebreak/firebreak/internal/testutil"
)

// Golden views: the real program (teatest) at 80x24 with colour off
// (TestMain), on the embedded demo. The golden is the final model's view,
// which does not depend on how frames were batched. Regenerate with
// go test ./tui/ -update and review the diff.

func demoSession(t testing.TB) Session {
	t.Helper()
	dm, err := demo.Model()
	if err != nil {
		t.Fatalf("demo: %v", err)
	}
	return Session{Title: "demo: " + demo.Title, Model: dm}
}

func startDemo(t *testing.T) *teatest.TestModel {
	t.Helper()
	return teatest.NewTestModel(t, New(demoSession(t), Options{}), teatest.WithInitialTermSize(80, 24))
}

// waitFor waits until the program has drawn s.
func waitFor(t *testing.T, tm *teatest.TestModel, s string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(s)) },
		teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
}

// typeKeys types runes and sends named keys as a terminal would.
func typeKeys(tm *teatest.TestModel, msgs ...tea.Msg) {
	for _, m := range msgs {
		tm.Send(m)
	}
}

func final(t *testing.T, tm *teatest.TestModel) Model {
	t.Helper()
	return tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(Model)
}

func TestGoldenFirstScreen(t *testing.T) {
	tm := startDemo(t)
	waitFor(t, tm, "press c on a node")
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	testutil.Golden(t, []byte(final(t, tm).View()))
}

func TestGoldenCompromised(t *testing.T) {
	tm := startDemo(t)
	waitFor(t, tm, "press c on a node")
	typeKeys(tm, cat(keys("/laptop-1"), one(keyEnter), keys("c"))...)
	waitFor(t, tm, "CROWN JEWELS REACHED")
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	testutil.Golden(t, []byte(final(t, tm).View()))
}

func TestGoldenHelp(t *testing.T) {
	tm := startDemo(t)
	waitFor(t, tm, "press c on a node")
	typeKeys(tm, keys("?")...)
	waitFor(t, tm, "closes this screen")
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	testutil.Golden(t, []byte(final(t, tm).View()))
}
