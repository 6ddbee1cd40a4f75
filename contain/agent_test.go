package contain_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak/firebreak/contain"
)

// memTarget is an in-memory host table: it keeps the last ruleset applied
// and reports every apply on a channel.
type memTarget struct {
	mu      sync.Mutex
	rs      contain.Ruleset
	applied chan contain.Ruleset
}

func newMemTarget() *memTarget { return &memTarget{applied: make(chan contain.Ruleset, 64)} }

func (f *memTarget) Apply(_ context.Context, rs contain.Ruleset) error {
	f.mu.Lock()
	f.rs = rs
	f.mu.Unlock()
	f.applied <- rs
	return nil
}

func (f *memTarget) Live(context.Context) (contain.Ruleset, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rs, !f.rs.Empty(), nil
}

func (f *memTarget) String() string { return "fake" }

// next waits for the next apply the target receives.
func (f *memTarget) next(t *testing.T, within time.Duration) contain.Ruleset {
	t.Helper()
	select {
	case rs := <-f.applied:
		return rs
	case <-time.After(within):
		t.Fatalf("no apply within %s", within)
		return contain.Ruleset{}
	}
}

func (f *memTarget) noApply(t *testing.T) {
	t.Helper()
	select {
	case rs := <-f.applied:
		t.Fatalf("the target received an apply: %+v", rs)
	default:
	}
}

// testPKI is a CA in a temporary directory with an agent certificate for
// 127.0.0.1 and client certificates issued on demand.
type testPKI struct {
	t   *testing.T
	dir string
}

func newTestPKI(t *testing.T, name string) *testPKI {
	t.Helper()
	p := &testPKI{t: t, dir: filepath.Join(t.TempDir(), name)}
	if err := contain.CreateCA(p.dir, name, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := contain.Issue(p.dir, contain.IssueRequest{Name: "agent", Server: true, Hosts: []string{"127.0.0.1"}}); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *testPKI) path(n string) string { return filepath.Join(p.dir, n) }

func (p *testPKI) serverTLS() *tls.Config {
	p.t.Helper()
	c, err := contain.LoadServerTLS(p.path("agent.crt"), p.path("agent.key"), p.path("ca.crt"))
	if err != nil {
		p.t.Fatal(err)
	}
	return c
}

// clientTLS issues (once) and loads a client certificate; rootsFrom is the
// PKI whose CA the client trusts for the agent (p itself when nil).
func (p *testPKI) clientTLS(name string, rootsFrom *testPKI) *tls.Config {
	p.t.Helper()
	err := contain.Issue(p.dir, contain.IssueRequest{Name: name, Client: true})
	if err != nil && !errors.Is(err, fs.ErrExist) {
		p.t.Fatal(err)
	}
	if rootsFrom == nil {
		rootsFrom = p
	}
	c, err := contain.LoadClientTLS(p.path(name+".crt"), p.path(name+".key"), rootsFrom.path("ca.crt"))
	if err != nil {
		p.t.Fatal(err)
	}
	return c
}

// logBuffer is a log destination safe for the agent's goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *logBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *logBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startAgent serves an agent on 127.0.0.1 until the test ends and returns
// its address.
func startAgent(t *testing.T, cfg contain.AgentConfig) string {
	t.Helper()
	a, err := contain.NewAgent(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve after cancel: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after cancel")
		}
	})
	return ln.Addr().String()
}

