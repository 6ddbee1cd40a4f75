//go:build linux

package contain

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// White-box tests of the nftables encoding: no kernel, no privileges. The
// system tests in nft_linux_test.go check the same encoding against nft.

func nftPfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// nftElem is an element as nft --debug=netlink shows it: key, [end], timeout.
type nftElem struct {
	key     string
	end     bool
	timeout time.Duration
}

func nftElems(t SetType, es []nftables.SetElement) []nftElem {
	var out []nftElem
	for _, e := range es {
		var k string
		switch t {
		case SetIPv4:
			k = netip.AddrFrom4([4]byte(e.Key)).String()
		case SetIPv6:
			k = netip.AddrFrom16([16]byte(e.Key)).String()
		case SetPort:
			k = fmt.Sprint(int(e.Key[0])<<8 | int(e.Key[1]))
		}
		out = append(out, nftElem{k, e.IntervalEnd, e.Timeout})
	}
	return out
}

// What nft sends for each kind of element (nft --debug=netlink -f).
func TestNftSetElementsLikeNft(t *testing.T) {
	m := time.Minute
	cases := []struct {
		name string
		set  Set
		want []nftElem
	}{
		{"prefix", Set{Type: SetIPv4, Interval: true, Elements: []Element{{Prefix: nftPfx("10.20.99.0/24")}}},
			[]nftElem{{"0.0.0.0", true, 0}, {"10.20.99.0", false, 0}, {"10.20.100.0", true, 0}}},
		{"everything", Set{Type: SetIPv4, Interval: true, Timeout: true, Elements: []Element{{Prefix: nftPfx("0.0.0.0/0"), Timeout: 5 * m}}},
			[]nftElem{{"0.0.0.0", false, 5 * m}}},
		{"everything v6", Set{Type: SetIPv6, Interval: true, Timeout: true, Elements: []Element{{Prefix: nftPfx("::/0"), Timeout: m}}},
			[]nftElem{{"::", false, m}}},
		{"top prefix", Set{Type: SetIPv6, Interval: true, Elements: []Element{{Prefix: nftPfx("ff00::/8")}}},
			[]nftElem{{"::", true, 0}, {"ff00::", false, 0}}},
		{"adjacent, sorted, timeout on starts only", Set{Type: SetIPv4, Interval: true, Timeout: true,
			Elements: []Element{{Prefix: nftPfx("10.0.0.2/32"), Timeout: 2 * m}, {Prefix: nftPfx("10.0.0.1/32"), Timeout: m}}},
			[]nftElem{{"0.0.0.0", true, 0}, {"10.0.0.1", false, m}, {"10.0.0.2", true, 0}, {"10.0.0.2", false, 2 * m}, {"10.0.0.3", true, 0}}},
		{"port range", Set{Type: SetPort, Interval: true, Elements: []Element{{Port: 8000, PortEnd: 8100}}},
			[]nftElem{{"0", true, 0}, {"8000", false, 0}, {"8101", true, 0}}},
		{"ports from zero and to the top", Set{Type: SetPort, Interval: true, Elements: []Element{{Port: 0, PortEnd: 10}, {Port: 60000, PortEnd: 65535}}},
			[]nftElem{{"0", false, 0}, {"11", true, 0}, {"60000", false, 0}}},
		{"single port", Set{Type: SetPort, Interval: true, Elements: []Element{{Port: 22, PortEnd: 22}, {Port: 7443}}},
			[]nftElem{{"0", true, 0}, {"22", false, 0}, {"23", true, 0}, {"7443", false, 0}, {"7444", true, 0}}},
		{"plain set", Set{Type: SetIPv4, Elements: []Element{{Prefix: nftPfx("10.0.0.9/32")}}},
			[]nftElem{{"10.0.0.9", false, 0}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := nftElems(c.set.Type, setElements(c.set))
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("sent %v\nwant %v", got, c.want)
			}
		})
	}
}

