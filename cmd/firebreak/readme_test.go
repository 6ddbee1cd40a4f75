package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeTour runs every command of the README's tour, word for word, in a
// fresh directory, so the tour cannot drift from what the tool does.
func TestReadmeTour(t *testing.T) {
	newCLI(t) // clears FIREBREAK_* from the environment
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	begin, end := strings.Index(text, "<!-- tour:begin -->"), strings.Index(text, "<!-- tour:end -->")
	if begin < 0 || end < begin {
		t.Fatal("README has no tour markers")
	}
	t.Chdir(t.TempDir())
	ran := 0
	for _, line := range strings.Split(text[begin:end], "\n") {
		cmdline, _, _ := strings.Cut(line, "#")
		fields := strings.Fields(cmdline)
		if len(fields) == 0 || fields[0] != "firebreak" {
			continue
		}
		var out, errb bytes.Buffer
		if code := run(context.Background(), fields[1:], strings.NewReader(""), &out, &errb); code != 0 {
			t.Fatalf("README tour: %q exited %d:\n%s", strings.TrimSpace(cmdline), code, errb.String())
		}
		if out.Len() == 0 {
			t.Errorf("README tour: %q printed nothing", strings.TrimSpace(cmdline))
		}
		ran++
	}
	if ran < 5 {
		t.Fatalf("only %d tour commands found", ran)
	}
}
