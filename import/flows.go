package importer

import (
	"fmt"
	"net/netip"
	"sort"

	"github.com/firebreak/firebreak/graph"
)

// The shared flow aggregator. Every flow format (VPC flow logs, Zeek
// conn.log, conntrack, nfdump) parses its lines into flowRecords and hands
// them to one aggregator, which decides the server side, resolves both ends
// to nodes and sums the records into edges keyed by (client node, server
// node, server port, protocol). Its memory grows with distinct keys, never
// with records.
//
// The server side of a flow is decided in this order:
//  1. the initiator, when the format knows it (Zeek's originator, the
//     conntrack original tuple, VPC tcp-flags SYN versus SYN-ACK, nfdump
//     flags with SYN and no ACK);
//  2. a port that a node at either end is known to listen on (Listens);
//  3. a well-known port (< 1024) or a common service port (commonPorts);
//  4. else the lower port.
//
// A server port that is ephemeral (>= 32768) and that no node is known to
// listen on never becomes an edge. ICMP and other port-less protocols are
// counted, not imported: an edge carries tcp or udp ports, and ICMP
// reachability is not a service dependency. Rejected and unanswered attempts
// go to Report.Attempts, never into edges.

// IANA protocol numbers the aggregator knows.
const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
)

// flowOutcome says whether a flow carried traffic.
type flowOutcome uint8

const (
	outcomeAccepted   flowOutcome = iota
	outcomeRejected               // refused: REJECT, REJ, TCP RST to a SYN
	outcomeUnanswered             // no answer: Zeek S0/SH/RSTOS0, conntrack [UNREPLIED] TCP
)

// flowInitiator says which end of a record opened the connection, if the
// format knows.
type flowInitiator uint8

const (
	initUnknown flowInitiator = iota
	initSrc
	initDst
)

// flowEvent distinguishes event streams (conntrack -E), where one
// connection shows up as a start and an end event.
type flowEvent uint8

const (
	eventPlain flowEvent = iota // one record per flow (or per window)
	eventStart                  // [NEW]
	eventEnd                    // [DESTROY]
)

// flowRecord is one parsed flow. Src and Dst are the real ends (VPC
// pkt-srcaddr/pkt-dstaddr, the conntrack DNAT backend); SrcAlias and
// DstAlias are the other addresses the same ends appeared under (the
// interface address, the ClusterIP before DNAT), zero when none.
type flowRecord struct {
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Proto            uint8
	Packets, Bytes   uint64
	Count            uint64 // flows the record stands for; 0 means 1
	Start, End       int64  // Unix seconds, 0 when unknown
	Outcome          flowOutcome
	Initiator        flowInitiator
	Event            flowEvent
	SrcAlias         netip.Addr
	DstAlias         netip.AddrPort
}

// edgeKey identifies an aggregated flow tuple.
type edgeKey struct {
	client, server int32
	port           uint16
	proto          uint8
}

type edgeStat struct {
	count, starts, ends uint64
	bytes               uint64
	first, last         int64
}

// attemptKey identifies a rejected or unanswered tuple. Unknown ends keep
// their address: a responder wants the scanner's IP, not "internet".
type attemptKey struct {
	client, server int32
	caddr, saddr   netip.Addr
	port           uint16
	proto          uint8
}

type attemptStat struct{ rejected, unanswered uint64 }

// natKey is one observed address translation.
type natKey struct {
	dst          bool
	real, alias  netip.AddrPort
	proto        uint8
	hasPortProto bool
}

// Bounds on what the aggregator keeps besides edges.
const (
	maxAttemptTuples = 1 << 16 // distinct attempt tuples tracked
	maxAttemptLines  = 50      // attempts listed in the report
	maxNATTuples     = 1 << 12 // distinct translations tracked
	maxNATLines      = 20      // translations listed in the report
	ephemeralPorts   = 32768   // the lowest port of the Linux ephemeral range
)

// commonPorts are registered service ports above 1023 that decide the server
// side like well-known ports do.
var commonPorts = map[uint16]bool{
	1433: true, 1521: true, 2049: true, 2181: true, 2379: true, 2380: true, 3000: true,
	3306: true, 3389: true, 4222: true, 5000: true, 5044: true, 5432: true, 5601: true,
	5672: true, 5900: true, 5984: true, 5985: true, 5986: true, 6379: true, 6443: true,
	7000: true, 8000: true, 8008: true, 8080: true, 8081: true, 8086: true, 8088: true,
	8443: true, 8500: true, 8888: true, 9000: true, 9042: true, 9090: true, 9092: true,
	9093: true, 9100: true, 9200: true, 9300: true, 9418: true, 10250: true, 11211: true,
	15672: true, 27017: true,
}

