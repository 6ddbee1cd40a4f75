package importer

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/firebreak/firebreak/graph"
)

// flowNodes are the estate the flow tests resolve addresses against:
//
//	dc 10.0.0.0/8 ⊃ office 10.20.0.0/16           (networks: longest CIDR wins)
//	web-1 10.1.0.10 [22]  ← shop runs_on web-1 [8080]
//	db-1 10.1.0.20, 2001:db8:10::20 ← postgres [5432]
//	api-1 10.1.0.40 ← api (same address) [9443], grpc [50051]
//	cache-1 10.1.0.30 [6379]; prom 10.1.0.50; logs 10.1.0.60; bastion 10.1.0.5
//	coredns 10.244.1.5 [53/udp] (a pod); payments 198.51.100.0/24 (SaaS)
const flowNodes = `
  - {id: dc, kind: network, addresses: [10.0.0.0/8]}
  - {id: office, kind: network, addresses: [10.20.0.0/16]}
  - {id: web-1, kind: host, addresses: [10.1.0.10], listens: [22]}
  - {id: shop, kind: service, runs_on: web-1, listens: [8080]}
  - {id: db-1, kind: host, addresses: [10.1.0.20, '2001:db8:10::20']}
  - {id: postgres, kind: datastore, runs_on: db-1, listens: [5432]}
  - {id: cache-1, kind: host, addresses: [10.1.0.30], listens: [6379]}
  - {id: api-1, kind: host, addresses: [10.1.0.40]}
  - {id: api, kind: service, runs_on: api-1, addresses: [10.1.0.40], listens: [9443]}
  - {id: grpc, kind: service, runs_on: api-1, listens: [50051]}
  - {id: prom, kind: host, addresses: [10.1.0.50]}
  - {id: logs, kind: host, addresses: [10.1.0.60]}
  - {id: bastion, kind: host, addresses: [10.1.0.5]}
  - {id: coredns, kind: service, addresses: [10.244.1.5], listens: [53/udp]}
  - {id: payments, kind: saas, addresses: [198.51.100.0/24]}
`

// flowTopology is flowNodes as a native document.
var flowTopology = flowModel()

// flowModel is a Topology of flowNodes and the extra node lines given.
func flowModel(extra ...string) string {
	return "apiVersion: firebreak/v1\nkind: Topology\nnodes:" + flowNodes + strings.Join(extra, "") + "edges: []\n"
}

// flowFormats are the four flow formats, with their testdata folders.
var flowFormats = []string{"vpcflow", "zeek", "conntrack", "nfdump"}

// flowGolden parses testdata/flows/<format>/<file> against flowTopology and
// compares it with the test's golden; a .gz file goes through the core
// (Open and ParseAll), which alone decompresses.
func flowGolden(t *testing.T, format, file string) {
	t.Helper()
	name := filepath.Join("flows", format, file)
	if strings.HasSuffix(file, ".gz") {
		// Gzip is the core's: detect and parse through Open and ParseAll.
		files, frags, err := importFiles(t, knownModel(t, flowTopology).Known, name)
		if err != nil {
			t.Fatal(err)
		}
		if files[0].Format.Name != format || len(frags) != 1 {
			t.Fatalf("%s: detected as %s, %d fragments", name, files[0].Format.Name, len(frags))
		}
		goldenFragment(t, frags[0])
		return
	}
	goldenFragment(t, parseFile(t, format, name, knownModel(t, flowTopology)))
}

