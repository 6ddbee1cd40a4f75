//go:build linux

package contain_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak/firebreak/contain"
	"github.com/firebreak/firebreak/graph"
	"github.com/firebreak/firebreak/internal/demo"
	"github.com/firebreak/firebreak/simulate"
)

// End-to-end containment on a lab of the demo: real namespaces, real
// nftables, real connections. These are the issue's "done when" checks.

var labPolicy = contain.Policy{
	Management:      []netip.Prefix{netip.MustParsePrefix("10.20.99.0/24")},
	ManagementPorts: []uint16{22},
	AgentPort:       7444, // the lab's responders already play the demo hosts' own 7443
}

func demoLab(t *testing.T) *testLab {
	t.Helper()
	needRoot(t)
	m, err := demo.Model()
	if err != nil {
		t.Fatal(err)
	}
	return upLab(t, m)
}

// connects reports whether a TCP connection from one node's namespace to
// another node's address and port completes and reads the lab's banner.
func (l *testLab) connects(from, to string, port uint16) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	addr := net.JoinHostPort(l.st.Nodes[to].Addr.String(), fmt.Sprint(port))
	c, err := contain.DialTCP(ctx, l.st.Nodes[from].NetNS, addr, 400*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(1500 * time.Millisecond))
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "firebreak-lab ")
}

// client finds an edge into host (or a service on it) from outside the
// management network and returns the endpoint that opens it and its port:
// real traffic the quarantine must cut.
func (l *testLab) client(t *testing.T, host string) (string, uint16) {
	t.Helper()
	for _, e := range l.lm.Edges {
		to, from := l.endpoint(e.To), l.endpoint(e.From)
		if to == host && from != host && len(e.Ports) > 0 && !labPolicy.Management[0].Contains(l.st.Nodes[from].Addr) {
			return from, e.Ports[0].Lo
		}
	}
	t.Fatalf("no edge into %s", host)
	return "", 0
}

// endpoint is the node whose namespace id lives in.
func (l *testLab) endpoint(id string) string {
	for n, ok := l.lm.NodeByID(id); ok && n.RunsOn != ""; n, ok = l.lm.NodeByID(n.RunsOn) {
		id = n.RunsOn
	}
	return id
}

