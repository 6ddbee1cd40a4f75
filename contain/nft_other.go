//go:build !linux

package contain

// newNftTarget reports that nftables needs Linux: an explicit error, never a
// silent no-op.
func newNftTarget(ns string) (Target, error) { return nil, ErrUnsupported }