func agentTarget(t *testing.T, addr string, c *tls.Config) contain.Target {
	t.Helper()
	tg, err := contain.OpenTarget("agent:https://"+addr, contain.TargetOptions{AgentTLS: c, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// remoteAlert returns the TLS alert the peer sent. crypto/tls reports it as
// a *net.OpError with Op "remote error" whose Err is a value of the
// unexported alert type (a uint8); tls.AlertError is only used with QUIC.
func remoteAlert(err error) (uint8, bool) {
	oe, ok := errors.AsType[*net.OpError](err)
	if !ok || oe.Op != "remote error" {
		return 0, false
	}
	v := reflect.ValueOf(oe.Err)
	if v.Kind() != reflect.Uint8 {
		return 0, false
	}
	return uint8(v.Uint()), true
}

// TLS alert codes (RFC 8446 section 6).
const (
	alertUnknownCA           = 48
	alertCertificateRequired = 116
)

// tlsReadAfterHandshake connects with c and reads, returning the first error: with TLS
// 1.3 the client's handshake completes before the server has checked the
// client's certificate, so the server's alert arrives on the first read.
func tlsReadAfterHandshake(t *testing.T, addr string, c *tls.Config) error {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(&d, "tcp", addr, c)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = conn.Read(make([]byte, 1))
	return err
}

// agentSample is a ruleset using every wire feature: both families, prefixes,
// single ports and ranges, timeouts and permanent elements.
func agentSample() contain.Ruleset {
	return contain.Ruleset{
		Sets: []contain.Set{
			{Name: "mgmt_ports", Type: contain.SetPort, Interval: true, Elements: []contain.Element{{Port: 22, PortEnd: 22}, {Port: 7443, PortEnd: 7443}}},
			{Name: "mgmt_v4", Type: contain.SetIPv4, Interval: true, Elements: []contain.Element{{Prefix: netip.MustParsePrefix("10.20.99.0/24")}}},
			{Name: "mgmt_v6", Type: contain.SetIPv6, Interval: true, Elements: []contain.Element{{Prefix: netip.MustParsePrefix("fd00:99::/64")}}},
			{Name: "q1_v4", Type: contain.SetIPv4, Interval: true, Timeout: true, Elements: []contain.Element{{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Timeout: 5 * time.Minute}}},
			{Name: "b2_ports_tcp", Type: contain.SetPort, Interval: true, Timeout: true, Elements: []contain.Element{{Port: 8000, PortEnd: 8099, Timeout: 5 * time.Minute}}},
		},
		Chains: []contain.Chain{
			{Name: "input", Hook: contain.HookInput, Rules: []contain.Rule{
				{Loopback: true, Verdict: contain.Accept, Comment: "firebreak: loopback"},
				{Family: 4, SrcSet: "mgmt_v4", L4: contain.L4TCP, DPort: "mgmt_ports", Verdict: contain.Accept, Comment: "firebreak: management access"},
				{Family: 6, SrcSet: "mgmt_v6", L4: contain.L4TCP, DPort: "mgmt_ports", Verdict: contain.Accept},
				{Family: 4, SrcSet: "q1_v4", L4: contain.L4TCP, DPort: "b2_ports_tcp", Verdict: contain.Drop, Comment: `quote " and unicode ✓`},
			}},
			{Name: "output", Hook: contain.HookOutput, Rules: []contain.Rule{
				{Family: 4, DstSet: "q1_v4", Verdict: contain.Drop},
			}},
		},
	}
}

func TestAgentAppliesAndReadsBack(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t, "ca")
	fake := newMemTarget()
	addr := startAgent(t, contain.AgentConfig{Target: fake, TLS: pki.serverTLS()})
	tg := agentTarget(t, addr, pki.clientTLS("ops-1", nil))
	if got, want := tg.String(), "agent:https://"+addr; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}

	want := agentSample()
	if err := tg.Apply(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	if got := fake.next(t, time.Second); !reflect.DeepEqual(got, want) {
		t.Errorf("the target received\n%+v\nwant\n%+v", got, want)
	}
	live, ok, err := tg.Live(context.Background())
	if err != nil || !ok {
		t.Fatalf("Live: %v, present %v", err, ok)
	}
	if !reflect.DeepEqual(live, want) {
		t.Errorf("Live returned\n%+v\nwant\n%+v", live, want)
	}

	// An empty ruleset removes the table.
	if err := tg.Apply(context.Background(), contain.Ruleset{}); err != nil {
		t.Fatal(err)
	}
	if got := fake.next(t, time.Second); !got.Empty() {
		t.Errorf("empty apply reached the target as %+v", got)
	}
	if _, ok, err := tg.Live(context.Background()); err != nil || ok {
		t.Errorf("Live after removal: present %v, %v", ok, err)
	}
	h, ok := tg.(interface {
		Health(context.Context) (contain.AgentHealth, error)
	})
	if !ok {
		t.Fatal("agent target has no Health")
	}
	if st, err := h.Health(context.Background()); err != nil || st.Status != "ok" || st.Generation <= 0 {
		t.Errorf("Health: %+v, %v", st, err)
	}
}

func TestAgentRefusesClientWithoutCertificate(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t, "ca")
	fake := newMemTarget()
	addr := startAgent(t, contain.AgentConfig{Target: fake, TLS: pki.serverTLS()})

	noCert := pki.clientTLS("ops-1", nil).Clone()
	noCert.Certificates = nil
	err := tlsReadAfterHandshake(t, addr, noCert)
	if a, ok := remoteAlert(err); !ok || a != alertCertificateRequired {
		t.Fatalf("no client certificate: %v (alert %d), want alert %d (certificate required)", err, a, alertCertificateRequired)
	}
	// The client refuses to even build such a target.
	_, err = contain.OpenTarget("agent:https://"+addr, contain.TargetOptions{AgentTLS: noCert})
	if !errors.Is(err, contain.ErrAgentNoCert) {
		t.Errorf("target without a certificate: %v, want ErrAgentNoCert", err)
	}
	if _, err := contain.OpenTarget("agent:https://"+addr, contain.TargetOptions{}); !errors.Is(err, contain.ErrAgentNoCert) {
		t.Errorf("target without TLS: %v, want ErrAgentNoCert", err)
	}
	fake.noApply(t)
}

func TestAgentRefusesCertificateFromAnotherCA(t *testing.T) {
	t.Parallel()
	pki, other := newTestPKI(t, "ca"), newTestPKI(t, "other-ca")
	fake := newMemTarget()
	addr := startAgent(t, contain.AgentConfig{Target: fake, TLS: pki.serverTLS()})

	// A well-formed client certificate, signed by a CA the agent does not
	// trust, from a client that does trust the agent. The agent's
	// certificate request names the CAs it accepts, so a Go client holding
	// only a foreign certificate sends none at all...
	stranger := other.clientTLS("ops-1", pki)
	err := tlsReadAfterHandshake(t, addr, stranger)
	if a, ok := remoteAlert(err); !ok || a != alertCertificateRequired {
		t.Errorf("foreign certificate, not sent: %v (alert %d), want alert %d", err, a, alertCertificateRequired)
	}
	// (Through HTTP the request may be written before the alert is read, so
	// the error is the alert or a broken connection: unreachable either way.)
	if err := agentTarget(t, addr, stranger).Apply(context.Background(), agentSample()); !errors.Is(err, contain.ErrAgentUnreachable) {
		t.Errorf("Apply with a foreign certificate: %v, want ErrAgentUnreachable", err)
	}
	// ...and a client that sends it anyway has it rejected by the agent.
	pushy := stranger.Clone()
	cert := pushy.Certificates[0]
	pushy.Certificates = nil
	pushy.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	err = tlsReadAfterHandshake(t, addr, pushy)
	if a, ok := remoteAlert(err); !ok || a != alertUnknownCA {
		t.Fatalf("foreign client certificate: %v (alert %d), want alert %d (unknown CA)", err, a, alertUnknownCA)
	}
	if err := agentTarget(t, addr, pushy).Apply(context.Background(), agentSample()); !errors.Is(err, contain.ErrAgentUnreachable) {
		t.Errorf("Apply pushing a foreign certificate: %v, want ErrAgentUnreachable", err)
	}
	fake.noApply(t)
}

func TestClientRefusesAgentFromAnotherCA(t *testing.T) {
	t.Parallel()
	pki, other := newTestPKI(t, "ca"), newTestPKI(t, "other-ca")
	fake := newMemTarget()
	// The agent's certificate is from other, which the client does not
	// trust; the agent would accept the client.
	srv := other.serverTLS()
	srv.ClientCAs = pki.serverTLS().ClientCAs
	addr := startAgent(t, contain.AgentConfig{Target: fake, TLS: srv})
	err := agentTarget(t, addr, pki.clientTLS("ops-1", nil)).Apply(context.Background(), agentSample())
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); !ok || !errors.Is(err, contain.ErrAgentUnreachable) {
		t.Fatalf("agent with a foreign certificate: %v, want a certificate verification error", err)
	}
	fake.noApply(t)
}

