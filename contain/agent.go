package contain

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The host agent: `firebreak agent` serves this on every host that cannot be
// reached over netlink from the operator's machine. It speaks HTTPS with
// mutual TLS only, applies rulesets to its Target, and runs the revert
// deadline itself, so a provisional containment is tidied away on time even
// when the operator's process is gone.
//
// API (JSON, client certificate required):
//
//	POST /v1/apply   {"generation": N, "ruleset": Ruleset}  → {"generation": N}
//	GET  /v1/live                                           → {"present": bool, "ruleset": Ruleset}
//	GET  /v1/health                                         → {"status": "ok", "generation": N}
//
// Errors are {"error": "..."} with the status saying what went wrong: 400 a
// malformed request, 403 a client not on the allowlist, 404/405 wrong path or
// method, 409 a stale generation, 413 a body over MaxAgentRequest, 415 not
// JSON, 501 no nftables here, 500 the apply failed.

// ErrAgentConfig means an agent cannot start with the configuration given.
var ErrAgentConfig = errors.New("bad agent configuration")

// errBadRuleset marks a ruleset the agent refuses before touching the host.
var errBadRuleset = errors.New("bad ruleset")

// MaxAgentRequest bounds the body of a request to the agent.
const MaxAgentRequest = 4 << 20

// Agent limits and timings.
const (
	agentReadHeaderTimeout = 10 * time.Second
	agentReadTimeout       = 30 * time.Second
	agentWriteTimeout      = 60 * time.Second
	agentIdleTimeout       = 2 * time.Minute
	agentMaxHeaderBytes    = 16 << 10
	agentApplyTimeout      = 30 * time.Second
	agentShutdownTimeout   = 5 * time.Second
	// revertRetry is how soon a failed revert is tried again. The kernel
	// has already dropped the expired elements, so nothing matches them in
	// the meantime; the retry only tidies the table.
	revertRetry = 5 * time.Second
)

// AgentConfig is what an Agent needs.
type AgentConfig struct {
	// Target is where rulesets are applied: the local netlink target in
	// production, anything in tests.
	Target Target
	// TLS holds the agent's certificate and the pool of CAs whose client
	// certificates it accepts (ClientCAs), as LoadServerTLS returns. The
	// agent always requires and verifies a client certificate and speaks
	// TLS 1.3 only, whatever the configuration says.
	TLS *tls.Config
	// AllowedClients, if not empty, admits only client certificates whose
	// CommonName or a DNS SAN is listed (case-insensitive); others get 403.
	AllowedClients []string
	// Clock tells the time (time.Now when nil).
	Clock func() time.Time
	// Logger receives one line per apply, refusal and revert (discarded
	// when nil).
	Logger *slog.Logger
}

// Agent serves the agent API for one target.
type Agent struct {
	target  Target
	tls     *tls.Config
	allowed []string
	clock   func() time.Time
	log     *slog.Logger

	mu     sync.Mutex // serialises applies and reverts
	gen    int64      // generation of the last successful apply
	sched  *schedule  // what was last applied, while elements are due to expire
	timer  *time.Timer
	seq    uint64 // identifies the current schedule; a stale timer does nothing
	closed bool
}

// schedule is the last ruleset applied and when: element timeouts count
// from at, so each element's absolute deadline is at + Timeout.
type schedule struct {
	rs Ruleset
	at time.Time
}

