package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak/firebreak/internal/testutil"
)

// cli runs one firebreak command line in-process against a workspace in a
// temporary directory, with no FIREBREAK_* environment leaking in from the
// developer's shell.
type cli struct {
	t   *testing.T
	dir string
	ws  string
}

func newCLI(t *testing.T) *cli {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "FIREBREAK_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	dir := t.TempDir()
	return &cli{t: t, dir: dir, ws: filepath.Join(dir, "firebreak.db")}
}

func (c *cli) run(args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	var out, errb bytes.Buffer
	full := append([]string{"--workspace", c.ws}, args...)
	code = run(context.Background(), full, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func (c *cli) must(args ...string) string {
	c.t.Helper()
	out, errOut, code := c.run(args...)
	if code != 0 {
		c.t.Fatalf("firebreak %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// importDemo writes the demo out and imports it, as the README tour does.
func (c *cli) importDemo() {
	c.t.Helper()
	d := filepath.Join(c.dir, "demo")
	c.must("demo", "--write", d)
	c.must("import", filepath.Join(d, "topology.yaml"), filepath.Join(d, "journeys.yaml"))
}

func TestImportThenList(t *testing.T) {
	c := newCLI(t)
	c.importDemo()
	var nodes []map[string]any
	if err := json.Unmarshal([]byte(c.must("nodes", "--json")), &nodes); err != nil {
		t.Fatal(err)
	}
	if len(nodes) < 40 {
		t.Fatalf("%d nodes", len(nodes))
	}
	for _, key := range []string{"id", "kind"} {
		if _, ok := nodes[0][key]; !ok {
			t.Errorf("nodes --json lacks native field %q: %v", key, nodes[0])
		}
	}
	var edges []map[string]any
	if err := json.Unmarshal([]byte(c.must("edges", "--json")), &edges); err != nil {
		t.Fatal(err)
	}
	if _, ok := edges[0]["dependency"]; !ok || len(edges) == 0 {
		t.Errorf("edges --json: %v", edges[:1])
	}
	var journeys []map[string]any
	if err := json.Unmarshal([]byte(c.must("journeys", "--json")), &journeys); err != nil || len(journeys) < 8 {
		t.Fatalf("journeys: %d %v", len(journeys), err)
	}
	if txt := c.must("journeys"); !strings.Contains(txt, "checkout") || !strings.HasPrefix(txt, "ID") {
		t.Errorf("journeys table:\n%s", txt)
	}
	if revs := c.must("revisions"); !strings.Contains(revs, "topology.yaml") {
		t.Errorf("revisions:\n%s", revs)
	}
}

func digestFile(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func TestBadImportExitsTwoAndWritesNothing(t *testing.T) {
	c := newCLI(t)
	bad := filepath.Join(c.dir, "bad.yaml")
	os.WriteFile(bad, []byte("apiVersion: firebreak/v1\nkind: Topology\nnodes:\n  - id: a\n    kind: host\n    colour: red\n"), 0o644)
	_, errOut, code := c.run("import", bad)
	if code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if want := "bad.yaml:6: nodes[0].colour: unknown field"; !strings.Contains(errOut, want) {
		t.Errorf("stderr %q lacks %q", errOut, want)
	}
	if _, err := os.Stat(c.ws); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed import created the workspace: %v", err)
	}

	// With a workspace already there, a bad import (here a dangling
	// reference across two good-looking files) leaves it byte-for-byte.
	c.importDemo()
	before := digestFile(t, c.ws)
	dangling := filepath.Join(c.dir, "j.yaml")
	os.WriteFile(dangling, []byte("apiVersion: firebreak/v1\nkind: Journeys\njourneys:\n  - id: x\n    steps:\n      - requires: [no-such-node]\n"), 0o644)
	_, errOut, code = c.run("import", filepath.Join(c.dir, "demo", "topology.yaml"), dangling)
	if code != 2 || !strings.Contains(errOut, `j.yaml:6: journeys[0].steps[0].requires[0]: unknown node "no-such-node"`) {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if digestFile(t, c.ws) != before {
		t.Fatal("workspace changed after a failed import")
	}
	if _, _, code := c.run("import", filepath.Join(c.dir, "missing.yaml")); code != 2 {
		t.Errorf("missing file: exit %d, want 2", code)
	}
}

// The golden of `simulate --json` on the demo: a laptop compromise with a
// failed database, a quarantine and a blocked edge.
func TestSimulateDemoJSONGolden(t *testing.T) {
	c := newCLI(t)
	c.importDemo()
	out := c.must("simulate", "--compromise", "laptop-1", "--fail", "db-1",
		"--quarantine", "ci-1", "--block", "support-inbox:customer-pii-db", "--json")
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"seeds", "reached", "crown_jewels_reached", "failed", "degraded", "journeys", "impact"} {
		if _, ok := rep[key]; !ok {
			t.Errorf("simulate --json lacks %q", key)
		}
	}
	testutil.Golden(t, []byte(out))
}

func TestSimulateDemoTextGolden(t *testing.T) {
	c := newCLI(t)
	c.importDemo()
	testutil.Golden(t, []byte(c.must("simulate", "--compromise", "web-2")))
}

func TestSimulateUnknownNodeExitsTwo(t *testing.T) {
	c := newCLI(t)
	c.importDemo()
	for _, args := range [][]string{
		{"simulate", "--compromise", "nope"},
		{"simulate", "--block", "web-1:nope"},
		{"simulate", "--rev", "99"},
		{"simulate", "--bogus-flag"},
		{"nodes", "extra-arg"},
	} {
		if _, errOut, code := c.run(args...); code != 2 {
			t.Errorf("%v: exit %d (%s), want 2", args, code, errOut)
		}
	}
}

func TestNoWorkspaceIsAnError(t *testing.T) {
	c := newCLI(t)
	_, errOut, code := c.run("nodes")
	if code != 1 || !strings.Contains(errOut, "firebreak import") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

func TestContainDryRunGolden(t *testing.T) {
	c := newCLI(t)
	c.importDemo()
	before := digestFile(t, c.ws)
	out := c.must("contain", "quarantine", "web-1", "--dry-run", "--mgmt-cidr", "10.20.99.0/24")
	testutil.Golden(t, []byte(out))
	c.must("contain", "block", "web-1:api-gw", "--dry-run", "--mgmt-cidr", "10.20.99.0/24")
	if digestFile(t, c.ws) != before {
		t.Error("a dry-run changed the workspace")
	}
}

func TestContainRefusesWithoutManagement(t *testing.T) {
	c := newCLI(t)
	c.importDemo()
	_, errOut, code := c.run("contain", "quarantine", "web-1", "--dry-run")
	if code != 2 || !strings.Contains(errOut, "management allowlist") {
		t.Errorf("exit %d: %s", code, errOut)
	}
	_, errOut, code = c.run("contain", "quarantine", "identity-svc", "--dry-run", "--mgmt-cidr", "10.20.99.0/24")
	if code != 2 || !strings.Contains(errOut, "quarantine \"app-1\" instead") {
		t.Errorf("resident: exit %d: %s", code, errOut)
	}
}

// Config precedence: file < FIREBREAK_* environment < flags.
func TestConfigPrecedence(t *testing.T) {
	c := newCLI(t)
	c.importDemo()
	cfg := filepath.Join(c.dir, "fb.yaml")
	os.WriteFile(cfg, []byte("contain:\n  management:\n    cidrs: [10.1.0.0/16]\n    ports: [2222]\n  agent_port: 9443\n  ttl: 2m\n"), 0o644)
	header := func(out string) string {
		var keep []string
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "# management kept") || strings.HasPrefix(l, "# provisional") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	got := header(c.must("--config", cfg, "contain", "quarantine", "web-1", "--dry-run"))
	if want := "# provisional: the kernel removes the new elements after 2m unless confirmed\n# management kept: 10.1.0.0/16 on tcp 2222, 9443 (agent)"; got != want {
		t.Errorf("from file:\n%s\nwant\n%s", got, want)
	}
	t.Setenv("FIREBREAK_CONTAIN_MANAGEMENT_CIDRS", "10.2.0.0/16,10.3.0.0/16")
	got = header(c.must("--config", cfg, "contain", "quarantine", "web-1", "--dry-run"))
	if !strings.Contains(got, "10.2.0.0/16, 10.3.0.0/16 on tcp 2222") {
		t.Errorf("env should override file: %s", got)
	}
	got = header(c.must("--config", cfg, "--mgmt-cidr", "10.4.0.0/16", "--agent-port", "8443", "contain", "quarantine", "web-1", "--dry-run"))
	if !strings.Contains(got, "10.4.0.0/16 on tcp 2222, 8443 (agent)") {
		t.Errorf("flag should override env: %s", got)
	}
	if _, _, code := c.run("--config", filepath.Join(c.dir, "nope.yaml"), "nodes"); code != 2 {
		t.Errorf("missing config: exit %d, want 2", code)
	}
}