func TestAgentAllowlist(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t, "ca")
	fake := newMemTarget()
	var logs logBuffer
	addr := startAgent(t, contain.AgentConfig{
		Target:         fake,
		TLS:            pki.serverTLS(),
		AllowedClients: []string{"ops-1", "Responder.Example"},
		Logger:         slog.New(slog.NewTextHandler(&logs, nil)),
	})

	err := agentTarget(t, addr, pki.clientTLS("intruder", nil)).Apply(context.Background(), agentSample())
	ae, ok := errors.AsType[*contain.AgentError](err)
	if !ok || ae.Status != http.StatusForbidden || !errors.Is(err, contain.ErrAgentRefused) || !errors.Is(err, contain.ErrAgent) {
		t.Fatalf("client not on the allowlist: %v, want a 403 ErrAgentRefused", err)
	}
	if !strings.Contains(ae.Message, `"intruder"`) {
		t.Errorf("403 message does not name the client: %q", ae.Message)
	}
	if !strings.Contains(logs.String(), "client=intruder") {
		t.Errorf("the refusal is not logged with the client's name:\n%s", logs.String())
	}
	if _, _, err := agentTarget(t, addr, pki.clientTLS("intruder", nil)).Live(context.Background()); !errors.Is(err, contain.ErrAgentRefused) {
		t.Errorf("Live by a client not on the allowlist: %v", err)
	}
	fake.noApply(t)

	if err := agentTarget(t, addr, pki.clientTLS("ops-1", nil)).Apply(context.Background(), agentSample()); err != nil {
		t.Fatalf("listed client: %v", err)
	}
	fake.next(t, time.Second)

	// A certificate from another PKI names the client in a DNS SAN only.
	if err := contain.Issue(pki.dir, contain.IssueRequest{Name: "both", Server: true, Client: true, Hosts: []string{"responder.example"}}); err != nil {
		t.Fatal(err)
	}
	both, err := contain.LoadClientTLS(pki.path("both.crt"), pki.path("both.key"), pki.path("ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := agentTarget(t, addr, both).Live(context.Background()); err != nil {
		t.Errorf("client listed by DNS name: %v", err)
	}
}

