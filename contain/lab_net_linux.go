//go:build linux

package contain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/firebreak/firebreak/graph"
)

// LabUp plans a lab for m (see PlanLab), builds its network — the lab
// namespace with the bridge and the prober's address, one namespace per
// endpoint joined to the bridge by a veth pair — and saves the state and
// the lab model under opt.Dir. It starts no responders (see StartLab and
// LabServe). On failure it removes whatever it built.
func LabUp(ctx context.Context, m *graph.Model, opt LabOptions) (*LabState, *graph.Model, error) {
	opt = opt.withDefaults()
	st, lm, err := PlanLab(m, opt)
	if err != nil {
		return nil, nil, err
	}
	if _, err := os.Stat(LabStatePath(opt.Dir, st.Name)); err == nil {
		return nil, nil, fmt.Errorf("lab %q: %w (state file %s); run lab down first", st.Name, ErrLabExists, LabStatePath(opt.Dir, st.Name))
	}
	if left := leftoverNetNS(st.Name); len(left) > 0 {
		return nil, nil, fmt.Errorf("lab %q: %w (namespaces %v left over); run lab down first", st.Name, ErrLabExists, left)
	}
	if err := buildLab(ctx, st); err != nil {
		return nil, nil, errors.Join(err, removeLabNetNS(st.Name, st))
	}
	if err := SaveLab(opt.Dir, st, lm); err != nil {
		return nil, nil, errors.Join(err, removeLabNetNS(st.Name, st))
	}
	return st, lm, nil
}

func buildLab(ctx context.Context, st *LabState) error {
	if err := CreateNetNS(st.LabNetNS); err != nil {
		return fmt.Errorf("lab %s: %w", st.Name, err)
	}
	_, lab, closeLab, err := netlinkIn(st.LabNetNS)
	if err != nil {
		return err
	}
	defer closeLab()
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: labBridge}}
	if err := lab.LinkAdd(br); err != nil {
		return fmt.Errorf("lab %s: bridge: %w", st.LabNetNS, err)
	}
	if err := lab.LinkSetUp(br); err != nil {
		return fmt.Errorf("lab %s: bridge up: %w", st.LabNetNS, err)
	}
	for _, id := range st.Endpoints() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := buildEndpoint(lab, br.Attrs().Index, id, st.Nodes[id]); err != nil {
			return fmt.Errorf("lab %s: node %s: %w", st.Name, id, err)
		}
	}
	// The prober's address, with an on-link default route like every
	// endpoint's: one flat L2 whatever the addressing plan.
	if err := addrAndRoute(lab, br, []netip.Addr{st.Prober}); err != nil {
		return fmt.Errorf("lab %s: prober address: %w", st.LabNetNS, err)
	}
	return nil
}

// buildEndpoint creates the endpoint's namespace and its veth pair: the
// bridge port in the lab namespace, eth0 in the endpoint's.
func buildEndpoint(lab *netlink.Handle, bridge int, id string, n LabNode) error {
	if err := CreateNetNS(n.NetNS); err != nil {
		return err
	}
	ns, h, closeNS, err := netlinkIn(n.NetNS)
	if err != nil {
		return err
	}
	defer closeNS()
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: n.Link, MasterIndex: bridge},
		PeerName:      labNodeLink,
		PeerNamespace: netlink.NsFd(ns),
	}
	if err := lab.LinkAdd(veth); err != nil {
		return fmt.Errorf("veth %s: %w", n.Link, err)
	}
	port, err := lab.LinkByName(n.Link)
	if err == nil {
		err = lab.LinkSetUp(port)
	}
	if err != nil {
		return fmt.Errorf("veth %s up: %w", n.Link, err)
	}
	eth, err := h.LinkByName(labNodeLink)
	if err == nil {
		err = h.LinkSetUp(eth)
	}
	if err != nil {
		return fmt.Errorf("netns %s: %s up: %w", n.NetNS, labNodeLink, err)
	}
	if err := addrAndRoute(h, eth, n.Addresses); err != nil {
		return fmt.Errorf("netns %s: %w", n.NetNS, err)
	}
	return nil
}

// addrAndRoute gives link the addresses as /32 and an on-link default
// route through it.
func addrAndRoute(h *netlink.Handle, link netlink.Link, addrs []netip.Addr) error {
	for _, a := range addrs {
		ipn := &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(32, 32)}
		if err := h.AddrAdd(link, &netlink.Addr{IPNet: ipn}); err != nil {
			return fmt.Errorf("address %s: %w", a, err)
		}
	}
	return labDefaultRoute(h, link)
}

