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
