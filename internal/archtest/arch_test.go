// Package archtest enforces the dependency table in docs/codebase.md.
package archtest

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	_ "github.com/firebreak/firebreak/internal/testutil" // registers -update for go test ./... -update
)

const module = "github.com/firebreak/firebreak"

type rule struct {
	firebreak  []string // allowed firebreak packages (relative), or "everything"
	thirdParty []string // allowed third-party module prefixes, or "everything"
}

// folder → package path relative to the module. `import` is the folder of
// package importer.
func readTable(t *testing.T) map[string]rule {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "docs", "codebase.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rules := map[string]rule{}
	in := false
	tick := regexp.MustCompile("`([^`]+)`")
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.Contains(line, "archtest:begin"):
			in = true
			continue
		case strings.Contains(line, "archtest:end"):
			in = false
		}
		if !in || !strings.HasPrefix(line, "| `") {
			continue
		}
		cols := strings.Split(line, "|")
		if len(cols) < 6 {
			t.Fatalf("codebase.md: bad table row %q", line)
		}
		pkg := tick.FindStringSubmatch(cols[1])[1]
		parse := func(col string) []string {
			if strings.Contains(col, "everything") {
				return []string{"everything"}
			}
			var out []string
			for _, m := range tick.FindAllStringSubmatch(col, -1) {
				out = append(out, m[1])
			}
			return out
		}
		rules[pkg] = rule{firebreak: parse(cols[3]), thirdParty: parse(cols[4])}
	}
	if len(rules) < 6 {
		t.Fatalf("codebase.md: found %d table rows between the archtest markers", len(rules))
	}
	return rules
}

type listed struct {
	ImportPath string
	Imports    []string
	Standard   bool
}

func goList(t *testing.T) []listed {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports,Standard", module+"/...")
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []listed
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p listed
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func isStdlib(path string) bool {
	first := strings.SplitN(path, "/", 2)[0]
	return !strings.Contains(first, ".")
}

func allowed(list []string, path string) bool {
	for _, a := range list {
		if a == "everything" || path == a || strings.HasPrefix(path, a+"/") {
			return true
		}
	}
	return false
}

// TestImportsFollowTheTable checks every non-test import of every package.
func TestImportsFollowTheTable(t *testing.T) {
	rules := readTable(t)
	for _, p := range goList(t) {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		if rel == "internal/archtest" {
			continue
		}
		r, ok := rules[rel]
		if !ok {
			t.Errorf("package %s has no row in docs/codebase.md", rel)
			continue
		}
		for _, imp := range p.Imports {
			switch {
			case isStdlib(imp):
			case strings.HasPrefix(imp, module+"/"):
				dep := strings.TrimPrefix(imp, module+"/")
				if dep == "internal/testutil" {
					t.Errorf("%s imports internal/testutil outside tests", rel)
				} else if !allowed(r.firebreak, dep) {
					t.Errorf("%s imports %s, which its row in docs/codebase.md does not allow", rel, dep)
				}
			default:
				if !allowed(r.thirdParty, imp) {
					t.Errorf("%s imports %s, which its row in docs/codebase.md does not allow", rel, imp)
				}
			}
			owners := map[string]string{
				"github.com/google/nftables":    "contain",
				"github.com/dominikbraun/graph": "graph",
				"github.com/spf13/viper":        "cmd/firebreak",
				"github.com/spf13/cobra":        "cmd/firebreak",
			}
			for lib, owner := range owners {
				if allowed([]string{lib}, imp) && rel != owner {
					t.Errorf("%s imports %s: only %s may", rel, lib, owner)
				}
			}
		}
	}
}
