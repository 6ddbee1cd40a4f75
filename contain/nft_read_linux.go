//go:build linux

package contain

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink" // not vishvananda/netlink (netns_linux.go): this is the nfnetlink socket
	"golang.org/x/sys/unix"
)

// Reading the owned table back. google/nftables v0.3.0's getters silently
// skip expressions of types they do not know (rt, socket, xfrm, dup, …),
// ignore most set and element attributes, and format kernel errors with %v,
// so through them drift could go unseen and errors could not be classified.
// This reader dumps the table through one nfnetlink socket, accepts only
// what the encoder writes (decoded in nft_decode_linux.go), and calls
// everything else drift (ErrDrift).
// Attributes newer kernels add for information (set backend, element count)
// are ignored.

// Netlink attribute types and values golang.org/x/sys/unix does not name.
const (
	nftaTableUserdata    = 0x06 // NFTA_TABLE_USERDATA
	nftaSetExpr          = 0x11 // NFTA_SET_EXPR
	nftaSetExpressions   = 0x12 // NFTA_SET_EXPRESSIONS
	nftaSetElemKeyEnd    = 0x0a // NFTA_SET_ELEM_KEY_END
	nftaSetElemExprs     = 0x0b // NFTA_SET_ELEM_EXPRESSIONS
	nftaChainFlags       = 0x0a // NFTA_CHAIN_FLAGS
	nftaChainUserdata    = 0x0c // NFTA_CHAIN_USERDATA
	nftaHookDevs         = 0x04 // NFTA_HOOK_DEVS
	nftChainBase         = 0x1  // NFT_CHAIN_BASE
	nfAccept             = 1    // NF_ACCEPT, as a chain policy
	udataSetKeyByteorder = 0    // NFTNL_UDATA_SET_KEYBYTEORDER
	udataSetElemFlags    = 1    // NFTNL_UDATA_SET_ELEM_FLAGS (nft's interval-open marker)
)

// readAttempts is how many snapshots Live tries while the ruleset changes
// under it.
const readAttempts = 3

// nftReader issues nftables get/dump requests on one netlink socket.
type nftReader struct{ conn *netlink.Conn }

func (r nftReader) request(msg uint16, dump bool, attrs ...netlink.Attribute) ([]netlink.Message, error) {
	data := []byte{unix.NFPROTO_INET, unix.NFNETLINK_V0, 0, 0} // nfgenmsg
	if len(attrs) > 0 {
		b, err := netlink.MarshalAttributes(attrs)
		if err != nil {
			return nil, err
		}
		data = append(data, b...)
	}
	flags := netlink.Request
	if dump {
		flags |= netlink.Dump
	}
	return r.conn.Execute(netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | msg), Flags: flags},
		Data:   data,
	})
}