// NewAgent checks a configuration and builds an agent.
func NewAgent(cfg AgentConfig) (*Agent, error) {
	if cfg.Target == nil {
		return nil, fmt.Errorf("%w: no target to apply rulesets to", ErrAgentConfig)
	}
	if cfg.TLS == nil || (len(cfg.TLS.Certificates) == 0 && cfg.TLS.GetCertificate == nil) {
		return nil, fmt.Errorf("%w: no server certificate: the agent serves mutual TLS only", ErrAgentConfig)
	}
	if cfg.TLS.ClientCAs == nil {
		return nil, fmt.Errorf("%w: no client CA: the agent accepts only clients whose certificate a configured CA signed", ErrAgentConfig)
	}
	for _, n := range cfg.AllowedClients {
		if strings.TrimSpace(n) == "" {
			return nil, fmt.Errorf("%w: empty name in the client allowlist", ErrAgentConfig)
		}
	}
	a := &Agent{
		target:  cfg.Target,
		tls:     cfg.TLS.Clone(),
		allowed: append([]string(nil), cfg.AllowedClients...),
		clock:   cfg.Clock,
		log:     cfg.Logger,
	}
	a.tls.MinVersion = tls.VersionTLS13
	a.tls.ClientAuth = tls.RequireAndVerifyClientCert
	if a.clock == nil {
		a.clock = time.Now
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	return a, nil
}

// Serve accepts connections on ln, wrapped in TLS 1.3 with a verified client
// certificate required, until ctx is cancelled; then it shuts down cleanly
// (in-flight requests get a few seconds) and returns nil. It closes ln. The
// revert timer stops with it: the kernel's element timeouts still hold.
// Serve is called once per Agent.
func (a *Agent) Serve(ctx context.Context, ln net.Listener) error {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	srv := &http.Server{
		Handler:           a,
		TLSConfig:         a.tls,
		Protocols:         &protocols,
		ReadHeaderTimeout: agentReadHeaderTimeout,
		ReadTimeout:       agentReadTimeout,
		WriteTimeout:      agentWriteTimeout,
		IdleTimeout:       agentIdleTimeout,
		MaxHeaderBytes:    agentMaxHeaderBytes,
		// Failed handshakes (no certificate, another CA, plain HTTP) are
		// logged here with the peer's address.
		ErrorLog:    slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	done := make(chan struct{})
	defer close(done)
	shut := make(chan error, 1)
	go func() {
		select {
		case <-ctx.Done():
		case <-done:
			shut <- nil
			return
		}
		sctx, cancel := context.WithTimeout(context.Background(), agentShutdownTimeout)
		defer cancel()
		shut <- srv.Shutdown(sctx)
	}()
	err := srv.ServeTLS(ln, "", "")
	a.stop()
	if errors.Is(err, http.ErrServerClosed) {
		return <-shut
	}
	return err
}

// stop ends the revert timer for good.
func (a *Agent) stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	if a.timer != nil {
		a.timer.Stop()
	}
}

// ServeHTTP authorises the client certificate, then routes.
func (a *Agent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		// Unreachable through Serve: the handshake requires a certificate.
		writeError(w, http.StatusUnauthorized, "a client certificate is required")
		return
	}
	peer := r.TLS.PeerCertificates[0]
	who := peer.Subject.CommonName
	if who == "" && len(peer.DNSNames) > 0 {
		who = peer.DNSNames[0]
	}
	if !a.admits(who, peer.DNSNames) {
		a.log.Warn("refused client not on the allowlist", "client", who, "dns", peer.DNSNames, "remote", r.RemoteAddr, "path", r.URL.Path)
		writeError(w, http.StatusForbidden, fmt.Sprintf("client certificate %q is not allowed on this agent", who))
		return
	}
	route := map[string]struct {
		method string
		h      func(http.ResponseWriter, *http.Request, string)
	}{
		"/v1/apply":  {http.MethodPost, a.handleApply},
		"/v1/live":   {http.MethodGet, a.handleLive},
		"/v1/health": {http.MethodGet, a.handleHealth},
	}
	rt, ok := route[r.URL.Path]
	switch {
	case !ok:
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint %q (want /v1/apply, /v1/live or /v1/health)", r.URL.Path))
	case r.Method != rt.method:
		w.Header().Set("Allow", rt.method)
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s takes %s, not %s", r.URL.Path, rt.method, r.Method))
	default:
		rt.h(w, r, who)
	}
}

func (a *Agent) admits(cn string, dns []string) bool {
	if len(a.allowed) == 0 {
		return true
	}
	for _, n := range a.allowed {
		if strings.EqualFold(n, cn) {
			return true
		}
		for _, d := range dns {
			if strings.EqualFold(n, d) {
				return true
			}
		}
	}
	return false
}

// applyRequest is the body of POST /v1/apply. Ruleset is a pointer so a
// request that forgets it is refused rather than read as "remove the table".
type applyRequest struct {
	Generation int64    `json:"generation"`
	Ruleset    *Ruleset `json:"ruleset"`
}