// reachabilityPorts are admin and monitoring ports: an edge that only
// carries them is pure reachability (dependency none), nothing fails
// without it.
var reachabilityPorts = map[uint16]bool{
	22: true, 23: true, 161: true, 162: true, 3389: true, 5900: true, 5985: true, 5986: true, 9100: true,
}

func wellKnown(port uint16) bool { return port != 0 && (port < 1024 || commonPorts[port]) }

// flowAggregator sums flow records into edges.
type flowAggregator struct {
	res      *resolver
	rep      *Report
	edges    map[edgeKey]int32
	stats    []edgeStat
	attempts map[attemptKey]attemptStat
	nat      map[natKey]uint64

	// what did not become an edge, for the report
	flows, noProto, icmp, other, noPort, ephemeral, self, notPeer, naclReplies uint64
	attemptOverflow, natOverflow                                               uint64
	grouped                                                                    [2]uint64 // endpoints → internet, unknown-internal
	notes                                                                      []string  // parser notes, in order
}

func newFlowAggregator(res *resolver, rep *Report) *flowAggregator {
	return &flowAggregator{res: res, rep: rep, edges: map[edgeKey]int32{}, attempts: map[attemptKey]attemptStat{}, nat: map[natKey]uint64{}}
}

// note adds a parser's note to the report, after the aggregator's own.
func (a *flowAggregator) note(format string, args ...any) {
	a.notes = append(a.notes, fmt.Sprintf(format, args...))
}

func graphProto(p uint8) graph.Proto {
	if p == protoUDP {
		return graph.ProtoUDP
	}
	return graph.ProtoTCP
}

// add aggregates one record.
func (a *flowAggregator) add(r *flowRecord) {
	a.flows++
	a.natSeen(r)
	switch r.Proto {
	case protoTCP, protoUDP:
	case 0:
		a.noProto++
		return
	case protoICMP, protoICMPv6:
		a.icmp++
		return
	default:
		a.other++
		return
	}
	sref, dref := a.res.lookup(r.Src), a.res.lookup(r.Dst)
	if sref == refNotPeer || dref == refNotPeer {
		a.notPeer++
		return
	}
	gp := graphProto(r.Proto)
	srcServer := false
	switch r.Initiator {
	case initSrc:
	case initDst:
		srcServer = true
	default:
		switch {
		case a.res.listener(dref, gp, r.DstPort) >= 0:
		case a.res.listener(sref, gp, r.SrcPort) >= 0:
			srcServer = true
		case wellKnown(r.DstPort):
		case wellKnown(r.SrcPort):
			srcServer = true
		case r.SrcPort != 0 && r.SrcPort < r.DstPort:
			srcServer = true
		}
	}
	cref, caddr, svref, saddr, port := sref, r.Src, dref, r.Dst, r.DstPort
	if srcServer {
		cref, caddr, svref, saddr, port = dref, r.Dst, sref, r.Src, r.SrcPort
	}
	if port == 0 {
		a.noPort++
		return
	}
	if port >= ephemeralPorts && !commonPorts[port] && a.res.listener(svref, gp, port) < 0 {
		a.ephemeral++
		return
	}
	if r.Outcome == outcomeRejected && srcServer {
		// Rejected traffic sent by the server: a stateless NACL dropping the
		// answer to a connection that was let in, or the reset of a refusal
		// seen on the server's side. Not a blocked dependency.
		a.naclReplies++
		return
	}
	client, server := a.res.node(cref), a.res.serverNode(svref, gp, port)
	if client == server && (r.Outcome == outcomeAccepted || cref >= 0 || caddr == saddr) {
		a.self++
		return
	}
	a.countGrouped(cref)
	a.countGrouped(svref)
	n := r.Count
	if n == 0 {
		n = 1
	}
	if r.Outcome != outcomeAccepted {
		a.attempt(r.Outcome, n, attemptKey{client: client, server: server, caddr: unknownAddr(cref, caddr), saddr: unknownAddr(svref, saddr), port: port, proto: r.Proto})
		return
	}
	k := edgeKey{client: client, server: server, port: port, proto: r.Proto}
	i, ok := a.edges[k]
	if !ok {
		i = int32(len(a.stats))
		a.edges[k] = i
		a.stats = append(a.stats, edgeStat{})
	}
	s := &a.stats[i]
	switch r.Event {
	case eventStart:
		s.starts += n
	case eventEnd:
		s.ends += n
	default:
		s.count += n
	}
	s.bytes += r.Bytes
	if r.Start != 0 && (s.first == 0 || r.Start < s.first) {
		s.first = r.Start
	}
	last := max(r.End, r.Start)
	s.last = max(s.last, last)
}

