//go:build linux

package contain

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Network-namespace helpers for the netns target, the lab and the
// privileged tests. A socket belongs to the namespace of the thread that
// created it, so listening or dialling "inside" a namespace means creating
// the socket on a locked thread switched into it; the socket then works from
// any goroutine.

// NetNSDir is where named network namespaces are bind-mounted (iproute2's
// convention, so `ip netns` sees them too).
const NetNSDir = "/var/run/netns"

// ErrNoNetNS means a named network namespace does not exist.
var ErrNoNetNS = errors.New("no such network namespace")

// NetNSPath returns the bind-mount path of a named namespace.
func NetNSPath(name string) string { return filepath.Join(NetNSDir, name) }

// OpenNetNS opens a named namespace; the caller closes the handle.
func OpenNetNS(name string) (netns.NsHandle, error) {
	h, err := netns.GetFromName(name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return netns.None(), fmt.Errorf("netns %q: %w", name, ErrNoNetNS)
		}
		return netns.None(), fmt.Errorf("netns %q: %w", name, err)
	}
	return h, nil
}

// CreateNetNS creates a named namespace with its loopback up. It fails if
// the name is taken.
func CreateNetNS(name string) error {
	if _, err := os.Stat(NetNSPath(name)); err == nil {
		return fmt.Errorf("netns %q: %w", name, os.ErrExist)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return fmt.Errorf("netns: current namespace: %w", err)
	}
	defer orig.Close()
	h, err := netns.NewNamed(name) // switches this thread into it
	if err != nil {
		_ = netns.Set(orig)
		return fmt.Errorf("netns %q: create: %w", name, err)
	}
	defer h.Close()
	lo, err := netlink.LinkByName("lo")
	if err == nil {
		err = netlink.LinkSetUp(lo)
	}
	if serr := netns.Set(orig); serr != nil {
		// The thread is stuck in the new namespace: never hand it back.
		runtime.Goexit()
	}
	if err != nil {
		_ = netns.DeleteNamed(name)
		return fmt.Errorf("netns %q: loopback up: %w", name, err)
	}
	return nil
}

// DeleteNetNS removes a named namespace. Removing one that does not exist
// is not an error, so clean-ups can be repeated.
func DeleteNetNS(name string) error {
	err := netns.DeleteNamed(name)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("netns %q: delete: %w", name, err)
	}
	return nil
}

// InNetNS runs fn on a thread switched into the named namespace ("" means
// the current one), and switches back.
func InNetNS(name string, fn func() error) error {
	if name == "" {
		return fn()
	}
	h, err := OpenNetNS(name)
	if err != nil {
		return err
	}
	defer h.Close()
	return inHandle(h, fn)
}

func inHandle(h netns.NsHandle, fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	if err := netns.Set(h); err != nil {
		return fmt.Errorf("netns: enter: %w", err)
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		runtime.Goexit() // never return a thread stuck in another namespace to the pool
	}
	return ferr
}

// ListenTCP opens a TCP listener inside the named namespace.
func ListenTCP(ns, addr string) (net.Listener, error) {
	var l net.Listener
	err := InNetNS(ns, func() error {
		var err error
		l, err = net.Listen("tcp", addr)
		return err
	})
	return l, err
}

// DialTCP connects from inside the named namespace.
func DialTCP(ctx context.Context, ns, addr string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := InNetNS(ns, func() error {
		d := net.Dialer{Timeout: timeout}
		var err error
		c, err = d.DialContext(ctx, "tcp", addr)
		return err
	})
	return c, err
}
