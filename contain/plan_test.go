package contain_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/firebreak/firebreak/contain"
	"github.com/firebreak/firebreak/graph"
	"github.com/firebreak/firebreak/internal/testutil"
)

// internet ──443──▶ h1 (netns:h1, 10.0.1.1) ──443,53/udp──▶ h2 (agent, 10.0.2.2, fd00::2)
// bastion (10.99.0.5, no enforce) ──22──▶ h1, h2 ;  svc runs on h1
const estate = `
	apiVersion: firebreak/v1
	kind: Topology
	nodes:
	  - {id: internet, kind: client}
	  - {id: bastion, kind: host, addresses: [10.99.0.5]}
	  - {id: h1, kind: host, addresses: [10.0.1.1], enforce: 'netns:h1'}
	  - {id: h2, kind: host, addresses: [10.0.2.2, 'fd00::2'], enforce: 'agent:https://10.0.2.2:7443'}
	  - {id: svc, kind: service, runs_on: h1}
	edges:
	  - {from: internet, to: h1, ports: [443]}
	  - {from: h1, to: h2, ports: [443, 53/udp]}
	  - {from: svc, to: h2, ports: [8443]}
	  - {from: bastion, to: h1, ports: [22], dependency: none}
	  - {from: bastion, to: h2, ports: [22, 443], dependency: none}
`

var (
	now    = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	policy = contain.Policy{
		Management:      []netip.Prefix{netip.MustParsePrefix("10.99.0.0/24"), netip.MustParsePrefix("fd00:99::/64")},
		ManagementPorts: []uint16{22},
		AgentPort:       7443,
	}
)