// flowFiles lists a format's testdata files.
func flowFiles(t testing.TB, format string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join("testdata", "flows", format))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// aggregate runs records through a fresh aggregator over topology.
func aggregate(t *testing.T, topology string, recs ...flowRecord) *Fragment {
	t.Helper()
	var known *graph.Model
	if topology != "" {
		known = knownModel(t, topology).Known
	}
	rep := &Report{}
	a := newFlowAggregator(newResolver(known), rep)
	for i := range recs {
		a.add(&recs[i])
	}
	f := &Fragment{}
	a.build(f, "test:flows")
	f.Report = *rep
	return f
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// edgeLine summarises a fragment's edges as "from->to ports dependency".
func edgeLines(f *Fragment) []string {
	var out []string
	for _, e := range f.Edges {
		var ps []string
		for _, p := range e.Ports {
			ps = append(ps, p.String())
		}
		out = append(out, fmt.Sprintf("%s->%s %s %s", e.From, e.To, strings.Join(ps, ","), e.Dependency))
	}
	return out
}

// The server side is decided in order: the initiator the format knows, a
// port a node listens on, a well-known or common service port, the lower
// port; an ephemeral server port nobody listens on is no edge.
func TestFlowServerSide(t *testing.T) {
	tcp := func(src string, sport uint16, dst string, dport uint16, init flowInitiator) flowRecord {
		return flowRecord{Src: addr(src), SrcPort: sport, Dst: addr(dst), DstPort: dport, Proto: protoTCP, Initiator: init}
	}
	for _, tc := range []struct {
		name string
		rec  flowRecord
		want string // edge, or "" for none
	}{
		{"initiator src overrides ports", tcp("10.1.0.50", 1500, "10.1.0.20", 20000, initSrc), "prom->db-1 20000/tcp hard"},
		{"initiator dst (SYN-ACK)", tcp("10.1.0.20", 20000, "10.1.0.50", 1500, initDst), "prom->db-1 20000/tcp hard"},
		{"listening dst", tcp("10.1.0.40", 1200, "10.1.0.30", 6379, initUnknown), "api-1->cache-1 6379/tcp hard"},
		{"listening src (a reply)", tcp("10.1.0.30", 6379, "10.1.0.40", 1200, initUnknown), "api-1->cache-1 6379/tcp hard"},
		{"listening resident refines the host", tcp("10.20.1.1", 50000, "10.1.0.10", 8080, initUnknown), "office->shop 8080/tcp hard"},
		{"listening beats well-known", tcp("10.1.0.20", 5432, "10.1.0.10", 443, initUnknown), "web-1->postgres 5432/tcp hard"},
		{"well-known dst", tcp("10.1.0.50", 40000, "10.1.0.60", 514, initUnknown), "prom->logs 514/tcp hard"},
		{"well-known src", tcp("10.1.0.60", 514, "10.1.0.50", 40000, initUnknown), "prom->logs 514/tcp hard"},
		{"common service port", tcp("10.1.0.50", 2000, "10.1.0.60", 9200, initUnknown), "prom->logs 9200/tcp hard"},
		{"lower port", tcp("10.1.0.50", 20001, "10.1.0.60", 7001, initUnknown), "prom->logs 7001/tcp hard"},
		{"lower port, reversed", tcp("10.1.0.60", 7001, "10.1.0.50", 20001, initUnknown), "prom->logs 7001/tcp hard"},
		{"ephemeral server port", tcp("10.1.0.50", 40001, "10.1.0.60", 45000, initUnknown), ""},
		{"ephemeral even with the initiator known", tcp("10.1.0.50", 40001, "10.1.0.60", 45000, initSrc), ""},
		{"ephemeral but listened on", tcp("10.1.0.10", 40001, "10.1.0.40", 50051, initUnknown), "web-1->grpc 50051/tcp hard"},
		{"reachability port", tcp("10.1.0.5", 50000, "10.1.0.10", 22, initSrc), "bastion->web-1 22/tcp none"},
		{"monitoring port", tcp("10.1.0.50", 45000, "10.1.0.20", 9100, initSrc), "prom->db-1 9100/tcp none"},
		{"self", tcp("10.1.0.20", 41000, "10.1.0.20", 9999, initSrc), ""},
		{"port zero", tcp("10.1.0.20", 0, "10.1.0.50", 0, initSrc), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(edgeLines(aggregate(t, flowTopology, tc.rec)), "; ")
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// Addresses resolve by exact address, then the longest CIDR; the owner of
// an address several nodes declare is the outermost (the host); the server
// side is refined to the most specific node listening on the port; unknown
// addresses are grouped.
func TestFlowResolve(t *testing.T) {
	r := newResolver(knownModel(t, flowModel(
		"  - {id: vip-a, kind: lb, addresses: [10.9.9.9]}\n",
		"  - {id: vip-b, kind: lb, addresses: [10.9.9.9], listens: [443]}\n",
		"  - {id: sidecar, kind: service, runs_on: shop, listens: [8080]}\n",
	)).Known)
	name := func(ref int32) string {
		switch ref {
		case refNotPeer:
			return "not-a-peer"
		}
		return r.ids[r.node(ref)]
	}
	for in, want := range map[string]string{
		"10.1.0.10":        "web-1",
		"10.20.3.4":        "office", // /16 beats /8
		"10.200.3.4":       "dc",
		"10.1.0.40":        "api-1", // host and service declare it: the host owns it
		"2001:db8:10::20":  "db-1",
		"::ffff:10.1.0.20": "db-1", // IPv4-mapped
		"198.51.100.77":    "payments",
		"203.0.113.9":      groupInternet,
		"2001:db8:99::1":   groupInternet,
		"172.16.0.1":       groupInternal,
		"192.168.1.1":      groupInternal,
		"100.64.0.1":       groupInternal, // CGNAT
		"169.254.169.254":  groupInternal, // link-local
		"fe80::1":          groupInternal,
		"fd00::1":          groupInternal, // ULA
		"127.0.0.1":        groupInternal,
		"255.255.255.255":  "not-a-peer",
		"224.0.0.251":      "not-a-peer",
		"ff02::1":          "not-a-peer",
		"0.0.0.0":          "not-a-peer",
	} {
		if got := name(r.lookup(addr(in))); got != want {
			t.Errorf("%s resolves to %s, want %s", in, got, want)
		}
	}
	server := func(a string, port uint16) string {
		return r.ids[r.serverNode(r.lookup(addr(a)), graph.ProtoTCP, port)]
	}
	for _, tc := range []struct {
		addr string
		port uint16
		want string
	}{
		{"10.1.0.10", 22, "web-1"},
		{"10.1.0.10", 8080, "sidecar"}, // the deepest listener wins over shop
		{"10.1.0.10", 9999, "web-1"},
		{"10.1.0.40", 9443, "api"},
		{"10.1.0.40", 50051, "grpc"},
		{"10.1.0.40", 80, "api-1"},
		{"10.9.9.9", 443, "vip-b"}, // unrelated claimants: the listener
		{"10.9.9.9", 80, "vip-a"},  // else the smallest id
	} {
		if got := server(tc.addr, tc.port); got != tc.want {
			t.Errorf("server %s:%d is %s, want %s", tc.addr, tc.port, got, tc.want)
		}
	}
	if len(r.notes) != 1 || !strings.Contains(r.notes[0], "10.9.9.9 is declared by vip-a, vip-b") {
		t.Errorf("ambiguity notes %q", r.notes)
	}
	// The cache stays bounded whatever the number of distinct addresses.
	for i := range 3 * maxResolveCache {
		r.lookup(netip.AddrFrom4([4]byte{203, byte(i >> 16), byte(i >> 8), byte(i)}))
	}
	if len(r.cache) > maxResolveCache {
		t.Errorf("cache holds %d addresses", len(r.cache))
	}
}

// Edges join client and server nodes once, with every port (consecutive
// ones as a range), summed observations, dependency none only when every
// port is an admin or monitoring one; group nodes appear only when used;
// a group the known model declares is not redefined.
func TestFlowEdges(t *testing.T) {
	var recs []flowRecord
	for _, p := range []uint16{8002, 8000, 8001, 22, 8443} {
		recs = append(recs, flowRecord{Src: addr("203.0.113.5"), SrcPort: 40000, Dst: addr("10.1.0.20"), DstPort: p, Proto: protoTCP,
			Initiator: initSrc, Bytes: 100, Start: int64(1000 + p), End: int64(2000 + p)})
	}
	recs = append(recs, flowRecord{Src: addr("10.1.0.5"), SrcPort: 40000, Dst: addr("10.1.0.20"), DstPort: 22, Proto: protoTCP, Initiator: initSrc},
		flowRecord{Src: addr("10.1.0.5"), SrcPort: 40000, Dst: addr("10.1.0.20"), DstPort: 161, Proto: protoUDP, Initiator: initSrc})
	f := aggregate(t, flowTopology, recs...)
	want := []string{"bastion->db-1 22/tcp,161/udp none", "internet->db-1 22/tcp,8000-8002/tcp,8443/tcp hard"}
	if got := edgeLines(f); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("edges %q, want %q", got, want)
	}
	if o := f.Edges[1].Observed; o.Count != 5 || o.Bytes != 500 || o.FirstSeen != 1022 || o.LastSeen != 10443 {
		t.Errorf("observed %+v", *o)
	}
	if len(f.Nodes) != 1 || f.Nodes[0].ID != groupInternet || f.Nodes[0].Kind != graph.KindClient {
		t.Errorf("nodes %+v, want only the internet group", f.Nodes)
	}
	declared := aggregate(t, flowModel("  - {id: internet, kind: gateway}\n"), recs...)
	if len(declared.Nodes) != 0 || declared.Edges[1].From != "internet" {
		t.Errorf("a declared internet node is redefined: %+v", declared.Nodes)
	}
}

// Rejected and unanswered attempts are reported, not edges: unknown ends by
// address, the most frequent first up to a bound, and not when the same
// tuple also carried traffic.
func TestFlowAttempts(t *testing.T) {
	var recs []flowRecord
	for i := range 120 {
		recs = append(recs, flowRecord{Src: netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}), SrcPort: 40000, Dst: addr("10.1.0.20"),
			DstPort: 5432, Proto: protoTCP, Initiator: initSrc, Outcome: outcomeRejected})
	}
	scanner := flowRecord{Src: addr("203.0.113.200"), SrcPort: 40000, Dst: addr("10.1.0.30"), DstPort: 6380, Proto: protoTCP, Initiator: initSrc, Outcome: outcomeUnanswered}
	recs = append(recs, scanner, scanner, scanner)
	recs = append(recs, flowRecord{Src: addr("10.1.0.10"), SrcPort: 40000, Dst: addr("10.1.0.20"), DstPort: 5432, Proto: protoTCP, Initiator: initSrc, Outcome: outcomeUnanswered},
		flowRecord{Src: addr("10.1.0.10"), SrcPort: 40001, Dst: addr("10.1.0.20"), DstPort: 5432, Proto: protoTCP, Initiator: initSrc})
	f := aggregate(t, flowTopology, recs...)
	if len(f.Report.Attempts) != maxAttemptLines {
		t.Fatalf("%d attempts listed, want %d", len(f.Report.Attempts), maxAttemptLines)
	}
	if !sort.StringsAreSorted(f.Report.Attempts) {
		t.Error("attempts not sorted")
	}
	want := "203.0.113.200 (internet) -> cache-1 6380/tcp (3 attempts: unanswered)"
	if !contains(f.Report.Attempts, want) {
		t.Errorf("attempts %q lack %q", f.Report.Attempts, want)
	}
	notes := strings.Join(f.Report.Notes, "\n")
	for _, w := range []string{"attempts: 71 more attempt tuples not listed", "1 failed tuple on tuples that also carried accepted traffic"} {
		if !strings.Contains(notes, w) {
			t.Errorf("notes lack %q:\n%s", w, notes)
		}
	}
	if got := edgeLines(f); len(got) != 1 || got[0] != "web-1->postgres 5432/tcp hard" {
		t.Errorf("edges %q", got)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Memory follows distinct tuples, not records: a million records with
// random client ports and sources from all over the internet keep a handful
// of edges, a bounded address cache and a bounded attempt table.
func TestFlowMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	rep := &Report{}
	a := newFlowAggregator(newResolver(knownModel(t, flowTopology).Known), rep)
	rng := rand.New(rand.NewPCG(1, 2))
	servers := []string{"10.1.0.10", "10.1.0.20", "10.1.0.30", "10.1.0.40"}
	ports := []uint16{8080, 5432, 6379, 9443}
	var r flowRecord
	for i := range 1_000_000 {
		s := i % len(servers)
		r = flowRecord{Src: netip.AddrFrom4([4]byte{203, byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))}),
			SrcPort: uint16(32768 + rng.IntN(28000)), Dst: addr(servers[s]), DstPort: ports[s], Proto: protoTCP, Bytes: 100}
		if i%10 == 0 {
			r.Outcome, r.Initiator = outcomeRejected, initSrc
			r.DstPort = uint16(1 + rng.IntN(30000))
		}
		a.add(&r)
	}
	if len(a.edges) != 4 || len(a.cache()) > maxResolveCache || len(a.attempts) > maxAttemptTuples {
		t.Errorf("%d edges, %d cached addresses, %d attempt tuples", len(a.edges), len(a.cache()), len(a.attempts))
	}
	f := &Fragment{}
	a.build(f, "test")
	if len(rep.Attempts) > maxAttemptLines || !strings.Contains(strings.Join(rep.Notes, "\n"), "beyond 65536 distinct tuples not tracked") {
		t.Errorf("attempt report unbounded: %d lines, notes %q", len(rep.Attempts), rep.Notes)
	}
}

func (a *flowAggregator) cache() map[netip.Addr]int32 { return a.res.cache }