// quarantinePlan is the table a quarantine of host writes.
func (l *testLab) quarantinePlan(t *testing.T, host string) contain.Ruleset {
	t.Helper()
	plans, err := contain.Plan(l.lm, labPolicy, []contain.Action{{ID: 1, Kind: contain.Quarantine, Node: host,
		Deadline: time.Now().Add(time.Minute)}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return plans[0].Ruleset
}

// localIn runs the "local" target inside a namespace, as it runs on a host.
type localIn struct{ ns string }

func (l localIn) do(fn func(contain.Target) error) error {
	return contain.InNetNS(l.ns, func() error {
		t, err := contain.OpenTarget("local", contain.TargetOptions{})
		if err != nil {
			return err
		}
		return fn(t)
	})
}

func (l localIn) Apply(ctx context.Context, rs contain.Ruleset) error {
	return l.do(func(t contain.Target) error { return t.Apply(ctx, rs) })
}

func (l localIn) Live(ctx context.Context) (rs contain.Ruleset, ok bool, err error) {
	err = l.do(func(t contain.Target) error { rs, ok, err = t.Live(ctx); return err })
	return rs, ok, err
}

func (l localIn) String() string { return "local" }

// agentFor starts a host agent inside host's namespace (applying there) and
// returns a client target that reaches it from the bastion's namespace, the
// management network, with certificates from a fresh CA.
func (l *testLab) agentFor(t *testing.T, host string) contain.Target {
	t.Helper()
	dir := t.TempDir()
	addr := l.st.Nodes[host].Addr.String()
	if err := contain.CreateCA(dir, "lab-ca", time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, req := range []contain.IssueRequest{{Name: host, Server: true, Hosts: []string{addr}}, {Name: "responder", Client: true}} {
		req.Validity = time.Hour
		if err := contain.Issue(dir, req); err != nil {
			t.Fatal(err)
		}
	}
	p := func(f string) string { return filepath.Join(dir, f) }
	serverTLS, err := contain.LoadServerTLS(p(host+".crt"), p(host+".key"), p("ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	clientTLS, err := contain.LoadClientTLS(p("responder.crt"), p("responder.key"), p("ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	local, err := contain.OpenTarget("netns:"+l.st.Nodes[host].NetNS, contain.TargetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	agent, err := contain.NewAgent(contain.AgentConfig{Target: local, TLS: serverTLS})
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(labPolicy.AgentPort)
	ln, err := contain.ListenTCP(l.st.Nodes[host].NetNS, net.JoinHostPort(addr, port))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- agent.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	target, err := contain.OpenTarget("agent:https://"+net.JoinHostPort(addr, port), contain.TargetOptions{
		AgentTLS: clientTLS, AgentNetNS: l.st.Nodes["bastion"].NetNS, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return target
}

// Quarantining a host through each kind of target cuts every connection to
// and from it, except the management allowlist, which still connects; the
// release restores everything.
func TestQuarantineEachTargetKindInDemoLab(t *testing.T) {
	l := demoLab(t)
	ctx := context.Background()
	cases := []struct {
		kind, host string
		target     func(t *testing.T) contain.Target
	}{
		{"local", "web-1", func(*testing.T) contain.Target { return localIn{l.st.Nodes["web-1"].NetNS} }},
		{"netns", "app-2", func(t *testing.T) contain.Target {
			tg, err := contain.OpenTarget("netns:"+l.st.Nodes["app-2"].NetNS, contain.TargetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return tg
		}},
		{"agent", "db-1", func(t *testing.T) contain.Target { return l.agentFor(t, "db-1") }},
	}
	for _, c := range cases {
		t.Run(c.kind, func(t *testing.T) {
			peer, port := l.client(t, c.host)
			if !l.connects(peer, c.host, port) || !l.connects(c.host, peer, 22) {
				t.Fatalf("%s and %s do not talk before the quarantine", peer, c.host)
			}
			target := c.target(t)
			if err := target.Apply(ctx, l.quarantinePlan(t, c.host)); err != nil {
				t.Fatal(err)
			}
			released := false
			defer func() {
				if !released {
					_ = target.Apply(ctx, contain.Ruleset{})
				}
			}()
			// Every one of these must fail (each costs a connect timeout, so
			// they run together).
			var wg sync.WaitGroup
			check := func(from, to string, port uint16) {
				defer wg.Done()
				if l.connects(from, to, port) {
					t.Errorf("%s still reaches %s on %d across the quarantine of %s", from, to, port, c.host)
				}
			}
			for _, other := range []string{peer, "lb-1", "laptop-1", "mon-1"} {
				wg.Add(3)
				go check(other, c.host, port)
				go check(other, c.host, 22)
				go check(c.host, other, 22)
			}
			wg.Wait()
			if !l.connects("bastion", c.host, 22) {
				t.Errorf("the bastion (management network) lost SSH to quarantined %s", c.host)
			}
			// The target itself is still reachable and readable: for the
			// agent this is a TLS session from the management network.
			if _, ok, err := target.Live(ctx); err != nil || !ok {
				t.Fatalf("live table through %s: %v %v", c.kind, ok, err)
			}
			if err := target.Apply(ctx, contain.Ruleset{}); err != nil {
				t.Fatal(err)
			}
			released = true
			if !l.connects(peer, c.host, port) || !l.connects(c.host, peer, 22) {
				t.Errorf("release did not restore %s", c.host)
			}
		})
	}
}

// labController wires a real controller to the lab: the lab model imported
// into a workspace, netns targets, the demo's management network.
func (l *testLab) controller(t *testing.T) *contain.Controller {
	t.Helper()
	ws, err := graph.Open(filepath.Join(t.TempDir(), "ws.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	rev, err := ws.Import(context.Background(), l.lm, nil, graph.RevisionMeta{Note: "lab"})
	if err != nil {
		t.Fatal(err)
	}
	store, err := contain.OpenStore(context.Background(), ws)
	if err != nil {
		t.Fatal(err)
	}
	return &contain.Controller{Model: l.lm, Revision: rev, Policy: labPolicy, Store: store, Now: time.Now, Who: "test",
		Open: func(target string) (contain.Target, error) {
			return contain.OpenTarget(target, contain.TargetOptions{})
		}}
}

type step struct {
	quarantine string
	block      [2]string // from, to
}

// Prediction equals reality: for several containment actions on the demo
// lab, the journeys `lab probe` finds broken or degraded are exactly those
// `simulate` predicts, journey by journey.
func TestPredictionEqualsRealityInDemoLab(t *testing.T) {
	l := demoLab(t)
	ctx := context.Background()
	ctl := l.controller(t)
	scenarios := []struct {
		name  string
		steps []step
	}{
		{"quarantine the customer database host", []step{{quarantine: "db-3"}}},
		{"quarantine the session cache", []step{{quarantine: "cache-1"}}},
		{"quarantine one web replica", []step{{quarantine: "web-1"}}},
		{"quarantine one search node", []step{{quarantine: "srch-1"}}},
		{"quarantine the payment host", []step{{quarantine: "pay-1"}}},
		{"block the support inbox from the PII database", []step{{block: [2]string{"support-inbox", "customer-pii-db"}}}},
		{"block inventory from commerce-db (cuts its co-residents too)", []step{{block: [2]string{"inventory-svc", "commerce-db"}}}},
		{"two at once: the message bus and a web replica", []step{{quarantine: "bus-1"}, {quarantine: "web-2"}}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			var ids []int64
			var sim simulate.Scenario
			for _, st := range sc.steps {
				var out contain.Outcome
				var err error
				if st.quarantine != "" {
					out, err = ctl.Quarantine(ctx, st.quarantine, time.Minute, nil, "lab test")
					sim.Quarantined = append(sim.Quarantined, st.quarantine)
				} else {
					e, _ := l.lm.EdgeByKey(graph.EdgeKey{From: st.block[0], To: st.block[1]})
					out, err = ctl.Block(ctx, st.block[0], st.block[1], e.Ports, time.Minute, "lab test")
					// The rule matches addresses: simulate every edge it cuts.
					cut, cerr := contain.BlockedEdges(l.lm, st.block[0], st.block[1], e.Ports)
					if cerr != nil {
						t.Fatal(cerr)
					}
					for _, k := range cut {
						sim.Blocked = append(sim.Blocked, simulate.EdgeRef{From: k.From, To: k.To})
					}
				}
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, out.Record.ID)
			}
			defer func() {
				for _, id := range ids {
					if _, err := ctl.Release(ctx, id, "lab test done"); err != nil {
						t.Errorf("release %d: %v", id, err)
					}
				}
			}()
			res, err := l.eng.Run(sim)
			if err != nil {
				t.Fatal(err)
			}
			predicted := map[string]string{}
			for _, j := range res.Report().Journeys {
				predicted[j.ID] = j.Status
			}
			real, err := contain.LabProbe(ctx, l.st, l.lm)
			if err != nil {
				t.Fatal(err)
			}
			var affected []string
			for _, j := range real {
				if j.Status != predicted[j.ID] {
					t.Errorf("journey %s: lab says %s (%s), simulate predicts %s", j.ID, j.Status, j.Cause, predicted[j.ID])
				}
				if j.Status != "ok" {
					affected = append(affected, j.ID+"="+j.Status)
				}
			}
			sort.Strings(affected)
			t.Logf("affected: %v", affected)
		})
	}
	// Everything released: the lab is whole again.
	real, err := contain.LabProbe(ctx, l.st, l.lm)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range real {
		if j.Status != "ok" {
			t.Errorf("after every release, journey %s is %s: %s", j.ID, j.Status, j.Cause)
		}
	}
	_, hosts, err := ctl.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		if !h.InSync || h.Err != nil {
			t.Errorf("host %s after release: in sync %v, drift %q, err %v", h.Host, h.InSync, h.Drift, h.Err)
		}
	}
}
