//go:build linux

package contain

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/mdlayher/netlink" // the nfnetlink socket; netns_linux.go's netlink is vishvananda's rtnetlink
	"golang.org/x/sys/unix"
)

// nftTarget is the owned table of one network namespace, written and read
// over netlink (google/nftables), never by running nft.
type nftTarget struct {
	ns string // a named network namespace; "" is the current one
}

var _ Target = (*nftTarget)(nil)

// elementsPerMessage bounds one NEWSETELEM message, whose element list is a
// single netlink attribute (at most 64 KiB). All messages still go in the
// one batch.
const elementsPerMessage = 512

// newNftTarget returns the target for the current network namespace (ns
// "") or a named one, which must exist. The namespace is opened anew for
// every call, so a target holds no file descriptor.
func newNftTarget(ns string) (Target, error) {
	t := &nftTarget{ns: ns}
	if ns != "" {
		h, err := OpenNetNS(ns)
		if err != nil {
			return nil, err
		}
		_ = h.Close()
	}
	return t, nil
}

func (t *nftTarget) String() string {
	if t.ns == "" {
		return "local"
	}
	return "netns:" + t.ns
}

// withNetNS calls fn with a descriptor of the target's namespace; 0 means
// the current one, as nftables.WithNetNSFd and netlink.Config read it.
func (t *nftTarget) withNetNS(fn func(fd int) error) error {
	if t.ns == "" {
		return fn(0)
	}
	h, err := OpenNetNS(t.ns)
	if err != nil {
		return err
	}
	defer h.Close()
	return fn(int(h))
}

// Apply replaces the owned table with rs in one netlink batch and one Flush:
//
//	add table inet firebreak      (a no-op if it exists)
//	delete table inet firebreak   (the old table, or the one just added)
//	add table inet firebreak
//	add set …; add element …      (for each set)
//	add chain … { type filter hook … priority -10; policy accept; }
//	add rule …                    (for each rule, in order)
//
// nftables commits a batch as one transaction, so if the kernel rejects any
// message the previous table stays exactly as it was (ErrRejected). An empty
// ruleset sends only the first two messages: removing a table that does not
// exist is not an error. Applying the same ruleset again is idempotent, and
// tables firebreak does not own are never named.
func (t *nftTarget) Apply(ctx context.Context, rs Ruleset) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: apply: %w", t, err)
	}
	if err := validate(rs); err != nil {
		return fmt.Errorf("%s: apply: %w", t, err)
	}
	err := t.withNetNS(func(fd int) error {
		c, err := nftables.New(nftables.WithNetNSFd(fd), nftables.WithSockOptions(deadline(ctx), sendBuffer(batchSize(rs))))
		if err != nil {
			return err
		}
		if err := batch(c, rs); err != nil {
			return err
		}
		return c.Flush()
	})
	if err != nil {
		return fmt.Errorf("%s: apply: %w", t, classify(err))
	}
	return nil
}

// batch queues the messages of Apply on c; nothing is sent before Flush.
func batch(c *nftables.Conn, rs Ruleset) error {
	table := &nftables.Table{Name: TableName, Family: nftables.TableFamilyINet}
	c.AddTable(table)
	c.DelTable(table)
	if rs.Empty() {
		return nil
	}
	c.AddTable(table)
	// Rules find sets added in the same batch by name or by ID. We number
	// sets ourselves: AddSet's own counter is a package global that
	// concurrent Conns increment without a lock.
	ids := make(map[string]uint32, len(rs.Sets))
	for i, s := range rs.Sets {
		kt, err := keyType(s.Type)
		if err != nil {
			return err
		}
		set := &nftables.Set{
			Table: table, ID: uint32(i + 1), Name: s.Name, KeyType: kt,
			Interval: s.Interval, HasTimeout: s.Timeout,
			KeyByteOrder: binaryutil.BigEndian, // user data keybyteorder=big, as nft writes for addresses and ports
		}
		if err := c.AddSet(set, nil); err != nil {
			return fmt.Errorf("set %q: %w", s.Name, err)
		}
		ids[s.Name] = set.ID
		for els := setElements(s); len(els) > 0; {
			n := min(len(els), elementsPerMessage)
			if err := c.SetAddElements(set, els[:n]); err != nil {
				return fmt.Errorf("set %q: %w", s.Name, err)
			}
			els = els[n:]
		}
	}
	prio := nftables.ChainPriority(ChainPriority)
	policy := nftables.ChainPolicyAccept
	for _, ch := range rs.Chains {
		chain := c.AddChain(&nftables.Chain{
			Name: ch.Name, Table: table, Type: nftables.ChainTypeFilter,
			Hooknum: nftHook(ch.Hook), Priority: &prio, Policy: &policy,
		})
		for _, r := range ch.Rules {
			c.AddRule(&nftables.Rule{Table: table, Chain: chain, Exprs: ruleExprs(ch.Hook, r, ids), UserData: ruleUserData(r.Comment)})
		}
	}
	return nil
}

