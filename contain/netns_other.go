//go:build !linux

package contain

import (
	"context"
	"errors"
	"net"
	"time"
)

// Network namespaces are Linux's. Elsewhere the current namespace ("") still
// works, so the agent client and server run; anything named is an explicit
// error, never a silent fallback.

// ErrNoNetNS means a named network namespace does not exist.
var ErrNoNetNS = errors.New("no such network namespace")

// InNetNS runs fn; only the current namespace exists here.
func InNetNS(name string, fn func() error) error {
	if name != "" {
		return ErrUnsupported
	}
	return fn()
}

// ListenTCP opens a TCP listener; only the current namespace exists here.
func ListenTCP(ns, addr string) (net.Listener, error) {
	if ns != "" {
		return nil, ErrUnsupported
	}
	return net.Listen("tcp", addr)
}

// DialTCP connects; only the current namespace exists here.
func DialTCP(ctx context.Context, ns, addr string, timeout time.Duration) (net.Conn, error) {
	if ns != "" {
		return nil, ErrUnsupported
	}
	d := net.Dialer{Timeout: timeout}
	return d.DialContext(ctx, "tcp", addr)
}
