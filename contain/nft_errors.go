package contain

import "errors"

// Sentinel errors of the nftables targets. They live in a file without a
// build constraint so callers can test for them on every platform.
var (
	// ErrNoPrivilege means the kernel refused a netlink request for want of
	// CAP_NET_ADMIN in the target's network namespace.
	ErrNoPrivilege = errors.New("nftables needs CAP_NET_ADMIN (run as root)")
	// ErrRejected means the kernel refused the batch: nothing was changed and
	// the previous table, if any, is still in place.
	ErrRejected = errors.New("kernel rejected the batch; the previous table is unchanged")
	// ErrDrift means the owned table holds something firebreak never writes
	// (a foreign rule, set flag, object or element), so it cannot be read
	// back as a Ruleset.
	ErrDrift = errors.New("owned table holds content firebreak does not write")
	// ErrBadRuleset means a ruleset cannot be written as given (a prefix
	// with host bits set, a timeout on a set without flag timeout, a port
	// set matched without a protocol, ...). Nothing was sent.
	ErrBadRuleset = errors.New("ruleset cannot be written")
)
