package contain

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors of agent targets. An agent's refusal is an *AgentError,
// which matches ErrAgent and, by its status, ErrAgentRefused, ErrAgentStale
// or ErrUnsupported.
var (
	// ErrAgent is any error reported by an agent.
	ErrAgent = errors.New("agent error")
	// ErrAgentRefused means the agent rejected the client's identity (401,
	// 403): the certificate is not on its allowlist.
	ErrAgentRefused = errors.New("agent refused this client")
	// ErrAgentStale means the agent holds a newer generation than the one
	// sent (409): someone applied a later change.
	ErrAgentStale = errors.New("stale generation")
	// ErrAgentUnreachable means no answer came: no connection, a failed TLS
	// handshake (the wrapped error says which, e.g. a
	// *tls.CertificateVerificationError), or a timeout.
	ErrAgentUnreachable = errors.New("agent unreachable")
	// ErrAgentNoCert means an agent target was asked for without a client
	// TLS configuration.
	ErrAgentNoCert = errors.New("agent targets need a client certificate: pass --agent-cert, --agent-key and --agent-ca (or set FIREBREAK_AGENT_CERT, FIREBREAK_AGENT_KEY, FIREBREAK_AGENT_CA)")
)

// DefaultAgentTimeout bounds one call to an agent when TargetOptions.Timeout
// is zero.
const DefaultAgentTimeout = 10 * time.Second

// maxAgentResponse bounds what the client reads from an agent.
const maxAgentResponse = 2 * MaxAgentRequest

// AgentError is an agent's answer other than success: the HTTP status and
// the agent's message.
type AgentError struct {
	Target  string // agent:https://HOST:PORT
	Status  int
	Message string
}

func (e *AgentError) Error() string {
	return fmt.Sprintf("%s: %s (HTTP %d)", e.Target, e.Message, e.Status)
}

// Is classifies the status: every AgentError is ErrAgent; 401 and 403 are
// ErrAgentRefused, 409 ErrAgentStale, 501 ErrUnsupported.
func (e *AgentError) Is(target error) bool {
	switch target {
	case ErrAgent:
		return true
	case ErrAgentRefused:
		return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
	case ErrAgentStale:
		return e.Status == http.StatusConflict
	case ErrUnsupported:
		return e.Status == http.StatusNotImplemented
	}
	return false
}

type generationKey struct{}

// WithGeneration makes an agent Apply under ctx send gen as its generation
// instead of the current time in nanoseconds. An agent refuses generations
// older than the last it applied, so one agent's callers must agree on one
// scheme: a workspace's counter and wall-clock nanoseconds do not mix.
func WithGeneration(ctx context.Context, gen int64) context.Context {
	return context.WithValue(ctx, generationKey{}, gen)
}

// agentTarget talks to `firebreak agent` on a host.
type agentTarget struct {
	base   string // https://HOST:PORT
	client *http.Client
}

// newAgentTarget checks an agent URL (https://HOST:PORT and nothing else:
// there is no plaintext mode) and builds its client.
func newAgentTarget(raw string, o TargetOptions) (Target, error) {
	base, err := agentBase(raw)
	if err != nil {
		return nil, err
	}
	if o.AgentTLS == nil || (len(o.AgentTLS.Certificates) == 0 && o.AgentTLS.GetClientCertificate == nil) {
		return nil, fmt.Errorf("agent:%s: %w", base, ErrAgentNoCert)
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultAgentTimeout
	}
	cfg := o.AgentTLS.Clone()
	if cfg.MinVersion < tls.VersionTLS13 {
		cfg.MinVersion = tls.VersionTLS13
	}
	ns := o.AgentNetNS
	dial := func(ctx context.Context, _, addr string) (net.Conn, error) {
		if ns != "" {
			return DialTCP(ctx, ns, addr, timeout)
		}
		d := net.Dialer{Timeout: timeout}
		return d.DialContext(ctx, "tcp", addr)
	}
	tr := &http.Transport{
		Proxy:                 nil, // never through an HTTP proxy from the environment
		DialContext:           dial,
		TLSClientConfig:       cfg,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       30 * time.Second,
	}
	return &agentTarget{
		base: base,
		client: &http.Client{
			Transport: tr,
			Timeout:   timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse // an agent never redirects
			},
		},
	}, nil
}

