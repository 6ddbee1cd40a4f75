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

// The configuration example in docs/formats.md must load, and mean what it
// says.
func TestConfigDocExampleLoads(t *testing.T) {
	c := newCLI(t)
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "formats.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(doc), "## Configuration")
	if !ok {
		t.Fatal("docs/formats.md has no Configuration section")
	}
	_, block, _ := strings.Cut(after, "```yaml\n")
	block, _, _ = strings.Cut(block, "```")
	cfg := filepath.Join(c.dir, "firebreak.yaml")
	if err := os.WriteFile(cfg, []byte(block), 0o644); err != nil {
		t.Fatal(err)
	}
	c.importDemo()
	out := c.must("--config", cfg, "contain", "quarantine", "ci-1", "--dry-run")
	if !strings.Contains(out, "# management kept: 10.20.99.0/24 on tcp 22, 7443 (agent)") {
		t.Errorf("config example not applied:\n%s", out)
	}
}