// agentRawClient speaks HTTPS to the agent with a valid client certificate, for
// requests the agent target never sends.
func agentRawClient(t *testing.T, c *tls.Config) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: c}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func agentSend(t *testing.T, c *http.Client, method, url, ctype string, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	var e struct{ Error string }
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		if err := json.Unmarshal(raw, &e); err != nil || e.Error == "" {
			t.Errorf("%s %s: %d with a body that is not a JSON error: %q", method, url, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, e.Error
}

func TestAgentRefusesBadRequests(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t, "ca")
	fake := newMemTarget()
	addr := startAgent(t, contain.AgentConfig{Target: fake, TLS: pki.serverTLS()})
	c := agentRawClient(t, pki.clientTLS("ops-1", nil))
	base := "https://" + addr

	// Just over the limit: one long string in an otherwise valid request.
	huge := `{"generation":1,"ruleset":{"Sets":[{"Name":"` + strings.Repeat("x", contain.MaxAgentRequest) + `"}]}}`
	status, msg := agentSend(t, c, "POST", base+"/v1/apply", "application/json", strings.NewReader(huge))
	if status != http.StatusRequestEntityTooLarge || !strings.Contains(msg, "4 MiB") {
		t.Errorf("oversized body: %d %q, want 413 naming the 4 MiB limit", status, msg)
	}

	for _, tc := range []struct {
		name, method, path, ctype, body string
		want                            int
	}{
		{"unknown top-level field", "POST", "/v1/apply", "application/json", `{"generation":1,"ruleset":{},"force":true}`, 400},
		{"unknown ruleset field", "POST", "/v1/apply", "application/json", `{"generation":1,"ruleset":{"Sets":[],"Tables":[]}}`, 400},
		{"no ruleset", "POST", "/v1/apply", "application/json", `{"generation":1}`, 400},
		{"no generation", "POST", "/v1/apply", "application/json", `{"ruleset":{}}`, 400},
		{"not JSON", "POST", "/v1/apply", "application/json", `generation=1`, 400},
		{"two objects", "POST", "/v1/apply", "application/json", `{"generation":1,"ruleset":{}} {}`, 400},
		{"rule on a missing set", "POST", "/v1/apply", "application/json",
			`{"generation":1,"ruleset":{"Chains":[{"Name":"input","Hook":0,"Rules":[{"Family":4,"SrcSet":"nope","Verdict":1}]}]}}`, 400},
		{"prefix in a port set", "POST", "/v1/apply", "application/json",
			`{"generation":1,"ruleset":{"Sets":[{"Name":"p","Type":2,"Elements":[{"Prefix":"10.0.0.0/8"}]}]}}`, 400},
		{"sub-millisecond timeout", "POST", "/v1/apply", "application/json",
			`{"generation":1,"ruleset":{"Sets":[{"Name":"p","Type":2,"Timeout":true,"Elements":[{"Port":22,"Timeout":1500}]}]}}`, 400},
		{"wrong content type", "POST", "/v1/apply", "text/plain", `{"generation":1,"ruleset":{}}`, 415},
		{"wrong method", "GET", "/v1/apply", "", ``, 405},
		{"wrong method on live", "DELETE", "/v1/live", "", ``, 405},
		{"unknown path", "GET", "/v1/tables", "", ``, 404},
	} {
		var body io.Reader
		if tc.body != "" {
			body = strings.NewReader(tc.body)
		}
		if status, msg := agentSend(t, c, tc.method, base+tc.path, tc.ctype, body); status != tc.want {
			t.Errorf("%s: %d %q, want %d", tc.name, status, msg, tc.want)
		}
	}
	fake.noApply(t)

	// The well-formed request goes through, so the refusals above were for
	// the reasons tested.
	if status, msg := agentSend(t, c, "POST", base+"/v1/apply", "application/json", strings.NewReader(`{"generation":1,"ruleset":{}}`)); status != http.StatusOK {
		t.Fatalf("good request: %d %q", status, msg)
	}
	fake.next(t, time.Second)
}

func TestAgentRefusesStaleGeneration(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t, "ca")
	fake := newMemTarget()
	addr := startAgent(t, contain.AgentConfig{Target: fake, TLS: pki.serverTLS()})
	tg := agentTarget(t, addr, pki.clientTLS("ops-1", nil))
	ctx := context.Background()

	if err := tg.Apply(contain.WithGeneration(ctx, 10), agentSample()); err != nil {
		t.Fatal(err)
	}
	fake.next(t, time.Second)
	err := tg.Apply(contain.WithGeneration(ctx, 9), contain.Ruleset{})
	if ae, ok := errors.AsType[*contain.AgentError](err); !ok || ae.Status != http.StatusConflict || !errors.Is(err, contain.ErrAgentStale) {
		t.Fatalf("stale generation: %v, want a 409 ErrAgentStale", err)
	}
	fake.noApply(t)
	// The same generation again is a retry, and goes through.
	if err := tg.Apply(contain.WithGeneration(ctx, 10), agentSample()); err != nil {
		t.Errorf("same generation: %v", err)
	}
	fake.next(t, time.Second)
}

