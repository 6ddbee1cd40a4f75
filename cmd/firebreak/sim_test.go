package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak/firebreak/internal/testutil"
	"github.com/firebreak/firebreak/simulate"
)

// --at limits the blast radius to what is compromised by then; the earliest
// paths explain the crown jewels; --trials/--seed add reproducible Monte Carlo
// results.
func TestSimulateAtTrialsSeed(t *testing.T) {
	c := newCLI(t)
	c.importDemo()
	var full, early simulate.Report
	json.Unmarshal([]byte(c.must("simulate", "--compromise", "laptop-1", "--json")), &full)
	json.Unmarshal([]byte(c.must("simulate", "--compromise", "laptop-1", "--at", "30m", "--json")), &early)
	if len(early.Reached) == 0 || len(early.Reached) >= len(full.Reached) {
		t.Fatalf("at 30m: %d reached, unlimited: %d", len(early.Reached), len(full.Reached))
	}
	for _, r := range early.Reached {
		if r.Seconds == nil || *r.Seconds > 30*60 {
			t.Errorf("%s reached at %v, after the 30m horizon", r.Node, r.Seconds)
		}
	}
	if early.Seeds.At != "30m0s" {
		t.Errorf("seeds.at = %q", early.Seeds.At)
	}
	if len(full.Explanations) == 0 || len(full.Explanations[0].EarliestPath) == 0 {
		t.Errorf("no explanation with an earliest path: %+v", full.Explanations)
	}

	args := []string{"simulate", "--compromise", "laptop-1", "--at", "4h", "--trials", "300", "--seed", "9", "--json"}
	a, b := c.must(args...), c.must(args...)
	if a != b {
		t.Fatal("the same seed gave different output")
	}
	var mc simulate.Report
	json.Unmarshal([]byte(a), &mc)
	if mc.MonteCarlo == nil || mc.MonteCarlo.Trials != 300 || mc.MonteCarlo.Seed != 9 || len(mc.MonteCarlo.Journeys) != 10 {
		t.Fatalf("monte_carlo: %+v", mc.MonteCarlo)
	}
	for _, n := range mc.MonteCarlo.CrownJewels {
		if n.Probability <= 0 || n.Probability > 1 || n.MedianSeconds > 4*3600 {
			t.Errorf("crown jewel %+v", n)
		}
	}
	if other := c.must("simulate", "--compromise", "laptop-1", "--at", "4h", "--trials", "300", "--seed", "10", "--json"); other == a {
		t.Error("a different seed gave the same output")
	}
	testutil.Golden(t, []byte(c.must("simulate", "--compromise", "laptop-1", "--at", "2h", "--trials", "200", "--seed", "3")))

	for _, bad := range [][]string{
		{"simulate", "--compromise", "laptop-1", "--trials", "70000"},
		{"simulate", "--compromise", "laptop-1", "--at", "-5m"},
		{"simulate", "--compromise", "laptop-1", "--at", "soon"},
	} {
		if _, _, code := c.run(bad...); code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
}

func TestLateralOnlyAndClassConfig(t *testing.T) {
	c := newCLI(t)
	c.importDemo()
	var all, lateral simulate.Report
	json.Unmarshal([]byte(c.must("simulate", "--compromise", "laptop-1", "--json")), &all)
	json.Unmarshal([]byte(c.must("simulate", "--compromise", "laptop-1", "--lateral-only", "--json")), &lateral)
	if len(lateral.Reached) >= len(all.Reached) || !lateral.Seeds.LateralOnly {
		t.Errorf("lateral only reached %d of %d", len(lateral.Reached), len(all.Reached))
	}
	// A config that makes SSH take a day moves the bastion's compromise time.
	cfg := filepath.Join(c.dir, "slow.yaml")
	os.WriteFile(cfg, []byte("simulate:\n  port_classes:\n    - {name: ssh, ports: [22/tcp], dwell: 24h, probability: 0.5, lateral: true}\n"), 0o644)
	var slow simulate.Report
	json.Unmarshal([]byte(c.must("--config", cfg, "simulate", "--compromise", "laptop-1", "--json")), &slow)
	for _, r := range slow.Reached {
		if r.Node == "bastion" && (r.Seconds == nil || *r.Seconds != 24*3600) {
			t.Errorf("bastion at %v, want 24h", r.Seconds)
		}
	}
	os.WriteFile(cfg, []byte("simulate:\n  port_classes:\n    - {name: ssh, ports: [22/tcp], dwell: 1h, probability: 2}\n"), 0o644)
	if _, errOut, code := c.run("--config", cfg, "nodes"); code != 2 || !strings.Contains(errOut, "probability") {
		t.Errorf("bad class: exit %d %s", code, errOut)
	}
}

func TestGenImportsAndDot(t *testing.T) {
	c := newCLI(t)
	dir := filepath.Join(c.dir, "estate")
	c.must("gen", "--nodes", "2000", "--journeys", "15", "--seed", "4", "--out", dir)
	out := c.must("import", filepath.Join(dir, "topology.json"), filepath.Join(dir, "journeys.json"))
	if !strings.Contains(out, "2000 nodes") || !strings.Contains(out, "15 journeys") {
		t.Errorf("import: %s", out)
	}
	if _, errOut, code := c.run("gen", "--nodes", "2000", "--out", dir); code != 2 || !strings.Contains(errOut, "refusing to overwrite") {
		t.Errorf("overwrite: exit %d %s", code, errOut)
	}
	yamlDir := filepath.Join(c.dir, "small")
	c.must("gen", "--nodes", "100", "--journeys", "3", "--format", "yaml", "--out", yamlDir)
	c.must("import", filepath.Join(yamlDir, "topology.yaml"), filepath.Join(yamlDir, "journeys.yaml"))
	dot := c.must("dot")
	if !strings.HasPrefix(dot, "strict digraph {") || !strings.Contains(dot, " -> ") {
		t.Errorf("dot:\n%.300s", dot)
	}
}

// A simulation run on an incident lands in the audit log with who and why;
// one without --incident does not.
func TestSimulateOnIncidentIsAudited(t *testing.T) {
	c := newCLI(t)
	c.importDemo()
	c.must("simulate", "--compromise", "laptop-3")
	c.must("simulate", "--compromise", "laptop-3", "--quarantine", "support-1", "--incident", "INC-42", "--reason", "is the inbox worth isolating?")
	out := c.must("audit", "log", "--json")
	var recs []map[string]any
	if err := json.Unmarshal([]byte(out), &recs); err != nil {
		t.Fatalf("audit log --json: %v\n%s", err, out)
	}
	if len(recs) != 1 {
		t.Fatalf("want one audited run, got %d:\n%s", len(recs), out)
	}
	if !strings.Contains(out, "INC-42") || !strings.Contains(out, "is the inbox worth isolating?") || !strings.Contains(out, `"simulate"`) {
		t.Errorf("audit record:\n%s", out)
	}
	c.must("audit", "verify")
}