type applyResponse struct {
	Generation int64 `json:"generation"`
}

type liveResponse struct {
	Present bool    `json:"present"`
	Ruleset Ruleset `json:"ruleset"`
}

// AgentHealth is the body of GET /v1/health.
type AgentHealth struct {
	Status     string `json:"status"`
	Generation int64  `json:"generation"` // of the last apply; 0 since the agent started
}

type errorResponse struct {
	Error string `json:"error"`
}

func (a *Agent) handleApply(w http.ResponseWriter, r *http.Request, who string) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			writeError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("content type %q: want application/json", ct))
			return
		}
	}
	var req applyRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxAgentRequest))
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	if err == nil && dec.More() {
		err = errors.New("data after the JSON object")
	}
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body too large: the limit is %d MiB (%d bytes)", MaxAgentRequest>>20, MaxAgentRequest))
			return
		}
		writeError(w, http.StatusBadRequest, fmt.Sprintf("bad apply request: %v", err))
		return
	}
	if req.Generation <= 0 {
		writeError(w, http.StatusBadRequest, "bad apply request: generation must be a positive number")
		return
	}
	if req.Ruleset == nil {
		writeError(w, http.StatusBadRequest, "bad apply request: no ruleset (send an empty ruleset to remove the table)")
		return
	}
	rs := *req.Ruleset
	if err := checkRuleset(rs); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}

	a.mu.Lock()
	defer a.mu.Unlock()
	if req.Generation < a.gen {
		a.log.Warn("refused stale apply", "client", who, "generation", req.Generation, "current", a.gen)
		writeError(w, http.StatusConflict, fmt.Sprintf("generation %d is older than this agent's %d: a newer change was applied", req.Generation, a.gen))
		return
	}
	at := a.clock()
	ctx, cancel := context.WithTimeout(r.Context(), agentApplyTimeout)
	defer cancel()
	if err := a.target.Apply(ctx, rs); err != nil {
		a.log.Error("apply failed", "client", who, "generation", req.Generation, "err", err)
		status := http.StatusInternalServerError
		if errors.Is(err, ErrUnsupported) {
			status = http.StatusNotImplemented
		}
		writeError(w, status, fmt.Sprintf("apply on %s: %v", a.target, err))
		return
	}
	a.gen = req.Generation
	a.schedule(rs, at)
	attrs := []any{"client", who, "generation", req.Generation, "sets", len(rs.Sets), "chains", len(rs.Chains), "remote", r.RemoteAddr}
	if d, ok := nextExpiry(rs); ok {
		attrs = append(attrs, "revert_at", at.Add(d).Format(time.RFC3339))
	}
	if rs.Empty() {
		a.log.Info("removed the table", attrs...)
	} else {
		a.log.Info("applied", attrs...)
	}
	writeJSON(w, http.StatusOK, applyResponse{Generation: req.Generation})
}

func (a *Agent) handleLive(w http.ResponseWriter, r *http.Request, _ string) {
	ctx, cancel := context.WithTimeout(r.Context(), agentApplyTimeout)
	defer cancel()
	rs, ok, err := a.target.Live(ctx)
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, ErrUnsupported) {
			status = http.StatusNotImplemented
		}
		writeError(w, status, fmt.Sprintf("read %s: %v", a.target, err))
		return
	}
	writeJSON(w, http.StatusOK, liveResponse{Present: ok, Ruleset: rs})
}

func (a *Agent) handleHealth(w http.ResponseWriter, _ *http.Request, _ string) {
	a.mu.Lock()
	gen := a.gen
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, AgentHealth{Status: "ok", Generation: gen})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorResponse{Error: msg})
}

// schedule replaces the revert schedule with rs, applied at at. The caller
// holds a.mu.
func (a *Agent) schedule(rs Ruleset, at time.Time) {
	a.seq++
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
	a.sched = nil
	d, ok := nextExpiry(rs)
	if !ok || a.closed {
		return
	}
	a.sched = &schedule{rs: rs, at: at}
	a.arm(at.Add(d).Sub(a.clock()))
}