// The agent reverts by itself: when an element's timeout runs out it
// re-applies the ruleset without it, with no client involved.
func TestAgentRevertsAtTheDeadline(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t, "ca")
	fake := newMemTarget()
	addr := startAgent(t, contain.AgentConfig{Target: fake, TLS: pki.serverTLS()})
	tg := agentTarget(t, addr, pki.clientTLS("ops-1", nil))

	mgmt := contain.Rule{Family: 4, SrcSet: "mgmt_v4", L4: contain.L4TCP, DPort: "mgmt_ports", Verdict: contain.Accept}
	lo := contain.Rule{Loopback: true, Verdict: contain.Accept}
	block := contain.Rule{Family: 4, SrcSet: "b2_src_v4", L4: contain.L4TCP, DPort: "b2_ports_tcp", Verdict: contain.Drop}
	gateIn := contain.Rule{Family: 4, SrcSet: "q1_v4", Verdict: contain.Drop}
	gateOut := contain.Rule{Family: 4, DstSet: "q1_v4", Verdict: contain.Drop}
	mgmtSets := []contain.Set{
		{Name: "mgmt_ports", Type: contain.SetPort, Interval: true, Elements: []contain.Element{{Port: 22, PortEnd: 22}}},
		{Name: "mgmt_v4", Type: contain.SetIPv4, Interval: true, Elements: []contain.Element{{Prefix: netip.MustParsePrefix("10.20.99.0/24")}}},
	}
	blockSets := func(left time.Duration) []contain.Set {
		return []contain.Set{
			{Name: "b2_src_v4", Type: contain.SetIPv4, Interval: true, Timeout: true, Elements: []contain.Element{{Prefix: netip.MustParsePrefix("10.0.0.5/32"), Timeout: left}}},
			{Name: "b2_ports_tcp", Type: contain.SetPort, Interval: true, Timeout: true, Elements: []contain.Element{{Port: 443, PortEnd: 443, Timeout: left}}},
		}
	}
	// A quarantine for 1 s and a block for 1.5 s on the same host.
	rs := contain.Ruleset{
		Sets: append(append(append([]contain.Set(nil), mgmtSets...),
			contain.Set{Name: "q1_v4", Type: contain.SetIPv4, Interval: true, Timeout: true,
				Elements: []contain.Element{{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Timeout: time.Second}}}),
			blockSets(1500*time.Millisecond)...),
		Chains: []contain.Chain{
			{Name: "input", Hook: contain.HookInput, Rules: []contain.Rule{lo, mgmt, block, gateIn}},
			{Name: "output", Hook: contain.HookOutput, Rules: []contain.Rule{lo, gateOut}},
			{Name: "forward", Hook: contain.HookForward, Rules: []contain.Rule{gateIn}},
		},
	}
	start := time.Now()
	if err := tg.Apply(context.Background(), rs); err != nil {
		t.Fatal(err)
	}
	fake.next(t, time.Second)

	// After 1 s: the quarantine's set and rules are gone, and the chains
	// that only held them; the block stays with the time it has left.
	got := fake.next(t, 5*time.Second)
	if el := time.Since(start); el < time.Second {
		t.Errorf("reverted after %s, before the 1s deadline", el)
	}
	want := contain.Ruleset{
		Sets:   append(append([]contain.Set(nil), mgmtSets...), blockSets(0)...),
		Chains: []contain.Chain{{Name: "input", Hook: contain.HookInput, Rules: []contain.Rule{lo, mgmt, block}}},
	}
	if same, diff := contain.Same(want, got); !same {
		t.Fatalf("first revert: %s\n got %+v", diff, got)
	}
	for _, s := range got.Sets {
		for _, e := range s.Elements {
			if s.Timeout && (e.Timeout <= 0 || e.Timeout > 500*time.Millisecond || e.Timeout%time.Millisecond != 0) {
				t.Errorf("set %s: %s left, want the rest of 1.5s in whole milliseconds", s.Name, e.Timeout)
			}
		}
	}

	// After 1.5 s nothing provisional is left: the table goes.
	got = fake.next(t, 5*time.Second)
	if el := time.Since(start); el < 1500*time.Millisecond {
		t.Errorf("second revert after %s, before the 1.5s deadline", el)
	}
	if !got.Empty() || len(got.Sets) != 0 {
		t.Fatalf("second revert: %+v, want the table removed", got)
	}
	if _, ok, err := tg.Live(context.Background()); err != nil || ok {
		t.Errorf("Live after the revert: present %v, %v", ok, err)
	}
}