func nftHook(h Hook) *nftables.ChainHook {
	switch h {
	case HookOutput:
		return nftables.ChainHookOutput
	case HookForward:
		return nftables.ChainHookForward
	}
	return nftables.ChainHookInput
}

// Live reads the owned table back (see nft_read_linux.go). Element
// timeouts are the time left; ok is false when there is no table.
func (t *nftTarget) Live(ctx context.Context) (Ruleset, bool, error) {
	if err := ctx.Err(); err != nil {
		return Ruleset{}, false, fmt.Errorf("%s: read: %w", t, err)
	}
	var rs Ruleset
	var ok bool
	err := t.withNetNS(func(fd int) error {
		conn, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: fd})
		if err != nil {
			return err
		}
		defer conn.Close()
		if err := deadline(ctx)(conn); err != nil {
			return err
		}
		rs, ok, err = readOwned(conn)
		return err
	})
	if err != nil {
		return Ruleset{}, false, fmt.Errorf("%s: read table inet %s: %w", t, TableName, classify(err))
	}
	return rs, ok, nil
}

// deadline makes a netlink socket honour the context's deadline. A
// cancellation without a deadline cannot interrupt a call in flight.
func deadline(ctx context.Context) nftables.SockOption {
	return func(c *netlink.Conn) error {
		if d, ok := ctx.Deadline(); ok {
			return c.SetDeadline(d)
		}
		return nil
	}
}

// batchSize overestimates the bytes of Apply's batch: an IPv6 element with
// a timeout takes 48, a rule with every match about 400.
func batchSize(rs Ruleset) int {
	n := 4096
	for _, s := range rs.Sets {
		n += 256 + 2*64*len(s.Elements)
	}
	for _, c := range rs.Chains {
		n += 256 + 512*len(c.Rules)
	}
	return n
}

// sendBuffer lets the socket send a batch of n bytes in its one write: the
// default buffer (about 200 KiB) holds some 3,000 IPv6 elements. Like nft,
// it forces the size when it may (CAP_NET_ADMIN) and asks otherwise.
func sendBuffer(n int) nftables.SockOption {
	return func(c *netlink.Conn) error {
		const dflt = 128 << 10
		if n <= dflt {
			return nil
		}
		rc, err := c.SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		err = rc.Control(func(fd uintptr) {
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, n); serr != nil {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, n)
			}
		})
		return errors.Join(err, serr)
	}
}

// classify is the one place kernel and socket errors are translated. The
// original error stays in the chain, so errors.Is(err, unix.ENOENT) and
// errors.As(err, **netlink.OpError) keep working.
func classify(err error) error {
	var op *netlink.OpError
	switch {
	case errors.Is(err, ErrBadRuleset), errors.Is(err, ErrDrift), errors.Is(err, ErrNoNetNS):
		return err
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return fmt.Errorf("%w: %w", ErrNoPrivilege, err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("%w: the kernel did not answer in time; a batch may or may not have been applied: %w",
			context.DeadlineExceeded, err)
	case errors.Is(err, unix.ENOBUFS):
		// Flush stops reading acknowledgements: the outcome is unknown.
		return fmt.Errorf("netlink receive buffer overflowed; the batch may or may not have been applied: %w", err)
	case errors.As(err, &op) && op.Op == "receive":
		for _, h := range rejectHints {
			if errors.Is(err, h.errno) {
				return fmt.Errorf("%w (%s): %w", ErrRejected, h.hint, err)
			}
		}
		return fmt.Errorf("%w: %w", ErrRejected, err)
	}
	return err
}

// rejectHints say what usually makes the kernel refuse our messages.
var rejectHints = []struct {
	errno unix.Errno
	hint  string
}{
	{unix.ENOENT, "a rule names a set that does not exist"},
	{unix.EEXIST, "overlapping or duplicate elements"},
	{unix.EOPNOTSUPP, "table inet " + TableName + " is owned by another process, or the kernel lacks a feature"},
	{unix.EINVAL, "a message the kernel does not understand"},
	{unix.ERANGE, "a name or comment too long"},
	{unix.EBUSY, "table inet " + TableName + " is in use"},
}