// The kernel lists elements in descending order, hides expired ones, and
// keeps the end element of an expired range until it collects it.
func TestNftElementsReadBack(t *testing.T) {
	sets := []Set{
		{Type: SetIPv4, Interval: true, Timeout: true, Elements: []Element{
			{Prefix: nftPfx("10.0.0.1/32"), Timeout: time.Minute}, {Prefix: nftPfx("10.0.0.2/32")}, {Prefix: nftPfx("10.20.99.0/24")}, {Prefix: nftPfx("255.0.0.0/8")}}},
		{Type: SetIPv4, Interval: true, Elements: []Element{{Prefix: nftPfx("0.0.0.0/0")}}},
		{Type: SetIPv6, Interval: true, Elements: []Element{{Prefix: nftPfx("fd00:99::/64")}, {Prefix: nftPfx("fd00::2/128")}}},
		{Type: SetPort, Interval: true, Elements: []Element{{Port: 0, PortEnd: 10}, {Port: 22, PortEnd: 22}, {Port: 60000, PortEnd: 65535}}},
		{Type: SetPort, Elements: []Element{{Port: 53, PortEnd: 53}}},
	}
	for i, s := range sets {
		var raws []rawElement
		for _, e := range setElements(s) {
			raws = append([]rawElement{{key: e.Key, end: e.IntervalEnd, timeout: e.Timeout}}, raws...)
		}
		got, err := elementsFromRaw(s, raws)
		if err != nil {
			t.Fatalf("set %d: %v", i, err)
		}
		want := slices.Clone(s.Elements)
		sortElements(want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("set %d: read %v\nwant %v", i, got, want)
		}
	}

	// 10.0.0.1 (and its end at .2) plus the end of an expired 10.20.99.0/24.
	raws := []rawElement{
		{key: []byte{10, 20, 100, 0}, end: true},
		{key: []byte{10, 0, 0, 2}, end: true},
		{key: []byte{10, 0, 0, 1}, timeout: time.Second},
		{key: []byte{0, 0, 0, 0}, end: true},
	}
	got, err := elementsFromRaw(Set{Type: SetIPv4, Interval: true, Timeout: true}, raws)
	if want := []Element{{Prefix: nftPfx("10.0.0.1/32"), Timeout: time.Second}}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("with an orphan end element: %v, %v; want %v", got, err, want)
	}

	for name, raws := range map[string][]rawElement{
		"range that is no prefix": {{key: []byte{10, 0, 0, 1}}, {key: []byte{10, 0, 0, 4}, end: true}},
		"two starts":              {{key: []byte{10, 0, 0, 1}}, {key: []byte{10, 0, 0, 4}}},
		"short key":               {{key: []byte{10, 0, 0}}},
	} {
		if _, err := elementsFromRaw(Set{Type: SetIPv4, Interval: true}, raws); !errors.Is(err, ErrDrift) {
			t.Errorf("%s: %v, want ErrDrift", name, err)
		}
	}
}

func TestNftRuleExpressionsRoundTrip(t *testing.T) {
	rules := []Rule{
		{Loopback: true, Verdict: Accept, Comment: "firebreak: loopback"},
		{Family: 4, SrcSet: "mgmt_v4", L4: L4TCP, DPort: "mgmt_ports", Verdict: Accept, Comment: "firebreak: management access"},
		{Family: 6, DstSet: "mgmt_v6", L4: L4TCP, SPort: "mgmt_ports", Verdict: Accept},
		{Family: 4, SrcSet: "a", DstSet: "b", L4: L4UDP, SPort: "p", DPort: "q", Verdict: Drop, Comment: "x"},
		{Loopback: true, Family: 6, SrcSet: "a", Verdict: Drop},
		{L4: L4UDP, DPort: "p", Verdict: Drop},
		{Verdict: Drop},
	}
	ids := map[string]uint32{"mgmt_v4": 1, "mgmt_v6": 2, "mgmt_ports": 3, "a": 4, "b": 5, "p": 6, "q": 7}
	for _, h := range []Hook{HookInput, HookOutput, HookForward} {
		for _, r := range rules {
			got, err := decodeRule(h, ruleExprs(h, r, ids), ruleUserData(r.Comment))
			if err != nil || got != r {
				t.Errorf("%s %q: read back %+v, %v", hookName(h), RuleText(h, r), got, err)
			}
		}
	}
	// A rule that is ours but for its order, or with a foreign statement.
	in := ruleExprs(HookInput, rules[3], ids)
	reordered := slices.Clone(in)
	reordered[2], reordered[3], reordered[4], reordered[5] = in[4], in[5], in[2], in[3]
	if _, err := decodeRule(HookInput, reordered, nil); !errors.Is(err, ErrDrift) {
		t.Errorf("daddr before saddr: %v, want ErrDrift", err)
	}
	if _, err := decodeRule(HookOutput, ruleExprs(HookInput, rules[0], nil), ruleUserData(rules[0].Comment)); !errors.Is(err, ErrDrift) {
		t.Errorf("iifname in an output chain: %v, want ErrDrift", err)
	}
	if _, err := decodeRule(HookInput, ruleExprs(HookInput, rules[0], nil), []byte{1, 2, 'x', 0}); !errors.Is(err, ErrDrift) {
		t.Errorf("foreign user data: %v, want ErrDrift", err)
	}
}

