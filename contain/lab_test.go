package contain_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/firebreak/firebreak/contain"
	"github.com/firebreak/firebreak/graph"
	"github.com/firebreak/firebreak/internal/demo"
	"github.com/firebreak/firebreak/simulate"
)

// The small lab. Customers reach a load balancer in front of two web
// servers (a replica group); both call the API, which runs on the app host
// with the recommendations service. The API needs one of two databases (a
// replica group) that replicate to each other (a soft cycle), and uses
// recommendations softly; recommendations call back into the API softly (a
// second cycle) and need the mail vendor. The bastion reaches every host on
// 22 without depending on it.
//
//	internet → lb ⇒ {web1 | web2} → api ⇒ {db1 | db2}     db1 ⇢ db2 ⇢ db1
//	                                 api ⇢ reco ⇢ api      reco → mail
//	api and reco run on app;  bastion ·→ lb, web1, web2, app, db1, db2 (22)
//
// (→ hard, ⇒ hard replica group, ⇢ soft, ·→ none.)
const smallTopology = `
apiVersion: firebreak/v1
kind: Topology
nodes:
  - {id: internet, kind: client}
  - {id: mail, kind: saas}
  - {id: lb, kind: lb, addresses: [10.30.1.5]}
  - {id: web1, kind: host, addresses: [10.30.1.11]}
  - {id: web2, kind: host, addresses: [10.30.1.12]}
  - {id: app, kind: host, addresses: [10.30.2.10]}
  - {id: api, kind: service, runs_on: app}
  - {id: reco, kind: service, runs_on: app}
  - {id: db1, kind: host, addresses: [10.30.3.11]}
  - {id: db2, kind: host, addresses: [10.30.3.12]}
  - {id: bastion, kind: host, addresses: [10.30.99.10]}
edges:
  - {from: internet, to: lb, ports: ["443/tcp"], dependency: hard}
  - {from: lb, to: web1, ports: ["443/tcp"], dependency: hard, group: web}
  - {from: lb, to: web2, ports: ["443/tcp"], dependency: hard, group: web}
  - {from: web1, to: api, ports: ["8080/tcp"], dependency: hard}
  - {from: web2, to: api, ports: ["8080/tcp"], dependency: hard}
  - {from: api, to: db1, ports: ["5432/tcp"], dependency: hard, group: db}
  - {from: api, to: db2, ports: ["5432/tcp"], dependency: hard, group: db}
  - {from: db1, to: db2, ports: ["5432/tcp"], dependency: soft}
  - {from: db2, to: db1, ports: ["5432/tcp"], dependency: soft}
  - {from: api, to: reco, ports: ["8090/tcp"], dependency: soft}
  - {from: reco, to: api, ports: ["8080/tcp"], dependency: soft}
  - {from: reco, to: mail, ports: ["587/tcp"], dependency: hard}
  - {from: bastion, to: lb, ports: ["22/tcp"], dependency: none}
  - {from: bastion, to: web1, ports: ["22/tcp"], dependency: none}
  - {from: bastion, to: web2, ports: ["22/tcp"], dependency: none}
  - {from: bastion, to: app, ports: ["22/tcp"], dependency: none}
  - {from: bastion, to: db1, ports: ["22/tcp"], dependency: none}
  - {from: bastion, to: db2, ports: ["22/tcp"], dependency: none}
`

const smallJourneys = `
apiVersion: firebreak/v1
kind: Journeys
journeys:
  - id: browse
    weight: {customers_per_hour: 100, revenue_per_hour: 0}
    steps:
      - {name: home, requires: [lb], any_of: [[web1, web2]]}
      - {name: view, requires: [api]}
  - id: enter
    weight: {customers_per_hour: 100, revenue_per_hour: 0}
    steps:
      - {requires: [internet]}
  - id: recommend
    weight: {customers_per_hour: 10, revenue_per_hour: 0}
    steps:
      - {name: suggest, requires: [reco]}
  - id: report
    weight: {customers_per_hour: 1, revenue_per_hour: 0}
    steps:
      - {name: query, any_of: [[db1, db2]]}
`

func smallModel(t *testing.T) *graph.Model {
	t.Helper()
	var docs []*graph.Document
	for name, src := range map[string]string{"topology.yaml": smallTopology, "journeys.yaml": smallJourneys} {
		d, err := graph.ParseNative(name, []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, d)
	}
	m, err := graph.Build(docs...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: builds network namespaces")
	}
}