func unknownAddr(ref int32, a netip.Addr) netip.Addr {
	if ref >= 0 {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

func (a *flowAggregator) countGrouped(ref int32) {
	switch ref {
	case refInternet:
		a.grouped[0]++
	case refInternal:
		a.grouped[1]++
	}
}

func (a *flowAggregator) attempt(o flowOutcome, n uint64, k attemptKey) {
	s, ok := a.attempts[k]
	if !ok && len(a.attempts) >= maxAttemptTuples {
		a.attemptOverflow += n
		return
	}
	if o == outcomeRejected {
		s.rejected += n
	} else {
		s.unanswered += n
	}
	a.attempts[k] = s
}

func (a *flowAggregator) natSeen(r *flowRecord) {
	if r.SrcAlias.IsValid() && r.SrcAlias != r.Src {
		a.natAdd(natKey{real: netip.AddrPortFrom(r.Src, 0), alias: netip.AddrPortFrom(r.SrcAlias, 0)})
	}
	if al := r.DstAlias; al.Addr().IsValid() && (al.Addr() != r.Dst || al.Port() != 0 && al.Port() != r.DstPort) {
		k := natKey{dst: true, real: netip.AddrPortFrom(r.Dst, 0), alias: netip.AddrPortFrom(al.Addr(), 0), proto: r.Proto}
		if al.Port() != 0 {
			k.real, k.alias, k.hasPortProto = netip.AddrPortFrom(r.Dst, r.DstPort), al, true
		}
		a.natAdd(k)
	}
}

func (a *flowAggregator) natAdd(k natKey) {
	if _, ok := a.nat[k]; !ok && len(a.nat) >= maxNATTuples {
		a.natOverflow++
		return
	}
	a.nat[k]++
}

// build writes the edges, the group nodes they use and the report.
func (a *flowAggregator) build(f *Fragment, source string) {
	type pair struct{ client, server int32 }
	byPair := map[pair][]edgeKey{}
	for k := range a.edges {
		p := pair{k.client, k.server}
		byPair[p] = append(byPair[p], k)
	}
	used := map[int32]bool{}
	for p, keys := range byPair {
		sort.Slice(keys, func(i, j int) bool {
			if keys[i].proto != keys[j].proto {
				return keys[i].proto < keys[j].proto
			}
			return keys[i].port < keys[j].port
		})
		e := graph.Edge{From: a.res.ids[p.client], To: a.res.ids[p.server], Dependency: graph.DepNone,
			Observed: &graph.Observed{}, Sources: []string{source}}
		for _, k := range keys {
			s := a.stats[a.edges[k]]
			o := e.Observed
			o.Count += s.count + max(s.starts, s.ends)
			o.Bytes += s.bytes
			o.FirstSeen = minNonZero(o.FirstSeen, s.first)
			o.LastSeen = max(o.LastSeen, s.last)
			if !reachabilityPorts[k.port] {
				e.Dependency = graph.DepHard
			}
			e.Ports = appendPort(e.Ports, graphProto(k.proto), k.port)
		}
		used[p.client], used[p.server] = true, true
		f.Edges = append(f.Edges, e)
	}
	sort.Slice(f.Edges, func(i, j int) bool {
		a, b := &f.Edges[i], &f.Edges[j]
		if a.From != b.From {
			return a.From < b.From
		}
		return a.To < b.To
	})
	for _, n := range []int32{a.res.internet, a.res.internal} {
		if kind, define := a.res.isGroup(n); define && used[n] {
			name := "Internet (public addresses no node declares)"
			if kind == graph.KindNetwork {
				name = "Unknown internal (private addresses no node declares)"
			}
			f.Nodes = append(f.Nodes, graph.Node{ID: a.res.ids[n], Kind: kind, Name: name, Sources: []string{source}})
		}
	}
	a.report(len(f.Edges))
}

// appendPort adds a port to a sorted port list, widening the last range
// when the port follows it.
func appendPort(ps []graph.PortRange, proto graph.Proto, port uint16) []graph.PortRange {
	if n := len(ps); n > 0 && ps[n-1].Proto == proto && ps[n-1].Hi+1 == port {
		ps[n-1].Hi = port
		return ps
	}
	return append(ps, graph.PortRange{Proto: proto, Lo: port, Hi: port})
}