func TestNftValidateRefuses(t *testing.T) {
	input := func(r Rule) Chain { return Chain{Name: "input", Hook: HookInput, Rules: []Rule{r}} }
	v4 := Set{Name: "s", Type: SetIPv4, Interval: true}
	cases := map[string]Ruleset{
		"host bits":            {Sets: []Set{{Name: "s", Type: SetIPv4, Interval: true, Elements: []Element{{Prefix: nftPfx("10.0.0.1/24")}}}}},
		"timeout without flag": {Sets: []Set{{Name: "s", Type: SetIPv4, Interval: true, Elements: []Element{{Prefix: nftPfx("10.0.0.0/24"), Timeout: time.Second}}}}},
		"v6 in v4 set":         {Sets: []Set{{Name: "s", Type: SetIPv4, Interval: true, Elements: []Element{{Prefix: nftPfx("fd00::/64")}}}}},
		"overlap":              {Sets: []Set{{Name: "s", Type: SetIPv4, Interval: true, Elements: []Element{{Prefix: nftPfx("10.0.0.0/8")}, {Prefix: nftPfx("10.1.0.0/16")}}}}},
		"duplicate":            {Sets: []Set{{Name: "s", Type: SetPort, Interval: true, Elements: []Element{{Port: 22}, {Port: 22}}}}},
		"range in plain set":   {Sets: []Set{{Name: "s", Type: SetPort, Elements: []Element{{Port: 22, PortEnd: 23}}}}},
		"set twice":            {Sets: []Set{v4, v4}},
		"port without proto":   {Chains: []Chain{input(Rule{DPort: "p", Verdict: Drop})}},
		"family mismatch":      {Sets: []Set{v4}, Chains: []Chain{input(Rule{Family: 6, SrcSet: "s", Verdict: Drop})}},
		"port set as address":  {Sets: []Set{{Name: "p", Type: SetPort}}, Chains: []Chain{input(Rule{Family: 4, SrcSet: "p", Verdict: Drop})}},
		"unknown verdict":      {Chains: []Chain{input(Rule{Verdict: 7})}},
		"chain twice":          {Chains: []Chain{input(Rule{}), input(Rule{})}},
	}
	for name, rs := range cases {
		if err := validate(rs); !errors.Is(err, ErrBadRuleset) {
			t.Errorf("%s: %v, want ErrBadRuleset", name, err)
		}
	}
}

// Apply is one batch sent in one write: begin, the table's messages, end.
func TestNftApplyIsOneBatch(t *testing.T) {
	rs := Ruleset{
		Sets: []Set{{Name: "q", Type: SetIPv4, Interval: true, Timeout: true, Elements: []Element{{Prefix: nftPfx("0.0.0.0/0"), Timeout: time.Minute}}}},
		Chains: []Chain{{Name: "input", Hook: HookInput, Rules: []Rule{
			{Loopback: true, Verdict: Accept}, {Family: 4, SrcSet: "q", Verdict: Drop},
		}}},
	}
	name := func(typ netlink.HeaderType) string {
		return map[netlink.HeaderType]string{
			unix.NFNL_MSG_BATCH_BEGIN: "begin", unix.NFNL_MSG_BATCH_END: "end",
			unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWTABLE:   "add table",
			unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_DELTABLE:   "delete table",
			unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWSET:     "add set",
			unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWSETELEM: "add element",
			unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWCHAIN:   "add chain",
			unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWRULE:    "add rule",
		}[typ]
	}
	for _, c := range []struct {
		rs   Ruleset
		want []string
	}{
		{rs, []string{"begin", "add table", "delete table", "add table", "add set", "add element", "add chain", "add rule", "add rule", "end"}},
		{Ruleset{}, []string{"begin", "add table", "delete table", "end"}},
	} {
		var writes [][]string
		conn, err := nftables.New(nftables.WithTestDial(func(req []netlink.Message) ([]netlink.Message, error) {
			if req == nil { // a read: acknowledge
				return []netlink.Message{{Header: netlink.Header{Type: netlink.Error}, Data: make([]byte, 4)}}, nil
			}
			var names []string
			for _, m := range req {
				names = append(names, name(m.Header.Type))
			}
			writes = append(writes, names)
			return nil, nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		if err := batch(conn, c.rs); err != nil {
			t.Fatal(err)
		}
		if err := conn.Flush(); err != nil {
			t.Fatal(err)
		}
		if len(writes) != 1 || !slices.Equal(writes[0], c.want) {
			t.Errorf("writes %q, want one: %q", writes, c.want)
		}
	}
}

func TestNftClassify(t *testing.T) {
	for _, c := range []struct {
		err  error
		want []error
	}{
		{&netlink.OpError{Op: "receive", Err: unix.EPERM}, []error{ErrNoPrivilege, unix.EPERM}},
		{fmt.Errorf("conn.Receive: %w", errors.Join(&netlink.OpError{Op: "receive", Err: unix.ENOENT})), []error{ErrRejected, unix.ENOENT}},
		{fmt.Errorf("set: %w", ErrDrift), []error{ErrDrift}},
	} {
		got := classify(c.err)
		for _, w := range c.want {
			if !errors.Is(got, w) {
				t.Errorf("classify(%v) = %v, not %v", c.err, got, w)
			}
		}
	}
}