// labName is unique per test run, so parallel runs never share namespaces.
func labName(t *testing.T) string {
	t.Helper()
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "lt-" + hex.EncodeToString(b)
}

type testLab struct {
	st  *contain.LabState
	lm  *graph.Model
	dir string
	eng *simulate.Engine
}

// upLab builds a lab for m with its responders in this process, and tears
// it down (and checks it left nothing) when the test ends, even on failure.
func upLab(t *testing.T, m *graph.Model) *testLab {
	t.Helper()
	ctx := context.Background()
	name, dir := labName(t), t.TempDir()
	t.Cleanup(func() {
		if err := contain.LabDown(ctx, name, dir); err != nil {
			t.Errorf("lab down: %v", err)
		}
		if left := contain.LabNetNSLeft(name); len(left) > 0 {
			t.Errorf("namespaces left after lab down: %v", left)
		}
	})
	st, lm, err := contain.LabUp(ctx, m, contain.LabOptions{Name: name, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := contain.StartLab(st, lm)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := contain.LabWaitReady(wctx, st); err != nil {
		t.Fatal(err)
	}
	ix, err := graph.Compile(lm)
	if err != nil {
		t.Fatal(err)
	}
	return &testLab{st: st, lm: lm, dir: dir, eng: simulate.New(ix, simulate.Options{})}
}

func (l *testLab) probe(t *testing.T) []simulate.ReportJourney {
	t.Helper()
	got, err := contain.LabProbe(context.Background(), l.st, l.lm)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// probePaths asks each journey node with a path-walking PROBE instead.
func (l *testLab) probePaths(t *testing.T) []simulate.ReportJourney {
	t.Helper()
	got, err := contain.LabProbePaths(context.Background(), l.st, l.lm)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// predict is what the simulation says for the scenario, in the lab's shape.
func (l *testLab) predict(t *testing.T, sc simulate.Scenario) []simulate.ReportJourney {
	t.Helper()
	res, err := l.eng.Run(sc)
	if err != nil {
		t.Fatal(err)
	}
	return res.Report().Journeys
}

// fail takes endpoints off the bridge for real, until the returned function
// brings them back.
func (l *testLab) fail(t *testing.T, ids ...string) func() {
	t.Helper()
	for _, id := range ids {
		if err := contain.LabSetLink(l.st, id, false); err != nil {
			t.Fatal(err)
		}
	}
	return func() {
		for _, id := range ids {
			if err := contain.LabSetLink(l.st, id, true); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// sameStatus compares statuses and exposure, not the wording of causes.
func sameStatus(t *testing.T, what string, got, want []simulate.ReportJourney) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: lab has %d journeys, simulation %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Status != w.Status || g.Exposed != w.Exposed {
			t.Errorf("%s: journey %s: lab says %s (%s), simulation says %s %s (%s)", what, g.ID, g.Status, g.Cause, w.ID, w.Status, w.Cause)
		}
	}
}

func statusOf(js []simulate.ReportJourney) map[string]string {
	out := map[string]string{}
	for _, j := range js {
		out[j.ID] = j.Status
	}
	return out
}

// rootNetState lists the root namespace's links, addresses and routes.
func rootNetState(t *testing.T) []string {
	t.Helper()
	var out []string
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		out = append(out, "link "+l.Attrs().Name)
	}
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		out = append(out, fmt.Sprintf("addr %d %s", a.LinkIndex, a.IPNet))
	}
	routes, err := netlink.RouteList(nil, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range routes {
		out = append(out, fmt.Sprintf("route %d %v %v %v", r.LinkIndex, r.Dst, r.Gw, r.Src))
	}
	sort.Strings(out)
	return out
}

func TestLabSmall(t *testing.T) {
	needRoot(t)
	before := rootNetState(t)
	l := upLab(t, smallModel(t))
	if after := rootNetState(t); !slices.Equal(before, after) {
		t.Errorf("lab up changed the root namespace:\nbefore %v\nafter  %v", before, after)
	}

	t.Run("lab model", func(t *testing.T) {
		for _, n := range l.lm.Nodes {
			ln := l.st.Nodes[n.ID]
			switch {
			case n.RunsOn != "" && ln.NetNS != l.st.Nodes[n.RunsOn].NetNS:
				t.Errorf("%s runs on %s but lives in %s", n.ID, n.RunsOn, ln.NetNS)
			case n.RunsOn == "" && n.Enforce != "netns:"+ln.NetNS:
				t.Errorf("%s: enforce %q, want netns:%s", n.ID, n.Enforce, ln.NetNS)
			case n.RunsOn == "" && len(n.Addresses) == 0:
				t.Errorf("%s has no address in the lab model", n.ID)
			}
		}
		if ln := l.st.Nodes["mail"]; !ln.Assigned || netip.MustParsePrefix("10.30.0.0/16").Contains(ln.Addr) {
			t.Errorf("mail: address %s (assigned %v), want one from the lab's pool", ln.Addr, ln.Assigned)
		}
	})

	t.Run("nothing failed", func(t *testing.T) {
		got := l.probe(t)
		for _, j := range got {
			if j.Status != "ok" || j.Exposed {
				t.Errorf("journey %s: %s %q", j.ID, j.Status, j.Cause)
			}
		}
		sameStatus(t, "nothing failed", got, l.predict(t, simulate.Scenario{}))
		sameStatus(t, "nothing failed, by path", l.probePaths(t), got)
	})

	// Each scenario takes endpoints down for real and holds the lab to
	// the simulation; want pins a few statuses so that agreement is not
	// agreement on "everything ok".
	for _, tc := range []struct {
		failed []string
		want   map[string]string
	}{
		{[]string{"web1"}, map[string]string{"browse": "ok", "enter": "ok"}},
		{[]string{"web1", "web2"}, map[string]string{"browse": "broken", "enter": "broken", "report": "ok"}},
		{[]string{"mail"}, map[string]string{"recommend": "broken", "browse": "degraded", "enter": "degraded"}},
		{[]string{"app"}, map[string]string{"browse": "broken", "recommend": "broken", "report": "ok"}},
		{[]string{"db1"}, map[string]string{"report": "degraded", "browse": "degraded", "recommend": "degraded"}},
		{[]string{"db1", "db2"}, map[string]string{"report": "broken", "browse": "broken", "recommend": "degraded"}},
		{[]string{"lb"}, map[string]string{"enter": "broken", "browse": "broken", "recommend": "ok"}},
	} {
		what := "failed " + strings.Join(tc.failed, "+")
		t.Run(what, func(t *testing.T) {
			restore := l.fail(t, tc.failed...)
			got := l.probe(t)
			byPath := l.probePaths(t)
			restore()
			want := l.predict(t, simulate.Scenario{Failed: tc.failed})
			sameStatus(t, what, got, want)
			sameStatus(t, what+", by path", byPath, want)
			gs, ws := statusOf(got), statusOf(want)
			for id, s := range tc.want {
				if gs[id] != s || ws[id] != s {
					t.Errorf("%s: journey %s: lab %s, simulation %s, want %s", what, id, gs[id], ws[id], s)
				}
			}
			for _, j := range got {
				t.Logf("%-9s %-10s %s", j.Status, j.ID, j.Cause)
			}
		})
	}

	t.Run("restored", func(t *testing.T) {
		for _, j := range l.probe(t) {
			if j.Status != "ok" {
				t.Errorf("journey %s after restoring every link: %s %q", j.ID, j.Status, j.Cause)
			}
		}
	})

	// What a plain connectivity check sees: the banner, at once for a
	// client that speaks first, after a second for one that waits.
	t.Run("plain connections", func(t *testing.T) {
		bastion := l.st.Nodes["bastion"].NetNS
		for _, tc := range []struct {
			node   string
			port   uint16
			silent bool
		}{
			{"web1", contain.LabSSHPort, false},
			{"app", contain.LabSSHPort, true},
			{"api", 8080, false},
			{"db2", 5432, true},
		} {
			t.Run(fmt.Sprintf("%s:%d", tc.node, tc.port), func(t *testing.T) {
				t.Parallel()
				addr := netip.AddrPortFrom(l.st.Nodes[tc.node].Addr, tc.port).String()
				c, err := contain.DialTCP(context.Background(), bastion, addr, time.Second)
				if err != nil {
					t.Fatalf("bastion → %s (%s): %v", tc.node, addr, err)
				}
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(3 * time.Second))
				if !tc.silent {
					_, _ = io.WriteString(c, "SSH-2.0-OpenSSH_9.6\r\n")
				}
				line, err := bufio.NewReader(c).ReadString('\n')
				if want := "firebreak-lab " + tc.node + "\n"; err != nil || line != want {
					t.Errorf("bastion → %s (%s): read %q, %v; want %q", tc.node, addr, line, err, want)
				}
			})
		}
	})
}

// TestLabDemo builds the whole demo estate once, checks that with nothing
// failed every journey is ok, holds a couple of real failures to the
// simulation, and reports how long each phase takes.
func TestLabDemo(t *testing.T) {
	needRoot(t)
	if testing.Short() {
		t.Skip("short: skips the 36-namespace demo lab")
	}
	m, err := demo.Model()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	name, dir := labName(t), t.TempDir()
	var downTime time.Duration
	t.Cleanup(func() {
		start := time.Now()
		if err := contain.LabDown(ctx, name, dir); err != nil {
			t.Errorf("lab down: %v", err)
		}
		downTime = time.Since(start)
		if left := contain.LabNetNSLeft(name); len(left) > 0 {
			t.Errorf("namespaces left after lab down: %v", left)
		}
		t.Logf("demo lab down: %v", downTime)
	})
	start := time.Now()
	st, lm, err := contain.LabUp(ctx, m, contain.LabOptions{Name: name, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	upTime := time.Since(start)
	srv, err := contain.StartLab(st, lm)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := contain.LabWaitReady(wctx, st); err != nil {
		t.Fatal(err)
	}
	readyTime := time.Since(start)
	t.Logf("demo lab: %d namespaces, %d nodes; network up %v, responders answering after %v",
		len(st.NetNSes()), len(st.Nodes), upTime, readyTime)

	ix, err := graph.Compile(lm)
	if err != nil {
		t.Fatal(err)
	}
	l := &testLab{st: st, lm: lm, dir: dir, eng: simulate.New(ix, simulate.Options{})}
	start = time.Now()
	got := l.probe(t)
	t.Logf("demo lab probe, nothing failed: %v", time.Since(start))
	for _, j := range got {
		if j.Status != "ok" || j.Exposed {
			t.Errorf("journey %s: %s %q", j.ID, j.Status, j.Cause)
		}
	}
	sameStatus(t, "nothing failed", got, l.predict(t, simulate.Scenario{}))
	sameStatus(t, "nothing failed, by path", l.probePaths(t), got)

	for _, failed := range [][]string{{"db-1"}, {"app-2"}, {"web-1", "web-2"}, {"email-saas"}, {"srch-1"}, {"db-1", "db-2"}} {
		what := "failed " + strings.Join(failed, "+")
		restore := l.fail(t, failed...)
		start = time.Now()
		got := l.probe(t)
		took := time.Since(start)
		byPath := l.probePaths(t)
		restore()
		want := l.predict(t, simulate.Scenario{Failed: failed})
		sameStatus(t, what, got, want)
		sameStatus(t, what+", by path", byPath, want)
		var affected int
		for _, j := range got {
			if j.Status != "ok" {
				affected++
			}
		}
		t.Logf("demo lab probe, %s: %v, %d of %d journeys affected", what, took, affected, len(got))
	}
}

// TestLabGenerated builds a generated estate of 60 endpoints whose
// dependencies form a 36-node cycle (where walking paths would multiply),
// and holds round-based probes to the simulation.
func TestLabGenerated(t *testing.T) {
	needRoot(t)
	if testing.Short() {
		t.Skip("short: skips the 60-namespace generated lab")
	}
	m, err := graph.Generate(graph.GenOptions{Nodes: 80, Degree: 8, Journeys: 20, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	l := upLab(t, m)
	start := time.Now()
	got := l.probe(t)
	t.Logf("generated lab (%d namespaces), nothing failed: %v", len(l.st.NetNSes()), time.Since(start))
	sameStatus(t, "nothing failed", got, l.predict(t, simulate.Scenario{}))
	eps := l.st.Endpoints()
	for _, failed := range [][]string{{eps[3]}, {eps[17]}, {eps[29], eps[41]}, {eps[50]}} {
		what := "failed " + strings.Join(failed, "+")
		restore := l.fail(t, failed...)
		start := time.Now()
		got := l.probe(t)
		took := time.Since(start)
		restore()
		want := l.predict(t, simulate.Scenario{Failed: failed})
		sameStatus(t, what, got, want)
		var affected int
		for _, j := range got {
			if j.Status != "ok" {
				affected++
			}
		}
		t.Logf("generated lab, %s: %v, %d of %d journeys affected", what, took, affected, len(got))
	}
}