func render(t *testing.T, plans []contain.HostPlan) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, p := range plans {
		fmt.Fprintf(&b, "# host %s target %q actions %v\n", p.Host, p.Target, p.Actions)
		if err := contain.Render(&b, p.Ruleset); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// planGoldenCases are the plans of testdata/TestPlanGoldens. The nftables
// system tests apply the very same plans and compare the kernel's listing.
var planGoldenCases = func() []struct {
	name    string
	actions []contain.Action
} {
	tcp443 := graph.PortRange{Proto: graph.ProtoTCP, Lo: 443, Hi: 443}
	udp53 := graph.PortRange{Proto: graph.ProtoUDP, Lo: 53, Hi: 53}
	return []struct {
		name    string
		actions []contain.Action
	}{
		{"quarantine_provisional", []contain.Action{{ID: 1, Kind: contain.Quarantine, Node: "h1", Deadline: now.Add(5 * time.Minute)}}},
		{"quarantine_confirmed_keep", []contain.Action{{ID: 2, Kind: contain.Quarantine, Node: "h2",
			Keep: []netip.Prefix{netip.MustParsePrefix("10.0.1.1/32"), netip.MustParsePrefix("fd00::1/128")}}}},
		{"block_both_sides", []contain.Action{{ID: 3, Kind: contain.Block, From: "h1", To: "h2", Ports: []graph.PortRange{tcp443, udp53}, Deadline: now.Add(90 * time.Second)}}},
		{"block_resident_source_all_ports", []contain.Action{{ID: 4, Kind: contain.Block, From: "svc", To: "h2"}}},
		{"block_then_quarantine_same_host", []contain.Action{
			{ID: 6, Kind: contain.Quarantine, Node: "h2", Deadline: now.Add(time.Hour)},
			{ID: 5, Kind: contain.Block, From: "h1", To: "h2", Ports: []graph.PortRange{tcp443}},
		}},
		// Several elements per set: the listing wraps them, and so must Render.
		{"quarantine_keep_many", []contain.Action{{ID: 7, Kind: contain.Quarantine, Node: "h1", Deadline: now.Add(10 * time.Minute),
			Keep: []netip.Prefix{netip.MustParsePrefix("10.0.3.3/32"), netip.MustParsePrefix("10.0.2.2/32"), netip.MustParsePrefix("10.7.0.0/16"),
				netip.MustParsePrefix("fd00::9/128"), netip.MustParsePrefix("fd00::1/128")}}}},
		{"block_port_list", []contain.Action{{ID: 8, Kind: contain.Block, From: "h1", To: "h2", Deadline: now.Add(time.Minute), Ports: []graph.PortRange{
			{Proto: graph.ProtoTCP, Lo: 80, Hi: 80}, {Proto: graph.ProtoTCP, Lo: 443, Hi: 443}, {Proto: graph.ProtoTCP, Lo: 8000, Hi: 8100},
			{Proto: graph.ProtoTCP, Lo: 9000, Hi: 9000}, {Proto: graph.ProtoTCP, Lo: 9100, Hi: 9100}, {Proto: graph.ProtoTCP, Lo: 9200, Hi: 9200}}}}},
	}
}()

func TestPlanGoldens(t *testing.T) {
	m := testutil.Model(t, estate)
	for _, c := range planGoldenCases {
		t.Run(c.name, func(t *testing.T) {
			plans, err := contain.Plan(m, policy, c.actions, now)
			if err != nil {
				t.Fatal(err)
			}
			testutil.Golden(t, render(t, plans))
		})
	}
}

func TestPlanRefusals(t *testing.T) {
	m := testutil.Model(t, estate)
	cases := []struct {
		name   string
		action contain.Action
		want   error
	}{
		{"management flow", contain.Action{ID: 1, Kind: contain.Block, From: "bastion", To: "h2", Ports: []graph.PortRange{{Proto: graph.ProtoTCP, Lo: 20, Hi: 25}}}, contain.ErrLockout},
		{"management, all ports", contain.Action{ID: 1, Kind: contain.Block, From: "bastion", To: "h1"}, contain.ErrLockout},
		{"no address", contain.Action{ID: 1, Kind: contain.Block, From: "internet", To: "h1"}, contain.ErrNoAddress},
		{"resident", contain.Action{ID: 1, Kind: contain.Quarantine, Node: "svc"}, contain.ErrResident},
		{"no such edge", contain.Action{ID: 1, Kind: contain.Block, From: "h2", To: "h1"}, graph.ErrInvalid},
		{"unknown node", contain.Action{ID: 1, Kind: contain.Quarantine, Node: "ghost"}, graph.ErrNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := contain.Plan(m, policy, []contain.Action{c.action}, now)
			if !errors.Is(err, c.want) {
				t.Fatalf("want %v, got %v", c.want, err)
			}
		})
	}
	// A management-network source on a non-management port is fine.
	if _, err := contain.Plan(m, policy, []contain.Action{{ID: 1, Kind: contain.Block, From: "bastion", To: "h2",
		Ports: []graph.PortRange{{Proto: graph.ProtoTCP, Lo: 443, Hi: 443}}}}, now); err != nil {
		t.Errorf("bastion on 443: %v", err)
	}
}

func TestPlanDropsExpiredActions(t *testing.T) {
	m := testutil.Model(t, estate)
	plans, err := contain.Plan(m, policy, []contain.Action{{ID: 1, Kind: contain.Quarantine, Node: "h1", Deadline: now.Add(-time.Second)}}, now)
	if err != nil || len(plans) != 0 {
		t.Fatalf("expired action: plans %v err %v", plans, err)
	}
}

// Management accepts always come before any drop in every chain, whatever
// the actions: the structural half of "never lock responders out".
func TestManagementRulesPrecedeDrops(t *testing.T) {
	m := testutil.Model(t, estate)
	plans, err := contain.Plan(m, policy, []contain.Action{
		{ID: 1, Kind: contain.Quarantine, Node: "h2"},
		{ID: 2, Kind: contain.Block, From: "h1", To: "h2"},
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range plans {
		for _, c := range p.Ruleset.Chains {
			seenDrop, seenMgmt := false, false
			for _, r := range c.Rules {
				if r.Verdict == contain.Drop {
					seenDrop = true
				}
				if r.DPort == "mgmt_ports" || r.SPort == "mgmt_ports" {
					seenMgmt = true
					if seenDrop {
						t.Errorf("%s/%s: management accept after a drop", p.Host, c.Name)
					}
				}
			}
			if !seenMgmt {
				t.Errorf("%s/%s: no management accept", p.Host, c.Name)
			}
		}
	}
}

func TestNftDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		5 * time.Minute: "5m", 90 * time.Second: "1m30s", 26*time.Hour + 500*time.Millisecond: "1d2h500ms", 0: "0s",
	} {
		if got := contain.NftDuration(d); got != want {
			t.Errorf("%v → %q, want %q", d, got, want)
		}
	}
}