// generation returns the ruleset generation, which every committed batch
// increments.
func (r nftReader) generation() (uint32, error) {
	msgs, err := r.request(unix.NFT_MSG_GETGEN, false)
	if err != nil {
		return 0, err
	}
	var gen uint32
	var found bool
	for _, m := range msgs {
		err := eachAttr(m.Data, func(ad *netlink.AttributeDecoder) error {
			if ad.Type() == unix.NFTA_GEN_ID {
				gen, found = ad.Uint32(), true
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	if !found {
		return 0, errors.New("no generation id in the kernel's reply")
	}
	return gen, nil
}

// eachAttr walks the attributes of a netlink message body (after the
// nfgenmsg header) or of a nested attribute (prefix 0).
func eachAttr(b []byte, fn func(ad *netlink.AttributeDecoder) error) error {
	return walkAttrs(b[min(4, len(b)):], fn)
}

func walkAttrs(b []byte, fn func(ad *netlink.AttributeDecoder) error) error {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return err
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		if err := fn(ad); err != nil {
			return err
		}
	}
	return ad.Err()
}

// readOwned reads the owned table as one consistent snapshot: the reads are
// repeated while the ruleset generation changes under them.
func readOwned(conn *netlink.Conn) (Ruleset, bool, error) {
	r := nftReader{conn}
	for attempt := 1; ; attempt++ {
		before, err := r.generation()
		if err != nil {
			return Ruleset{}, false, err
		}
		rs, ok, err := r.snapshot()
		after, gerr := r.generation()
		if gerr != nil {
			return Ruleset{}, false, gerr
		}
		if before == after {
			return rs, ok, err
		}
		if attempt == readAttempts {
			return Ruleset{}, false, fmt.Errorf("the ruleset kept changing while it was read (%d attempts)", attempt)
		}
	}
}

func (r nftReader) snapshot() (Ruleset, bool, error) {
	var rs Ruleset
	msgs, err := r.request(unix.NFT_MSG_GETTABLE, false,
		netlink.Attribute{Type: unix.NFTA_TABLE_NAME, Data: []byte(TableName + "\x00")})
	if errors.Is(err, unix.ENOENT) {
		return rs, false, nil
	}
	if err != nil {
		return rs, false, err
	}
	use, err := decodeTable(msgs)
	if err != nil {
		return rs, false, err
	}

	tableAttr := netlink.Attribute{Type: unix.NFTA_SET_TABLE, Data: []byte(TableName + "\x00")}
	if msgs, err = r.request(unix.NFT_MSG_GETSET, true, tableAttr); err != nil {
		return rs, false, err
	}
	for _, m := range msgs {
		s, err := decodeSet(m)
		if err != nil {
			return rs, false, err
		}
		if s.Name == "" { // another table's: the kernel filters them out, but be sure
			continue
		}
		els, err := r.elements(s)
		if err != nil {
			return rs, false, fmt.Errorf("set %q: %w", s.Name, err)
		}
		s.Elements = els
		rs.Sets = append(rs.Sets, s)
	}

	if msgs, err = r.request(unix.NFT_MSG_GETCHAIN, true); err != nil {
		return rs, false, err
	}
	for _, m := range msgs {
		c, ok, err := decodeChain(m)
		if err != nil {
			return rs, false, err
		}
		if ok {
			rs.Chains = append(rs.Chains, c)
		}
	}
	// Every set, chain, stateful object and flowtable holds a reference on
	// its table: anything beyond our sets and chains is content we cannot
	// read back.
	if int(use) != len(rs.Sets)+len(rs.Chains) {
		return rs, false, drift("%d objects that are neither sets nor chains (named counters, quotas, flowtables, …)",
			int(use)-len(rs.Sets)-len(rs.Chains))
	}

	if msgs, err = r.request(unix.NFT_MSG_GETRULE, true,
		netlink.Attribute{Type: unix.NFTA_RULE_TABLE, Data: []byte(TableName + "\x00")}); err != nil {
		return rs, false, err
	}
	for _, m := range msgs {
		chain, rule, err := decodeRuleMsg(m, rs.Chains)
		if err != nil {
			return rs, false, err
		}
		rs.Chains[chain].Rules = append(rs.Chains[chain].Rules, rule)
	}
	sort.SliceStable(rs.Chains, func(i, j int) bool { return rs.Chains[i].Hook < rs.Chains[j].Hook })
	return rs, true, nil
}

func decodeTable(msgs []netlink.Message) (use uint32, err error) {
	if len(msgs) != 1 {
		return 0, fmt.Errorf("table %s: %d replies, want 1", TableName, len(msgs))
	}
	return use, eachAttr(msgs[0].Data, func(ad *netlink.AttributeDecoder) error {
		switch ad.Type() {
		case unix.NFTA_TABLE_USE:
			use = ad.Uint32()
		case unix.NFTA_TABLE_FLAGS:
			if f := ad.Uint32(); f != 0 {
				return drift("table flags %#x (dormant or owned by a process)", f)
			}
		case nftaTableUserdata:
			return drift("table has user data (a comment)")
		}
		return nil
	})
}

// decodeSet reads one set's declaration (its elements are read separately),
// or returns a Set without a name for another table's set.
func decodeSet(m netlink.Message) (Set, error) {
	var s Set
	var table string
	var keyType, keyLen uint32
	err := eachAttr(m.Data, func(ad *netlink.AttributeDecoder) error {
		switch ad.Type() {
		case unix.NFTA_SET_TABLE:
			table = ad.String()
		case unix.NFTA_SET_NAME:
			s.Name = ad.String()
		case unix.NFTA_SET_FLAGS:
			f := ad.Uint32()
			if f&^(unix.NFT_SET_INTERVAL|unix.NFT_SET_TIMEOUT) != 0 {
				return drift("set flags %#x", f)
			}
			s.Interval, s.Timeout = f&unix.NFT_SET_INTERVAL != 0, f&unix.NFT_SET_TIMEOUT != 0
		case unix.NFTA_SET_KEY_TYPE:
			keyType = ad.Uint32()
		case unix.NFTA_SET_KEY_LEN:
			keyLen = ad.Uint32()
		case unix.NFTA_SET_TIMEOUT:
			if ad.Uint64() != 0 {
				return drift("a default element timeout")
			}
		case unix.NFTA_SET_DATA_TYPE, unix.NFTA_SET_DATA_LEN, unix.NFTA_SET_OBJ_TYPE:
			return drift("a map")
		case unix.NFTA_SET_POLICY, unix.NFTA_SET_GC_INTERVAL, nftaSetExpr, nftaSetExpressions:
			return drift("a policy, gc-interval or per-element statement")
		case unix.NFTA_SET_DESC:
			var err error
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				for nad.Next() {
					if nad.Type() == unix.NFTA_SET_DESC_SIZE && nad.Uint32() != 0 {
						err = drift("a size")
					} else if nad.Type() != unix.NFTA_SET_DESC_SIZE {
						err = drift("a concatenation")
					}
				}
				return nil
			})
			return err
		case unix.NFTA_SET_USERDATA:
			return checkTLVs(ad.Bytes(), udataSetKeyByteorder, "set user data (typeof, auto-merge or comment)")
		}
		return nil
	})
	if table != TableName {
		return Set{}, nil
	}
	if err != nil {
		return s, fmt.Errorf("set %q: %w", s.Name, err)
	}
	switch {
	case keyType == nftTypeMagic(SetIPv4) && keyLen == 4:
		s.Type = SetIPv4
	case keyType == nftTypeMagic(SetIPv6) && keyLen == 16:
		s.Type = SetIPv6
	case keyType == nftTypeMagic(SetPort) && keyLen == 2:
		s.Type = SetPort
	default:
		return s, fmt.Errorf("set %q: %w", s.Name, drift("key type %d of %d bytes", keyType, keyLen))
	}
	return s, nil
}

func nftTypeMagic(t SetType) uint32 {
	dt, _ := keyType(t)
	return dt.GetNFTMagic()
}

// checkTLVs accepts libnftnl user data whose TLVs all have type allowed.
func checkTLVs(b []byte, allowed byte, what string) error {
	for len(b) > 0 {
		if len(b) < 2 || len(b) < 2+int(b[1]) || b[0] != allowed {
			return drift("%s", what)
		}
		b = b[2+int(b[1]):]
	}
	return nil
}

func (r nftReader) elements(s Set) ([]Element, error) {
	msgs, err := r.request(unix.NFT_MSG_GETSETELEM, true,
		netlink.Attribute{Type: unix.NFTA_SET_ELEM_LIST_TABLE, Data: []byte(TableName + "\x00")},
		netlink.Attribute{Type: unix.NFTA_SET_ELEM_LIST_SET, Data: []byte(s.Name + "\x00")})
	if err != nil {
		return nil, err
	}
	var raws []rawElement
	for _, m := range msgs {
		err := eachAttr(m.Data, func(ad *netlink.AttributeDecoder) error {
			if ad.Type() != unix.NFTA_SET_ELEM_LIST_ELEMENTS {
				return nil
			}
			return walkAttrs(ad.Bytes(), func(ad *netlink.AttributeDecoder) error {
				e, err := decodeElement(ad.Bytes())
				raws = append(raws, e)
				return err
			})
		})
		if err != nil {
			return nil, err
		}
	}
	return elementsFromRaw(s, raws)
}

func decodeElement(b []byte) (rawElement, error) {
	var e rawElement
	var timeout, expires time.Duration
	err := walkAttrs(b, func(ad *netlink.AttributeDecoder) error {
		switch ad.Type() {
		case unix.NFTA_SET_ELEM_KEY:
			return walkAttrs(ad.Bytes(), func(ad *netlink.AttributeDecoder) error {
				if ad.Type() == unix.NFTA_DATA_VALUE {
					e.key = ad.Bytes()
				}
				return nil
			})
		case unix.NFTA_SET_ELEM_FLAGS:
			f := ad.Uint32()
			if f&^unix.NFT_SET_ELEM_INTERVAL_END != 0 {
				return drift("element flags %#x (a catch-all element)", f)
			}
			e.end = f&unix.NFT_SET_ELEM_INTERVAL_END != 0
		case unix.NFTA_SET_ELEM_TIMEOUT:
			timeout = time.Duration(ad.Uint64()) * time.Millisecond
		case unix.NFTA_SET_ELEM_EXPIRATION:
			expires = time.Duration(ad.Uint64()) * time.Millisecond
		case unix.NFTA_SET_ELEM_USERDATA:
			return checkTLVs(ad.Bytes(), udataSetElemFlags, "element user data (a comment)")
		case unix.NFTA_SET_ELEM_DATA, unix.NFTA_SET_ELEM_OBJREF, nftaSetElemKeyEnd:
			return drift("an element with data, an object or a concatenated range")
		case unix.NFTA_SET_ELEM_EXPR, nftaSetElemExprs:
			return drift("an element with a statement (counter, quota, …)")
		}
		return nil
	})
	if timeout > 0 {
		// The kernel lists what is left; an element about to go still has a
		// timeout, which Element can only say with a positive value.
		e.timeout = max(expires, time.Millisecond)
	}
	return e, err
}

// decodeChain reads one chain; ok is false for another table's chain.
func decodeChain(m netlink.Message) (c Chain, ok bool, err error) {
	var table, typ string
	var hooknum uint32
	var prio int32
	var policy uint32 = nfAccept
	var base bool
	err = eachAttr(m.Data, func(ad *netlink.AttributeDecoder) error {
		switch ad.Type() {
		case unix.NFTA_CHAIN_TABLE:
			table = ad.String()
		case unix.NFTA_CHAIN_NAME:
			c.Name = ad.String()
		case unix.NFTA_CHAIN_TYPE:
			typ = ad.String()
		case unix.NFTA_CHAIN_POLICY:
			policy = ad.Uint32()
		case unix.NFTA_CHAIN_HOOK:
			base = true
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				for nad.Next() {
					switch nad.Type() {
					case unix.NFTA_HOOK_HOOKNUM:
						hooknum = nad.Uint32()
					case unix.NFTA_HOOK_PRIORITY:
						prio = nad.Int32()
					case unix.NFTA_HOOK_DEV, nftaHookDevs:
						return drift("a device")
					}
				}
				return nil
			})
		case nftaChainFlags:
			if f := ad.Uint32(); f&^nftChainBase != 0 {
				return drift("chain flags %#x", f)
			}
		case unix.NFTA_CHAIN_COUNTERS:
			return drift("chain counters")
		case nftaChainUserdata:
			return drift("a chain comment")
		}
		return nil
	})
	if table != TableName {
		return Chain{}, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("chain %q: %w", c.Name, err)
	}
	hooks := map[uint32]Hook{unix.NF_INET_LOCAL_IN: HookInput, unix.NF_INET_LOCAL_OUT: HookOutput, unix.NF_INET_FORWARD: HookForward}
	h, known := hooks[hooknum]
	switch {
	case !base:
		return c, false, fmt.Errorf("chain %q: %w", c.Name, drift("a regular chain"))
	case !known || typ != "filter" || prio != ChainPriority || policy != nfAccept:
		return c, false, fmt.Errorf("chain %q: %w", c.Name, drift("type %s hook %s priority %d policy %s, want type filter hook input, output or forward priority %d policy accept",
			typ, inetHookName(hooknum), prio, map[uint32]string{0: "drop", nfAccept: "accept"}[policy], ChainPriority))
	}
	c.Hook = h
	return c, true, nil
}