func labDefaultRoute(h *netlink.Handle, link netlink.Link) error {
	r := &netlink.Route{
		LinkIndex: link.Attrs().Index,
		Scope:     netlink.SCOPE_LINK,
		Dst:       &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)},
	}
	if err := h.RouteReplace(r); err != nil {
		return fmt.Errorf("default route: %w", err)
	}
	return nil
}

// LabSetLink sets an endpoint's eth0 up or down inside its namespace: the
// way tests fail a host for real. Bringing it up restores the default
// route the kernel dropped with the link.
func LabSetLink(st *LabState, id string, up bool) error {
	n, ok := st.Nodes[id]
	if !ok || n.Endpoint != id {
		return fmt.Errorf("lab %s: %q is not an endpoint of the lab", st.Name, id)
	}
	_, h, closeNS, err := netlinkIn(n.NetNS)
	if err != nil {
		return err
	}
	defer closeNS()
	eth, err := h.LinkByName(labNodeLink)
	if err != nil {
		return fmt.Errorf("netns %s: %w", n.NetNS, err)
	}
	if !up {
		return h.LinkSetDown(eth)
	}
	if err := h.LinkSetUp(eth); err != nil {
		return fmt.Errorf("netns %s: %w", n.NetNS, err)
	}
	return labDefaultRoute(h, eth)
}

// LabDown tears lab name down: it stops the daemonised responders (the pid
// in the state file, if that process is still `lab serve` of this lab),
// deletes every namespace of the lab — those the state names and any left
// over from a crashed run, by name — and removes the state file. Taking
// down a lab that is not there is not an error.
func LabDown(ctx context.Context, name, dir string) error {
	if err := CheckLabName(name); err != nil {
		return err
	}
	if dir == "" {
		dir = DefaultLabDir
	}
	st, _, err := LoadLab(dir, name)
	if err != nil && !errors.Is(err, ErrNoLab) {
		// A damaged state file must not keep the namespaces alive.
		st = nil
	}
	var errs []error
	if st != nil && st.ServerPID > 0 {
		errs = append(errs, stopLabServer(ctx, name, st.ServerPID))
	}
	errs = append(errs, removeLabNetNS(name, st))
	if err := os.Remove(LabStatePath(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("lab %s: %w", name, err))
	}
	return errors.Join(errs...)
}

// removeLabNetNS deletes the namespaces st names and every leftover
// namespace of lab name.
func removeLabNetNS(name string, st *LabState) error {
	seen := map[string]bool{}
	var errs []error
	del := func(ns string) {
		if seen[ns] {
			return
		}
		seen[ns] = true
		errs = append(errs, DeleteNetNS(ns))
	}
	if st != nil {
		for _, ns := range st.NetNSes() {
			del(ns)
		}
	}
	for _, ns := range leftoverNetNS(name) {
		del(ns)
	}
	return errors.Join(errs...)
}

// leftoverNetNS lists the named namespaces that belong to lab name.
func leftoverNetNS(name string) []string {
	entries, err := os.ReadDir(NetNSDir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if isLabNetNS(name, e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}

// LabNetNSLeft lists namespaces of lab name that still exist (for tests
// and `lab down` to confirm a clean slate).
func LabNetNSLeft(name string) []string { return leftoverNetNS(name) }

// stopLabServer sends SIGTERM to pid if it is this lab's `lab serve`, and
// waits for it to go (SIGKILL after a grace period).
func stopLabServer(ctx context.Context, name string, pid int) error {
	if !isLabServer(pid, name) {
		return nil // gone, or the pid was reused by something else
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return fmt.Errorf("lab %s: stop responders (pid %d): %w", name, pid, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if !isLabServer(pid, name) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("lab %s: kill responders (pid %d): %w", name, pid, err)
	}
	return nil
}

// isLabServer reports whether pid is alive and runs `lab serve` for lab
// name (its command line holds "lab", "serve" and the name).
func isLabServer(pid int, name string) bool {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil || len(data) == 0 {
		return false
	}
	if stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat")); err == nil {
		// A zombie has exited already.
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return false
		}
	}
	var lab, serve, named bool
	for _, arg := range bytes.Split(bytes.TrimRight(data, "\x00"), []byte{0}) {
		switch string(arg) {
		case "lab":
			lab = true
		case "serve":
			serve = serve || lab
		case name, "--name=" + name:
			named = true
		}
	}
	return lab && serve && named
}

// netlinkIn opens a named namespace and a netlink handle inside it; the
// returned function closes both.
func netlinkIn(name string) (netns.NsHandle, *netlink.Handle, func(), error) {
	ns, err := OpenNetNS(name)
	if err != nil {
		return ns, nil, nil, err
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return ns, nil, nil, fmt.Errorf("netns %s: netlink: %w", name, err)
	}
	return ns, h, func() { h.Close(); ns.Close() }, nil
}
