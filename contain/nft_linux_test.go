//go:build linux

package contain_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/firebreak/firebreak/contain"
	"github.com/firebreak/firebreak/internal/testutil"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// System tests of the netlink target. Each creates its own network
// namespaces (fbt-<random>), writes only there, and uses the nft command
// only to observe or to plant foreign state.

func nftNeedRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and nftables rules")
	}
	for _, tool := range []string{"nft", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s to observe the kernel independently of firebreak", tool)
		}
	}
}

// nftTestNS creates a uniquely named network namespace, removed at cleanup.
func nftTestNS(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "fbt-" + hex.EncodeToString(b)
	if err := contain.CreateNetNS(name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := contain.DeleteNetNS(name); err != nil {
			t.Error(err)
		}
	})
	return name
}

// nftRun runs a command and returns its standard output.
func nftRun(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// nftIn runs nft inside a namespace.
func nftIn(t *testing.T, ns, stdin string, args ...string) string {
	t.Helper()
	return nftRun(t, stdin, "ip", append([]string{"netns", "exec", ns, "nft"}, args...)...)
}

var nftExpiresRE = regexp.MustCompile(` expires [0-9a-z]+`)

// nftListOwned is `nft list table inet firebreak` less the expiry countdowns.
func nftListOwned(t *testing.T, ns string) string {
	t.Helper()
	return nftExpiresRE.ReplaceAllString(nftIn(t, ns, "", "list", "table", "inet", contain.TableName), "")
}

func nftOpen(t *testing.T, ns string) contain.Target {
	t.Helper()
	tg, err := contain.OpenTarget("netns:"+ns, contain.TargetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := tg.String(); got != "netns:"+ns {
		t.Fatalf("String() = %q", got)
	}
	return tg
}

func nftApply(t *testing.T, tg contain.Target, rs contain.Ruleset) {
	t.Helper()
	if err := tg.Apply(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
}

func nftRendered(t *testing.T, rs contain.Ruleset) string {
	t.Helper()
	var b strings.Builder
	if err := contain.Render(&b, rs); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// nftSameText fails with the first differing line of two listings.
func nftSameText(t *testing.T, what, got, want string) {
	t.Helper()
	if got == want {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(gl) || i < len(wl); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("%s differs at line %d:\n got %q\nwant %q\n--- got\n%s--- want\n%s", what, i+1, g, w, got, want)
		}
	}
}

// nftCheckLive reads the table back: the same ruleset, with each element's
// time left no more than its timeout and not far below it.
func nftCheckLive(t *testing.T, tg contain.Target, rs contain.Ruleset) contain.Ruleset {
	t.Helper()
	live, ok, err := tg.Live(context.Background())
	if err != nil || !ok {
		t.Fatalf("Live: ok %v, err %v", ok, err)
	}
	if same, diff := contain.Same(rs, live); !same {
		t.Fatalf("Live differs: %s", diff)
	}
	for _, ws := range rs.Sets {
		for _, ls := range live.Sets {
			if ls.Name != ws.Name {
				continue
			}
			for i, we := range ws.Elements {
				left := ls.Elements[i].Timeout
				if we.Timeout == 0 && left != 0 || we.Timeout > 0 && (left <= 0 || left > we.Timeout || left < we.Timeout-30*time.Second) {
					t.Errorf("set %s element %d: %v left, timeout %v", ws.Name, i, left, we.Timeout)
				}
			}
		}
	}
	return live
}

// nftPlanCase is a case of TestPlanGoldens (plan_test.go), whose fixture
// (estate, policy, now) it reuses.
type nftPlanCase struct {
	name  string
	plans []contain.HostPlan
}

// nftGoldenPlans rebuilds the rulesets of testdata/TestPlanGoldens and checks
// they still are those goldens.
func nftGoldenPlans(t *testing.T) []nftPlanCase {
	t.Helper()
	m := testutil.Model(t, estate)
	cases := planGoldenCases
	var out []nftPlanCase
	for _, c := range cases {
		plans, err := contain.Plan(m, policy, c.actions, now)
		if err != nil {
			t.Fatal(err)
		}
		golden, err := os.ReadFile(filepath.Join("testdata", "TestPlanGoldens", c.name+".golden"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(render(t, plans), golden) {
			t.Fatalf("%s: these plans are no longer the golden's; sync goldenPlans with TestPlanGoldens", c.name)
		}
		out = append(out, nftPlanCase{c.name, plans})
	}
	return out
}

func nftPlanRuleset(t *testing.T, name string) contain.Ruleset {
	t.Helper()
	for _, c := range nftGoldenPlans(t) {
		if c.name == name {
			return c.plans[len(c.plans)-1].Ruleset
		}
	}
	t.Fatalf("no plan %s", name)
	return contain.Ruleset{}
}

// Every golden table, applied by netlink, is listed by nft exactly as
// Render writes it, reads back as the same ruleset, re-applies
// idempotently, and goes away with the empty ruleset.
func TestNftApplyGoldens(t *testing.T) {
	nftNeedRoot(t)
	for _, c := range nftGoldenPlans(t) {
		for _, p := range c.plans {
			t.Run(c.name+"/"+p.Host, func(t *testing.T) {
				t.Parallel()
				ns := nftTestNS(t)
				tg := nftOpen(t, ns)
				want := nftRendered(t, p.Ruleset)
				for range 2 {
					nftApply(t, tg, p.Ruleset)
					nftSameText(t, "nft list table", nftListOwned(t, ns), want)
					nftCheckLive(t, tg, p.Ruleset)
				}
				for range 2 { // removing an absent table is no error
					nftApply(t, tg, contain.Ruleset{})
					if out := nftIn(t, ns, "", "list", "tables"); out != "" {
						t.Fatalf("after the empty ruleset: %q", out)
					}
					if _, ok, err := tg.Live(context.Background()); ok || err != nil {
						t.Fatalf("Live after removal: ok %v, err %v", ok, err)
					}
				}
			})
		}
	}
}

const nftForeignTable = `table ip other {
	chain c {
		type filter hook input priority 0; policy accept;
		counter
	}
}
`

// Apply, replace and remove never touch another table.
func TestNftForeignTableUntouched(t *testing.T) {
	nftNeedRoot(t)
	t.Parallel()
	ns := nftTestNS(t)
	tg := nftOpen(t, ns)
	nftIn(t, ns, nftForeignTable, "-f", "-")
	before := nftIn(t, ns, "", "list", "table", "ip", "other")
	for _, rs := range []contain.Ruleset{
		nftPlanRuleset(t, "quarantine_provisional"),
		nftPlanRuleset(t, "block_both_sides"),
		{},
	} {
		nftApply(t, tg, rs)
		nftSameText(t, "table ip other", nftIn(t, ns, "", "list", "table", "ip", "other"), before)
	}
	if got := nftIn(t, ns, "", "list", "tables"); got != "table ip other\n" {
		t.Fatalf("tables left: %q", got)
	}
}

// A batch the kernel rejects at its last message changes nothing: the old
// table and the foreign one stay byte for byte.
func TestNftMidwayFailureChangesNothing(t *testing.T) {
	nftNeedRoot(t)
	t.Parallel()
	ns := nftTestNS(t)
	tg := nftOpen(t, ns)
	nftIn(t, ns, nftForeignTable, "-f", "-")
	prev := nftPlanRuleset(t, "quarantine_confirmed_keep") // no timeouts, so no countdowns in the listing
	nftApply(t, tg, prev)
	before := nftIn(t, ns, "", "list", "ruleset")

	bad := contain.Ruleset{
		Sets:   append([]contain.Set{{Name: "fresh", Type: contain.SetIPv4, Interval: true, Elements: []contain.Element{{Prefix: netip.MustParsePrefix("192.0.2.0/24")}}}}, prev.Sets...),
		Chains: append([]contain.Chain(nil), prev.Chains...),
	}
	last := &bad.Chains[len(bad.Chains)-1]
	last.Rules = append(append([]contain.Rule(nil), last.Rules...),
		contain.Rule{Family: 4, SrcSet: "no_such_set", Verdict: contain.Drop, Comment: "refers to nothing"})
	err := tg.Apply(context.Background(), bad)
	var op *netlink.OpError
	switch {
	case err == nil:
		t.Fatal("Apply accepted a rule on a missing set")
	case !errors.Is(err, contain.ErrRejected), !errors.Is(err, unix.ENOENT), !errors.As(err, &op):
		t.Fatalf("want ErrRejected wrapping ENOENT in a *netlink.OpError, got %v", err)
	}
	t.Logf("Apply: %v", err)
	nftSameText(t, "nft list ruleset", nftIn(t, ns, "", "list", "ruleset"), before)
	nftCheckLive(t, tg, prev)
}

// Foreign content in our table is drift, not silently dropped; rules nft
// writes in our grammar read back.
func TestNftLiveDrift(t *testing.T) {
	nftNeedRoot(t)
	t.Parallel()
	ns := nftTestNS(t)
	tg := nftOpen(t, ns)
	rs := nftPlanRuleset(t, "quarantine_confirmed_keep")
	for _, c := range []struct{ name, nft string }{
		{"counter statement", "add rule inet firebreak input counter"},
		{"literal port", "add rule inet firebreak input tcp dport 22 accept"},
		{"notrack statement", "add rule inet firebreak input ip saddr @mgmt_v4 notrack drop"},
		{"meta set", "add rule inet firebreak input ip saddr @mgmt_v4 meta nftrace set 1 drop"},
		{"reordered matches", "add rule inet firebreak input ip daddr @q2_v4 ip saddr @mgmt_v4 drop"},
		{"jump", "add chain inet firebreak aux; add rule inet firebreak input jump aux"},
		{"regular chain", "add chain inet firebreak aux"},
		{"chain policy drop", "add chain inet firebreak input { type filter hook input priority -10; policy drop; }"},
		{"chain priority", "add chain inet firebreak early { type filter hook input priority -300; policy accept; }"},
		{"named counter", "add counter inet firebreak c"},
		{"set of other type", "add set inet firebreak macs { type ether_addr; }"},
		{"auto-merge set", "add set inet firebreak am { type ipv4_addr; flags interval; auto-merge; }"},
		{"range that is no prefix", "add element inet firebreak mgmt_v4 { 10.1.2.3-10.1.2.9 }"},
		{"element comment", `add element inet firebreak mgmt_v4 { 10.7.0.0/16 comment "x" }`},
		{"dormant table", "add table inet firebreak { flags dormant; }"},
	} {
		nftApply(t, tg, rs)
		nftIn(t, ns, c.nft+"\n", "-f", "-")
		_, _, err := tg.Live(context.Background())
		if !errors.Is(err, contain.ErrDrift) {
			t.Errorf("%s: Live: %v, want ErrDrift", c.name, err)
		}
		t.Logf("%s: %v", c.name, err)
	}

	nftApply(t, tg, rs)
	nftIn(t, ns, `add rule inet firebreak forward ip6 saddr @mgmt_v6 udp sport @mgmt_ports drop comment "by hand"`+"\n", "-f", "-")
	live, ok, err := tg.Live(context.Background())
	if err != nil || !ok {
		t.Fatalf("Live: ok %v, err %v", ok, err)
	}
	rules := live.Chains[len(live.Chains)-1].Rules
	want := contain.Rule{Family: 6, SrcSet: "mgmt_v6", L4: contain.L4UDP, SPort: "mgmt_ports", Verdict: contain.Drop, Comment: "by hand"}
	if got := rules[len(rules)-1]; got != want {
		t.Fatalf("rule written by nft reads as %+v", got)
	}
}

func TestNftTargetNames(t *testing.T) {
	tg, err := contain.OpenTarget("local", contain.TargetOptions{})
	if err != nil || tg.String() != "local" {
		t.Fatalf("local: %v, %v", tg, err)
	}
	if _, err := contain.OpenTarget("netns:fbt-does-not-exist", contain.TargetOptions{}); !errors.Is(err, contain.ErrNoNetNS) {
		t.Fatalf("missing namespace: %v", err)
	}
}

// nftPair joins two fresh namespaces with a veth pair: the host side gets
// 10.77.0.1 and 10.99.0.1, the peer 10.77.0.2 and 10.99.0.5 (inside the
// fixture's management network 10.99.0.0/24).
func nftPair(t *testing.T) (host, peer string) {
	t.Helper()
	host, peer = nftTestNS(t), nftTestNS(t)
	nftRun(t, "", "ip", "-n", host, "link", "add", "fbh", "type", "veth", "peer", "name", "fbp", "netns", peer)
	for _, c := range [][]string{
		{"-n", host, "addr", "add", "10.77.0.1/24", "dev", "fbh"},
		{"-n", host, "addr", "add", "10.99.0.1/24", "dev", "fbh"},
		{"-n", host, "link", "set", "fbh", "up"},
		{"-n", peer, "addr", "add", "10.77.0.2/24", "dev", "fbp"},
		{"-n", peer, "addr", "add", "10.99.0.5/24", "dev", "fbp"},
		{"-n", peer, "link", "set", "fbp", "up"},
	} {
		nftRun(t, "", "ip", c...)
	}
	return host, peer
}

// nftEchoServer listens on addr inside ns and echoes every connection.
func nftEchoServer(t *testing.T, ns, addr string) {
	t.Helper()
	l, err := contain.ListenTCP(ns, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
}

// nftRoundTrip sends a byte on c and waits for its echo.
func nftRoundTrip(c net.Conn, wait time.Duration) error {
	_ = c.SetDeadline(time.Now().Add(wait))
	if _, err := c.Write([]byte{'x'}); err != nil {
		return err
	}
	_, err := io.ReadFull(c, make([]byte, 1))
	return err
}

// nftCanConnect dials from ns and checks the echo.
func nftCanConnect(ns, addr string, wait time.Duration) error {
	c, err := contain.DialTCP(context.Background(), ns, addr, wait)
	if err != nil {
		return err
	}
	defer c.Close()
	return nftRoundTrip(c, wait)
}

// nftQuarantine plans the fixture's quarantine of h1 with the given deadline
// (zero: confirmed), keeping 10.20.99.0/24.
func nftQuarantine(t *testing.T, clock time.Time, deadline time.Time) contain.Ruleset {
	t.Helper()
	plans, err := contain.Plan(testutil.Model(t, estate), policy, []contain.Action{{ID: 1, Kind: contain.Quarantine, Node: "h1",
		Keep: []netip.Prefix{netip.MustParsePrefix("10.20.99.0/24")}, Deadline: deadline}}, clock)
	if err != nil {
		t.Fatal(err)
	}
	return plans[0].Ruleset
}

// The kernel lifts a provisional quarantine by itself: while its gate
// element lives, plain connections fail and management ones pass; once it
// expires, connections pass again with no firebreak code running.
func TestNftKernelEnforcedExpiry(t *testing.T) {
	nftNeedRoot(t)
	t.Parallel()
	host, peer := nftPair(t)
	nftEchoServer(t, host, ":22")   // a management port
	nftEchoServer(t, host, ":8080") // any other service
	tg := nftOpen(t, host)
	const ttl = 2 * time.Second
	if err := nftCanConnect(peer, "10.77.0.1:8080", time.Second); err != nil {
		t.Fatalf("before the quarantine: %v", err)
	}

	clock := time.Now()
	nftApply(t, tg, nftQuarantine(t, clock, clock.Add(ttl)))
	applied := time.Now()
	if err := nftCanConnect(peer, "10.77.0.1:8080", 250*time.Millisecond); err == nil {
		t.Error("plain connection succeeded during the quarantine")
	}
	if err := nftCanConnect(peer, "10.99.0.1:8080", 250*time.Millisecond); err == nil {
		t.Error("management address reached a non-management port during the quarantine")
	}
	if err := nftCanConnect(peer, "10.99.0.1:22", time.Second); err != nil {
		t.Errorf("management connection failed during the quarantine: %v", err)
	}
	if d := time.Since(applied); d > ttl*3/4 {
		t.Fatalf("the checks took %v of the %v quarantine: cannot tell it from its expiry", d, ttl)
	}

	var lifted time.Duration
	for time.Since(applied) < ttl+4*time.Second {
		if nftCanConnect(peer, "10.77.0.1:8080", 200*time.Millisecond) == nil {
			lifted = time.Since(applied)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	switch {
	case lifted == 0:
		t.Fatalf("still quarantined %v after a %v timeout", time.Since(applied), ttl)
	case lifted < ttl-100*time.Millisecond:
		t.Fatalf("lifted after %v, before the %v timeout", lifted, ttl)
	}
	t.Logf("lifted by the kernel after %v", lifted)

	// The expired sets are empty (an expired range may leave its end
	// element behind until the kernel collects it) and read back cleanly.
	live, ok, err := tg.Live(context.Background())
	if err != nil || !ok {
		t.Fatalf("Live after expiry: %v %v", ok, err)
	}
	for _, s := range live.Sets {
		if s.Timeout && len(s.Elements) > 0 {
			t.Errorf("set %s still holds %v", s.Name, s.Elements)
		}
	}
}

// No blanket established-accept: a connection opened before the
// quarantine stops carrying data, and resumes when it is released.
func TestNftQuarantineCutsEstablished(t *testing.T) {
	nftNeedRoot(t)
	t.Parallel()
	host, peer := nftPair(t)
	nftEchoServer(t, host, ":8080")
	tg := nftOpen(t, host)
	c, err := contain.DialTCP(context.Background(), peer, "10.77.0.1:8080", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := nftRoundTrip(c, time.Second); err != nil {
		t.Fatalf("before the quarantine: %v", err)
	}
	nftApply(t, tg, nftQuarantine(t, time.Now(), time.Time{}))
	var ne net.Error
	if err := nftRoundTrip(c, 300*time.Millisecond); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("established connection during the quarantine: %v, want a timeout", err)
	}
	nftApply(t, tg, contain.Ruleset{})
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil { // the retransmitted byte's echo
		t.Fatalf("after the release: %v", err)
	}
}