// arm starts the timer for the current schedule. The caller holds a.mu.
func (a *Agent) arm(d time.Duration) {
	seq := a.seq
	a.timer = time.AfterFunc(max(d, 0), func() { a.revert(seq) })
}

// revert runs when the earliest deadline of schedule seq has passed: it
// re-applies the last ruleset without its expired elements.
func (a *Agent) revert(seq uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed || seq != a.seq || a.sched == nil {
		return // replaced by a newer apply, or shut down
	}
	now := a.clock()
	rs, changed := expire(a.sched.rs, now.Sub(a.sched.at))
	if !changed {
		// The timer ran early by the agent's clock: wait for the deadline.
		d, _ := nextExpiry(a.sched.rs)
		a.arm(a.sched.at.Add(d).Sub(now))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), agentApplyTimeout)
	defer cancel()
	if err := a.target.Apply(ctx, rs); err != nil {
		a.log.Error("revert of expired elements failed; retrying (the kernel has already expired them)", "target", a.target.String(), "generation", a.gen, "err", err, "retry_in", revertRetry)
		a.arm(revertRetry)
		return
	}
	if rs.Empty() {
		a.log.Info("reverted: every provisional element expired, table removed", "generation", a.gen)
	} else {
		a.log.Info("reverted expired elements", "generation", a.gen, "sets", len(rs.Sets), "chains", len(rs.Chains))
	}
	a.schedule(rs, now)
}

// nextExpiry returns the shortest element timeout of rs.
func nextExpiry(rs Ruleset) (time.Duration, bool) {
	var d time.Duration
	for _, s := range rs.Sets {
		for _, e := range s.Elements {
			if e.Timeout > 0 && (d == 0 || e.Timeout < d) {
				d = e.Timeout
			}
		}
	}
	return d, d > 0
}

// expire returns rs as it stands elapsed after it was applied: elements whose
// timeout has run out are gone and the others' timeouts are the time left;
// sets emptied that way are gone with every rule that refers to them; a
// chain whose last drop rule went is gone (a policy-accept chain of accepts
// decides nothing), and when no chain is left the whole table is (the empty
// Ruleset). changed is false when nothing has expired yet; rs is not
// modified.
func expire(rs Ruleset, elapsed time.Duration) (out Ruleset, changed bool) {
	gone := map[string]bool{}
	for _, s := range rs.Sets {
		kept := make([]Element, 0, len(s.Elements))
		for _, e := range s.Elements {
			if e.Timeout > 0 {
				// nftables counts element timeouts in milliseconds.
				left := (e.Timeout - elapsed).Truncate(time.Millisecond)
				if left <= 0 {
					changed = true
					continue
				}
				e.Timeout = left
			}
			kept = append(kept, e)
		}
		if len(s.Elements) > 0 && len(kept) == 0 {
			gone[s.Name] = true
			continue
		}
		s.Elements = kept
		out.Sets = append(out.Sets, s)
	}
	if !changed {
		return rs, false
	}
	for _, c := range rs.Chains {
		rules := make([]Rule, 0, len(c.Rules))
		hadDrop, hasDrop := false, false
		for _, r := range c.Rules {
			hadDrop = hadDrop || r.Verdict == Drop
			if gone[r.SrcSet] || gone[r.DstSet] || gone[r.SPort] || gone[r.DPort] {
				continue
			}
			hasDrop = hasDrop || r.Verdict == Drop
			rules = append(rules, r)
		}
		if len(rules) == 0 || (hadDrop && !hasDrop) {
			continue
		}
		c.Rules = rules
		out.Chains = append(out.Chains, c)
	}
	if len(out.Chains) == 0 {
		return Ruleset{}, true
	}
	return out, true
}

