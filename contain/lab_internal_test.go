package contain

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/firebreak/firebreak/graph"
	"github.com/firebreak/firebreak/internal/demo"
)

// These tests need no privileges: they cover the plan, the state file, the
// wire protocol and the journey judgement.

func parseModel(t *testing.T, topology string) *graph.Model {
	t.Helper()
	d, err := graph.ParseNative("topology.yaml", []byte("apiVersion: firebreak/v1\nkind: Topology\n"+topology))
	if err != nil {
		t.Fatal(err)
	}
	m, err := graph.Build(d)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPlanLabDemo(t *testing.T) {
	m, err := demo.Model()
	if err != nil {
		t.Fatal(err)
	}
	st, lm, err := PlanLab(m, LabOptions{Name: "fb"})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(st.Endpoints()); got != 36 {
		t.Errorf("%d endpoints, want 36", got)
	}
	if got := st.NetNSes(); got[0] != "fb-lab" || len(got) != 37 {
		t.Errorf("namespaces %v", got)
	}
	estate := netip.MustParsePrefix("10.20.0.0/16")
	if estate.Contains(st.Prober) {
		t.Errorf("prober %s inside the estate", st.Prober)
	}
	addrs := map[netip.Addr]string{st.Prober: "prober"}
	for _, n := range lm.Nodes {
		ln := st.Nodes[n.ID]
		if n.RunsOn != "" {
			if ln.NetNS != st.Nodes[n.RunsOn].NetNS || ln.Addr != st.Nodes[n.RunsOn].Addr {
				t.Errorf("%s runs on %s but lives at %s %s", n.ID, n.RunsOn, ln.NetNS, ln.Addr)
			}
			if n.Enforce != "" {
				t.Errorf("%s: enforce %q on a resident", n.ID, n.Enforce)
			}
			continue
		}
		if n.Enforce != "netns:"+ln.NetNS {
			t.Errorf("%s: enforce %q, want netns:%s", n.ID, n.Enforce, ln.NetNS)
		}
		if len(ln.Link) > 15 {
			t.Errorf("%s: link name %q too long", n.ID, ln.Link)
		}
		if other, dup := addrs[ln.Addr]; dup {
			t.Errorf("%s and %s share %s", n.ID, other, ln.Addr)
		}
		addrs[ln.Addr] = n.ID
		if ln.Assigned == estate.Contains(ln.Addr) {
			t.Errorf("%s: address %s, assigned %v", n.ID, ln.Addr, ln.Assigned)
		}
		if ln.Assigned && !reflect.DeepEqual(n.Addresses, []netip.Prefix{netip.PrefixFrom(ln.Addr, 32)}) {
			t.Errorf("%s: lab model addresses %v, want its lab address %s", n.ID, n.Addresses, ln.Addr)
		}
		if !containsPort(ln.Ports, LabSSHPort) {
			t.Errorf("%s: no stand-in SSH listener: %v", n.ID, ln.Ports)
		}
	}
	// Probe ports are unique within a namespace and clash with no
	// listener.
	used := map[string]string{}
	for id, ln := range st.Nodes {
		for _, p := range append([]uint16{ln.ProbePort}, ln.Ports...) {
			k := fmt.Sprintf("%s:%d", ln.NetNS, p)
			if other, dup := used[k]; dup {
				t.Errorf("%s and %s both listen on %s", other, id, k)
			}
			used[k] = id
		}
	}
	// The input is untouched.
	if n, _ := m.NodeByID("web-1"); n.Enforce != "agent:https://10.20.1.11:7443" {
		t.Errorf("PlanLab changed the input model: web-1 enforce %q", n.Enforce)
	}
	if n, _ := m.NodeByID("psp"); len(n.Addresses) != 0 {
		t.Errorf("PlanLab changed the input model: psp addresses %v", n.Addresses)
	}
}

func containsPort(ps []uint16, p uint16) bool {
	for _, x := range ps {
		if x == p {
			return true
		}
	}
	return false
}

func TestPlanLabRefuses(t *testing.T) {
	var many strings.Builder
	many.WriteString("nodes:\n")
	for i := range MaxLabEndpoints + 1 {
		fmt.Fprintf(&many, "  - {id: h%d, kind: host}\n", i)
	}
	for _, tc := range []struct {
		name, topology string
		want           []string
	}{
		{"too many endpoints", many.String(), []string{"65 network endpoints"}},
		{"udp only", `
nodes:
  - {id: a, kind: host}
  - {id: dns, kind: host}
edges:
  - {from: a, to: dns, ports: ["53/udp"], dependency: hard}
`, []string{"edge a->dns has no TCP port"}},
		{"any port", `
nodes:
  - {id: a, kind: host}
  - {id: b, kind: host}
edges:
  - {from: a, to: b, dependency: none}
`, []string{"edge a->b has no TCP port"}},
		{"co-resident port clash", `
nodes:
  - {id: box, kind: host}
  - {id: api, kind: service, runs_on: box}
  - {id: admin, kind: service, runs_on: box}
  - {id: web, kind: host}
edges:
  - {from: web, to: api, ports: ["8080/tcp"], dependency: hard}
  - {from: web, to: admin, ports: ["8000-8080/tcp"], dependency: soft}
`, []string{"nodes admin and api share host box and both need port 8080"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := PlanLab(parseModel(t, tc.topology), LabOptions{})
			if !errors.Is(err, graph.ErrInvalid) {
				t.Fatalf("err = %v, want graph.ErrInvalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	if _, _, err := PlanLab(parseModel(t, "nodes: [{id: a, kind: host}]\n"), LabOptions{Name: "Bad_Name"}); !errors.Is(err, graph.ErrInvalid) {
		t.Errorf("bad lab name: err = %v", err)
	}
}

// The lab's own addresses stay clear of the model's ranges and of the
// management networks.
func TestPlanLabPool(t *testing.T) {
	m := parseModel(t, `
nodes:
  - {id: a, kind: host, addresses: [198.18.4.4]}
  - {id: saas, kind: saas}
`)
	st, _, err := PlanLab(m, LabOptions{Avoid: []netip.Prefix{netip.MustParsePrefix("100.64.0.0/10")}})
	if err != nil {
		t.Fatal(err)
	}
	pool := netip.MustParsePrefix("192.0.2.0/24")
	if !pool.Contains(st.Prober) || !pool.Contains(st.Nodes["saas"].Addr) || st.Prober == st.Nodes["saas"].Addr {
		t.Errorf("prober %s, saas %s: want distinct addresses in %s", st.Prober, st.Nodes["saas"].Addr, pool)
	}
}

func TestIsLabNetNS(t *testing.T) {
	for ns, want := range map[string]bool{
		"fb-lab": true, "fb-n0": true, "fb-n63": true,
		"fb-n": false, "fb-nx": false, "fb-x-lab": false, "fb-x-n1": false, "fbb-n1": false, "fb": false,
	} {
		if got := isLabNetNS("fb", ns); got != want {
			t.Errorf("isLabNetNS(fb, %q) = %v", ns, got)
		}
	}
}

func TestSaveLoadLab(t *testing.T) {
	m, err := demo.Model()
	if err != nil {
		t.Fatal(err)
	}
	st, lm, err := PlanLab(m, LabOptions{Name: "rt"})
	if err != nil {
		t.Fatal(err)
	}
	st.ServerPID = 4242
	dir := t.TempDir()
	if err := SaveLab(dir, st, lm); err != nil {
		t.Fatal(err)
	}
	st2, lm2, err := LoadLab(dir, "rt")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(st, st2) {
		t.Errorf("state does not round-trip:\n%+v\n%+v", st, st2)
	}
	if len(lm2.Nodes) != len(lm.Nodes) || len(lm2.Edges) != len(lm.Edges) || len(lm2.Journeys) != len(lm.Journeys) {
		t.Fatalf("lab model does not round-trip")
	}
	for i := range lm.Nodes {
		if a, b := lm.Nodes[i].Doc(), lm2.Nodes[i].Doc(); !reflect.DeepEqual(a, b) {
			t.Errorf("node %s: %+v != %+v", lm.Nodes[i].ID, a, b)
		}
	}
	if _, _, err := LoadLab(dir, "other"); !errors.Is(err, ErrNoLab) {
		t.Errorf("missing lab: err = %v, want ErrNoLab", err)
	}
}

func TestLabProtocol(t *testing.T) {
	for line, want := range map[string]labRequest{
		"PROBE\n":               {kind: "PROBE"},
		"PROBE a,b\r\n":         {kind: "PROBE", path: []string{"a", "b"}},
		"ROUND 1f down 3\n":     {kind: "ROUND", id: "1f", phase: labPhaseDown, round: 3},
		"STATE 1f degraded 0\n": {kind: "STATE", id: "1f", phase: labPhaseDegraded},
	} {
		got, ok := parseLabRequest(line)
		if !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("parseLabRequest(%q) = %+v, %v; want %+v", line, got, ok, want)
		}
	}
	for _, bad := range []string{"", "SSH-2.0-OpenSSH_9.6\r\n", "PROBES\n", "ROUND x up 1\n", "STATE x down -1\n", "ROUND x down\n"} {
		if got, ok := parseLabRequest(bad); ok {
			t.Errorf("parseLabRequest(%q) = %+v, want refusal", bad, got)
		}
	}
	for _, v := range []labVerdict{{Status: labOK}, {Status: labDegraded, Reason: "a ← b (unreachable)"}, {Status: labDown, Reason: "c (unreachable)"}} {
		got, ok := parseLabVerdict(v.line() + "\n")
		if !ok || got != v {
			t.Errorf("verdict %+v does not round-trip: %+v %v", v, got, ok)
		}
	}
	long := labVerdict{Status: labDown, Reason: "b ← c ← d ← e ← f ← g ← h (unreachable)"}
	if got, want := long.chain("a"), "a ← b ← c ← d ← e ← f ← g ← …"; got != want {
		t.Errorf("chain = %q, want %q", got, want)
	}
	if got, want := labUnreachable.chain("x"), "x (unreachable)"; got != want {
		t.Errorf("chain = %q, want %q", got, want)
	}
}

// labJourneys judges steps exactly as simulate's stepStatus does.
func TestLabJourneys(t *testing.T) {
	js := []graph.Journey{
		{ID: "z-ok", Steps: []graph.Step{{Requires: []string{"up"}, AnyOf: [][]string{{"down", "up"}}}}},
		{ID: "a-broken", Steps: []graph.Step{{Name: "first", Requires: []string{"slow"}}, {Name: "pay", Requires: []string{"up", "down"}}}},
		{ID: "b-alt-down", Steps: []graph.Step{{AnyOf: [][]string{{"down", "gone"}}}}},
		{ID: "c-alt-degraded", Steps: []graph.Step{{AnyOf: [][]string{{"down", "slow"}}}}},
		{ID: "d-required-degraded", Steps: []graph.Step{{Requires: []string{"up"}}, {Name: "x", Requires: []string{"slow"}}}},
	}
	v := map[string]labVerdict{
		"up":   {Status: labOK},
		"slow": {Status: labDegraded, Reason: "cache (unreachable)"},
		"down": {Status: labDown, Reason: "db ← disk (unreachable)"},
		"gone": labUnreachable,
	}
	got := labJourneys(js, func(id string) labVerdict { return v[id] })
	want := []struct{ id, status, cause string }{
		{"a-broken", "broken", `step 2 "pay" down: down ← db ← disk (unreachable)`},
		{"b-alt-down", "broken", "step 1 down: all of down, gone down; down ← db ← disk (unreachable)"},
		{"c-alt-degraded", "degraded", "step 1 degraded: all of down, slow degraded; slow ← cache (unreachable)"},
		{"d-required-degraded", "degraded", `step 2 "x" degraded: slow ← cache (unreachable)`},
		{"z-ok", "ok", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("%d journeys, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.ID != w.id || g.Status != w.status || g.Cause != w.cause || g.Exposed {
			t.Errorf("journey %d = %+v, want %+v", i, g, w)
		}
	}
}