func inetHookName(n uint32) string {
	names := []string{"prerouting", "input", "forward", "output", "postrouting", "ingress"}
	if int(n) < len(names) {
		return names[n]
	}
	return fmt.Sprint(n)
}

// decodeRuleMsg reads one rule and returns the index of its chain.
func decodeRuleMsg(m netlink.Message, chains []Chain) (int, Rule, error) {
	var chain string
	var udata []byte
	var exprs [][]byte
	err := eachAttr(m.Data, func(ad *netlink.AttributeDecoder) error {
		switch ad.Type() {
		case unix.NFTA_RULE_CHAIN:
			chain = ad.String()
		case unix.NFTA_RULE_USERDATA:
			udata = ad.Bytes()
		case unix.NFTA_RULE_COMPAT:
			return drift("an x_tables compatibility rule")
		case unix.NFTA_RULE_EXPRESSIONS:
			return walkAttrs(ad.Bytes(), func(ad *netlink.AttributeDecoder) error {
				exprs = append(exprs, ad.Bytes())
				return nil
			})
		}
		return nil
	})
	i := slices.IndexFunc(chains, func(c Chain) bool { return c.Name == chain })
	if err == nil && i < 0 {
		err = fmt.Errorf("rule of unknown chain %q", chain)
	}
	if err != nil {
		return 0, Rule{}, err
	}
	where := fmt.Sprintf("chain %q rule %d", chain, len(chains[i].Rules)+1)
	ex := make([]expr.Any, len(exprs))
	for j, b := range exprs {
		if ex[j], err = decodeExpr(b); err != nil {
			return 0, Rule{}, fmt.Errorf("%s: %w", where, err)
		}
	}
	r, err := decodeRule(chains[i].Hook, ex, udata)
	if err != nil {
		return 0, Rule{}, fmt.Errorf("%s: %w", where, err)
	}
	return i, r, nil
}