// checkRuleset checks what a netlink batch needs and a client may get
// wrong: unique non-empty names, set elements of the set's type, rules that
// refer to existing sets of the right type. The agent refuses a ruleset
// that fails it with 400 before touching the host.
func checkRuleset(rs Ruleset) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", errBadRuleset, fmt.Sprintf(format, args...))
	}
	sets := map[string]SetType{}
	for i, s := range rs.Sets {
		if !validWireName(s.Name) {
			return bad("sets[%d]: name %q: want 1 to 64 letters, digits, '_' or '-'", i, s.Name)
		}
		if _, dup := sets[s.Name]; dup {
			return bad("set %q: defined twice", s.Name)
		}
		sets[s.Name] = s.Type
		for j, e := range s.Elements {
			if e.Timeout < 0 {
				return bad("set %q element %d: negative timeout", s.Name, j)
			}
			if e.Timeout > 0 && !s.Timeout {
				return bad("set %q element %d: a timeout in a set without the timeout flag", s.Name, j)
			}
			if e.Timeout%time.Millisecond != 0 {
				return bad("set %q element %d: timeout %s is finer than a millisecond", s.Name, j, e.Timeout)
			}
			switch s.Type {
			case SetIPv4, SetIPv6:
				if !e.Prefix.IsValid() || e.Prefix.Addr().Is4() != (s.Type == SetIPv4) || e.Prefix.Addr().Zone() != "" {
					return bad("set %q element %d: want an IPv%d prefix, got %q", s.Name, j, map[SetType]int{SetIPv4: 4, SetIPv6: 6}[s.Type], e.Prefix)
				}
				if e.Prefix != e.Prefix.Masked() {
					return bad("set %q element %d: %s has host bits set (want %s)", s.Name, j, e.Prefix, e.Prefix.Masked())
				}
				if !e.Prefix.IsSingleIP() && !s.Interval {
					return bad("set %q element %d: prefix %s in a set without the interval flag", s.Name, j, e.Prefix)
				}
			case SetPort:
				if e.Prefix.IsValid() || (e.PortEnd != 0 && e.PortEnd < e.Port) {
					return bad("set %q element %d: want a port or port range", s.Name, j)
				}
				if e.PortEnd > e.Port && !s.Interval {
					return bad("set %q element %d: range in a set without the interval flag", s.Name, j)
				}
			default:
				return bad("set %q: unknown type %d", s.Name, s.Type)
			}
		}
	}
	chains := map[string]bool{}
	hooks := map[Hook]bool{}
	for i, c := range rs.Chains {
		if !validWireName(c.Name) {
			return bad("chains[%d]: name %q: want 1 to 64 letters, digits, '_' or '-'", i, c.Name)
		}
		if chains[c.Name] {
			return bad("chain %q: defined twice", c.Name)
		}
		chains[c.Name] = true
		if c.Hook > HookForward {
			return bad("chain %q: unknown hook %d", c.Name, c.Hook)
		}
		if hooks[c.Hook] {
			return bad("chain %q: a second chain on hook %s", c.Name, hookName(c.Hook))
		}
		hooks[c.Hook] = true
		for j, r := range c.Rules {
			if err := checkWireRule(r, sets); err != nil {
				return bad("chain %q rule %d: %v", c.Name, j, err)
			}
		}
	}
	return nil
}

func checkWireRule(r Rule, sets map[string]SetType) error {
	if r.Verdict > Drop {
		return fmt.Errorf("unknown verdict %d", r.Verdict)
	}
	if r.L4 > L4UDP {
		return fmt.Errorf("unknown protocol %d", r.L4)
	}
	if len(r.Comment) > 252 || strings.ContainsRune(r.Comment, 0) {
		return errors.New("comment longer than 252 bytes or with a NUL")
	}
	for _, ref := range []string{r.SrcSet, r.DstSet} {
		if ref == "" {
			continue
		}
		t, ok := sets[ref]
		if !ok {
			return fmt.Errorf("no set %q", ref)
		}
		if want := map[uint8]SetType{4: SetIPv4, 6: SetIPv6}; r.Family != 4 && r.Family != 6 || t != want[r.Family] {
			return fmt.Errorf("set %q does not hold addresses of family %d", ref, r.Family)
		}
	}
	for _, ref := range []string{r.SPort, r.DPort} {
		if ref == "" {
			continue
		}
		t, ok := sets[ref]
		if !ok {
			return fmt.Errorf("no set %q", ref)
		}
		if t != SetPort {
			return fmt.Errorf("set %q does not hold ports", ref)
		}
		if r.L4 == L4Any {
			return fmt.Errorf("port set %q without tcp or udp", ref)
		}
	}
	return nil
}

func validWireName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}