// A newer apply replaces the schedule: the older ruleset's deadline does
// nothing once it has been superseded.
func TestAgentNewerApplyReplacesSchedule(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t, "ca")
	fake := newMemTarget()
	addr := startAgent(t, contain.AgentConfig{Target: fake, TLS: pki.serverTLS()})
	tg := agentTarget(t, addr, pki.clientTLS("ops-1", nil))
	ctx := context.Background()
	gate := func(set string, ttl time.Duration) contain.Ruleset {
		return contain.Ruleset{
			Sets: []contain.Set{{Name: set, Type: contain.SetIPv4, Interval: true, Timeout: true,
				Elements: []contain.Element{{Prefix: netip.MustParsePrefix("0.0.0.0/0"), Timeout: ttl}}}},
			Chains: []contain.Chain{{Name: "input", Hook: contain.HookInput, Rules: []contain.Rule{{Family: 4, SrcSet: set, Verdict: contain.Drop}}}},
		}
	}
	start := time.Now()
	if err := tg.Apply(contain.WithGeneration(ctx, 1), gate("old", 500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	fake.next(t, time.Second)
	if err := tg.Apply(contain.WithGeneration(ctx, 2), gate("new", 1200*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	fake.next(t, time.Second)
	got := fake.next(t, 5*time.Second)
	if el := time.Since(start); el < 1200*time.Millisecond || !got.Empty() {
		t.Fatalf("after %s the target got %+v; want only the newer ruleset's revert, after 1.2s", el, got)
	}
}

func TestAgentHasNoPlaintext(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t, "ca")
	fake := newMemTarget()
	addr := startAgent(t, contain.AgentConfig{Target: fake, TLS: pki.serverTLS()})

	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	resp, err := c.Post("http://"+addr+"/v1/apply", "application/json", strings.NewReader(`{"generation":1,"ruleset":{}}`))
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// Go's TLS server answers a plaintext request with a bare 400 and
		// closes the connection; the API is never reached.
		if resp.StatusCode != http.StatusBadRequest || bytes.Contains(body, []byte(`"generation"`)) {
			t.Fatalf("plain HTTP: %d %q", resp.StatusCode, body)
		}
	}
	fake.noApply(t)

	for _, spec := range []string{
		"agent:http://" + addr,
		"agent:" + addr,
		"agent:https://127.0.0.1",
		"agent:https://127.0.0.1:0",
		"agent:https://127.0.0.1:7443/v1",
		"agent:https://user@127.0.0.1:7443",
		"agent:https://127.0.0.1:7443?plain=1",
		"agent:https://:7443",
	} {
		_, err := contain.OpenTarget(spec, contain.TargetOptions{AgentTLS: pki.clientTLS("ops-1", nil)})
		if !errors.Is(err, contain.ErrBadTarget) {
			t.Errorf("%s: %v, want ErrBadTarget", spec, err)
		}
	}
	tg, err := contain.OpenTarget("agent:https://[::1]:7443/", contain.TargetOptions{AgentTLS: pki.clientTLS("ops-1", nil)})
	if err != nil || tg.String() != "agent:https://[::1]:7443" {
		t.Errorf("IPv6 agent: %v, %v", tg, err)
	}
}

func TestNewAgentRefusesIncompleteConfig(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t, "ca")
	noCA := pki.serverTLS()
	noCA.ClientCAs = nil
	for name, cfg := range map[string]contain.AgentConfig{
		"no target":      {TLS: pki.serverTLS()},
		"no TLS":         {Target: newMemTarget()},
		"no client CA":   {Target: newMemTarget(), TLS: noCA},
		"no certificate": {Target: newMemTarget(), TLS: &tls.Config{ClientCAs: pki.serverTLS().ClientCAs}},
		"empty allowed":  {Target: newMemTarget(), TLS: pki.serverTLS(), AllowedClients: []string{""}},
	} {
		if _, err := contain.NewAgent(cfg); !errors.Is(err, contain.ErrAgentConfig) {
			t.Errorf("%s: %v, want ErrAgentConfig", name, err)
		}
	}
}