// agentBase checks the URL of an agent target and returns it normalised.
func agentBase(raw string) (string, error) {
	bad := func(why string) error {
		return fmt.Errorf("%w: agent:%s: %s (want agent:https://HOST:PORT)", ErrBadTarget, raw, why)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", bad("not a URL")
	}
	switch {
	case u.Scheme != "https":
		return "", bad("agents speak HTTPS only")
	case u.Opaque != "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || (u.Path != "" && u.Path != "/"):
		return "", bad("only a host and port")
	case u.Hostname() == "":
		return "", bad("no host")
	}
	p, err := strconv.ParseUint(u.Port(), 10, 16)
	if err != nil || p == 0 {
		return "", bad("no port or a bad one")
	}
	return "https://" + net.JoinHostPort(u.Hostname(), strconv.FormatUint(p, 10)), nil
}

func (t *agentTarget) String() string { return "agent:" + t.base }

// Apply sends rs with a generation: the one set by WithGeneration, else the
// current time in nanoseconds.
func (t *agentTarget) Apply(ctx context.Context, rs Ruleset) error {
	gen, ok := ctx.Value(generationKey{}).(int64)
	if !ok {
		gen = time.Now().UnixNano()
	}
	body, err := json.Marshal(applyRequest{Generation: gen, Ruleset: &rs})
	if err != nil {
		return fmt.Errorf("%s: %w", t, err)
	}
	if len(body) > MaxAgentRequest {
		return fmt.Errorf("%s: %w: the ruleset is %d bytes as JSON, over the agent's limit of %d", t, ErrAgent, len(body), MaxAgentRequest)
	}
	var resp applyResponse
	if err := t.call(ctx, http.MethodPost, "/v1/apply", body, &resp); err != nil {
		return err
	}
	if resp.Generation != gen {
		return fmt.Errorf("%s: %w: acknowledged generation %d, sent %d", t, ErrAgent, resp.Generation, gen)
	}
	return nil
}

// Live reads the agent's table back.
func (t *agentTarget) Live(ctx context.Context) (Ruleset, bool, error) {
	var resp liveResponse
	if err := t.call(ctx, http.MethodGet, "/v1/live", nil, &resp); err != nil {
		return Ruleset{}, false, err
	}
	return resp.Ruleset, resp.Present, nil
}

// Health asks whether the agent is up and which generation it holds. It is
// not part of Target; callers reach it through a small interface of their
// own (the lab waits for its agents with it).
func (t *agentTarget) Health(ctx context.Context) (AgentHealth, error) {
	var h AgentHealth
	err := t.call(ctx, http.MethodGet, "/v1/health", nil, &h)
	return h, err
}

// call does one request and decodes a success into out; anything else
// becomes an *AgentError or an ErrAgentUnreachable.
func (t *agentTarget) call(ctx context.Context, method, path string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, t.base+path, rd)
	if err != nil {
		return fmt.Errorf("%s: %w", t, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := t.client.Do(req)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err // the URL is in t's name already
		}
		return fmt.Errorf("%s: %w: %w", t, ErrAgentUnreachable, err)
	}
	defer resp.Body.Close()
	lr := io.LimitReader(resp.Body, maxAgentResponse)
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(lr, 64<<10))
		var e errorResponse
		if json.Unmarshal(raw, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(raw))
			if e.Error == "" {
				e.Error = http.StatusText(resp.StatusCode)
			}
		}
		return &AgentError{Target: t.String(), Status: resp.StatusCode, Message: e.Error}
	}
	if err := json.NewDecoder(lr).Decode(out); err != nil {
		return fmt.Errorf("%s: %w: bad response to %s %s: %w", t, ErrAgent, method, path, err)
	}
	return nil
}