// Overlapping or unmasked prefixes (two management CIDRs, a keep peer inside
// a kept network) come out as the kernel accepts them: masked, the broader
// one only.
func TestPlanNormalisesPrefixes(t *testing.T) {
	m := testutil.Model(t, estate)
	pol := policy
	pol.Management = append(pol.Management, netip.MustParsePrefix("10.99.0.7/32"), netip.MustParsePrefix("10.99.0.0/16"))
	plans, err := contain.Plan(m, pol, []contain.Action{{ID: 1, Kind: contain.Quarantine, Node: "h1",
		Keep: []netip.Prefix{netip.MustParsePrefix("10.5.0.0/16"), netip.MustParsePrefix("10.5.1.9/24")}}}, now)
	if err != nil {
		t.Fatal(err)
	}
	sets := map[string]string{}
	for _, s := range plans[0].Ruleset.Sets {
		var b strings.Builder
		for _, e := range s.Elements {
			b.WriteString(e.Prefix.String() + " ")
		}
		sets[s.Name] = b.String()
	}
	if sets["mgmt_v4"] != "10.99.0.0/16 " || sets["q1_keep_v4"] != "10.5.0.0/16 " {
		t.Errorf("sets %v", sets)
	}
}

func TestRenderWrapsLikeNft(t *testing.T) {
	rs := contain.Ruleset{Sets: []contain.Set{{Name: "a", Type: contain.SetIPv4, Interval: true, Elements: []contain.Element{
		{Prefix: netip.MustParsePrefix("10.0.0.1/32")}, {Prefix: netip.MustParsePrefix("10.0.0.3/32")}, {Prefix: netip.MustParsePrefix("10.0.0.5/32")}}}}}
	var b strings.Builder
	contain.Render(&b, rs)
	if !strings.Contains(b.String(), "elements = { 10.0.0.1, 10.0.0.3,\n\t\t\t     10.0.0.5 }") {
		t.Errorf("render:\n%s", b.String())
	}
}

// A block matches addresses: blocking svc→h2 (svc runs on h1) also cuts
// h1→h2 on the overlapping port, and the plan says so.
func TestBlockedEdgesIncludeCoResidents(t *testing.T) {
	m := testutil.Model(t, estate)
	tcp := func(p uint16) graph.PortRange { return graph.PortRange{Proto: graph.ProtoTCP, Lo: p, Hi: p} }
	got, err := contain.BlockedEdges(m, "svc", "h2", []graph.PortRange{tcp(443), tcp(8443)})
	if err != nil {
		t.Fatal(err)
	}
	want := []graph.EdgeKey{{From: "h1", To: "h2"}, {From: "svc", To: "h2"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("edges cut %v, want %v", got, want)
	}
	got, _ = contain.BlockedEdges(m, "svc", "h2", []graph.PortRange{tcp(8443)})
	if fmt.Sprint(got) != fmt.Sprint([]graph.EdgeKey{{From: "svc", To: "h2"}}) {
		t.Errorf("port 8443 only: %v", got)
	}
	plans, _ := contain.Plan(m, policy, []contain.Action{{ID: 9, Kind: contain.Block, From: "svc", To: "h2", Ports: []graph.PortRange{tcp(443)}}}, now)
	if len(plans) == 0 || len(plans[0].Notes) == 0 || !strings.Contains(plans[0].Notes[0], "also cuts h1->h2") {
		t.Errorf("plan notes: %+v", plans)
	}
}
