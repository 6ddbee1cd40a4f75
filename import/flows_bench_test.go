package importer

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/firebreak/firebreak/graph"
)

// Flow import benchmarks: a million VPC flow-log lines (~100 MB) and a
// million Zeek conn.log lines, generated deterministically in memory, with
// the repetition of a real estate: about 3,000 client/server/port tuples
// among 1,000 known nodes, random ephemeral client ports, both directions,
// some rejects, NODATA lines and scanners from the internet. Besides time
// and allocations they report the edges found, the bytes allocated per
// record and the heap the result retains: the last must not grow with the
// number of records (compare the 100k and 1M runs).

// flowBenchEstate is the known model: 900 hosts, 100 services on them.
type flowBenchEstate struct {
	model   *graph.Model
	tuples  []flowBenchTuple
	clients []netip.Addr
}

type flowBenchTuple struct {
	client, server netip.Addr
	port           uint16
	proto          uint8
}

var (
	flowBenchOnce  sync.Once
	flowBenchWorld *flowBenchEstate
	flowBenchData  = map[string][]byte{}
	flowBenchMu    sync.Mutex
)

// flowBenchPorts are the services of the estate; 50051 is ephemeral but
// listened on.
var flowBenchPorts = []uint16{443, 5432, 6379, 8080, 9092, 3306, 9200, 50051, 53}

func flowBenchWorldOf() *flowBenchEstate {
	flowBenchOnce.Do(func() {
		rng := rand.New(rand.NewPCG(7, 11))
		m := &graph.Model{}
		var servers []netip.Addr
		var serverPorts [][]uint16
		e := &flowBenchEstate{}
		for i := range 900 {
			a := netip.AddrFrom4([4]byte{10, 10, byte(i >> 8), byte(i)})
			n := graph.Node{ID: fmt.Sprintf("host-%03d", i), Kind: graph.KindHost, Addresses: []netip.Prefix{netip.PrefixFrom(a, 32)}}
			m.Nodes = append(m.Nodes, n)
			e.clients = append(e.clients, a)
			if i%9 == 0 { // 100 hosts run a service
				p := flowBenchPorts[(i/9)%len(flowBenchPorts)]
				proto := graph.ProtoTCP
				if p == 53 {
					proto = graph.ProtoUDP
				}
				m.Nodes = append(m.Nodes, graph.Node{ID: fmt.Sprintf("svc-%03d", i/9), Kind: graph.KindService, RunsOn: n.ID,
					Listens: []graph.PortRange{{Proto: proto, Lo: p, Hi: p}}})
				servers = append(servers, a)
				serverPorts = append(serverPorts, []uint16{p})
			}
		}
		m.Sort()
		seen := map[flowBenchTuple]bool{}
		for len(e.tuples) < 3000 {
			s := rng.IntN(len(servers))
			t := flowBenchTuple{client: e.clients[rng.IntN(len(e.clients))], server: servers[s], port: serverPorts[s][0], proto: protoTCP}
			if t.port == 53 {
				t.proto = protoUDP
			}
			if t.client != t.server && !seen[t] {
				seen[t] = true
				e.tuples = append(e.tuples, t)
			}
		}
		e.model = m
		flowBenchWorld = e
	})
	return flowBenchWorld
}

// flowBenchAt picks the i-th synthetic flow: a skewed choice of tuple, a
// random ephemeral client port, and what kind of record it is.
type flowBenchRecord struct {
	t            flowBenchTuple
	cport        uint16
	kind         int // 0 request, 1 reply, 2 rejected, 3 scanner, 4 nodata
	start, bytes int64
	scanner      netip.Addr
}

func flowBenchAt(rng *rand.Rand, e *flowBenchEstate, i int) flowBenchRecord {
	// Zipf-like skew: a few tuples carry most records.
	k := int(float64(len(e.tuples)) * rng.Float64() * rng.Float64())
	f := flowBenchRecord{t: e.tuples[k], cport: uint16(32768 + rng.IntN(28000)), start: 1700000000 + int64(i/1000), bytes: int64(40 + rng.IntN(100000))}
	switch r := rng.IntN(100); {
	case r < 45:
	case r < 90:
		f.kind = 1
	case r < 95:
		f.kind = 2
	case r < 99:
		f.kind = 3
		f.scanner = netip.AddrFrom4([4]byte{203, byte(rng.IntN(256)), byte(rng.IntN(256)), byte(1 + rng.IntN(254))})
	default:
		f.kind = 4
	}
	return f
}

// flowBenchVPC is n default-format VPC flow-log lines.
func flowBenchVPC(n int) []byte {
	e := flowBenchWorldOf()
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	var b bytes.Buffer
	b.Grow(n * 110)
	var line []byte
	for i := range n {
		f := flowBenchAt(rng, e, i)
		line = append(line[:0], "2 123456789012 eni-0a1b2c3d4e5f6"...)
		line = strconv.AppendInt(line, int64(i%4096), 16)
		line = append(line, ' ')
		if f.kind == 4 {
			line = append(line, "- - - - - - - "...)
			line = strconv.AppendInt(line, f.start, 10)
			line = append(line, ' ')
			line = strconv.AppendInt(line, f.start+60, 10)
			line = append(line, " - NODATA\n"...)
			b.Write(line)
			continue
		}
		src, dst, sport, dport := f.t.client, f.t.server, f.cport, f.t.port
		switch f.kind {
		case 1:
			src, dst, sport, dport = dst, src, dport, sport
		case 3:
			src = f.scanner
		}
		line = src.AppendTo(line)
		line = append(line, ' ')
		line = dst.AppendTo(line)
		line = append(line, ' ')
		line = strconv.AppendUint(line, uint64(sport), 10)
		line = append(line, ' ')
		line = strconv.AppendUint(line, uint64(dport), 10)
		line = append(line, ' ')
		line = strconv.AppendUint(line, uint64(f.t.proto), 10)
		line = append(line, ' ')
		line = strconv.AppendInt(line, 1+f.bytes/1000, 10)
		line = append(line, ' ')
		line = strconv.AppendInt(line, f.bytes, 10)
		line = append(line, ' ')
		line = strconv.AppendInt(line, f.start, 10)
		line = append(line, ' ')
		line = strconv.AppendInt(line, f.start+60, 10)
		if f.kind == 2 || f.kind == 3 {
			line = append(line, " REJECT OK\n"...)
		} else {
			line = append(line, " ACCEPT OK\n"...)
		}
		b.Write(line)
	}
	return b.Bytes()
}

// flowBenchZeek is a conn.log header and n records.
func flowBenchZeek(n int) []byte {
	e := flowBenchWorldOf()
	rng := rand.New(rand.NewPCG(2, uint64(n)))
	var b bytes.Buffer
	b.Grow(n*170 + 1024)
	b.WriteString("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n#open\t2023-11-14-22-00-00\n")
	b.WriteString("#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n")
	b.WriteString("#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n")
	var line []byte
	for i := range n {
		f := flowBenchAt(rng, e, i)
		src := f.t.client
		state, hist := "SF", "ShADadFf"
		switch f.kind {
		case 1:
			hist = "^hADadfF" // flipped by Zeek: the ports decide
		case 2:
			state, hist = "REJ", "Sr"
		case 3:
			state, hist, src = "S0", "S", f.scanner
		case 4:
			state, hist = "OTH", "Dd"
		}
		proto := "tcp"
		if f.t.proto == protoUDP {
			proto, hist = "udp", "Dd"
		}
		line = strconv.AppendInt(line[:0], f.start, 10)
		line = append(line, ".123456\tC"...)
		line = strconv.AppendUint(line, uint64(i)*2654435761, 36)
		line = append(line, '\t')
		line = src.AppendTo(line)
		line = append(line, '\t')
		line = strconv.AppendUint(line, uint64(f.cport), 10)
		line = append(line, '\t')
		line = f.t.server.AppendTo(line)
		line = append(line, '\t')
		line = strconv.AppendUint(line, uint64(f.t.port), 10)
		line = append(line, '\t')
		line = append(line, proto...)
		line = append(line, "\t-\t1.250000\t"...)
		line = strconv.AppendInt(line, f.bytes/10, 10)
		line = append(line, '\t')
		line = strconv.AppendInt(line, f.bytes, 10)
		line = append(line, '\t')
		line = append(line, state...)
		line = append(line, "\t-\t-\t0\t"...)
		line = append(line, hist...)
		line = append(line, "\t10\t"...)
		line = strconv.AppendInt(line, f.bytes/10+520, 10)
		line = append(line, "\t12\t"...)
		line = strconv.AppendInt(line, f.bytes+624, 10)
		line = append(line, "\t(empty)\n"...)
		b.Write(line)
	}
	return b.Bytes()
}

// flowBenchInput returns the generated input, once per format and size.
func flowBenchInput(format string, n int) []byte {
	flowBenchMu.Lock()
	defer flowBenchMu.Unlock()
	key := fmt.Sprintf("%s/%d", format, n)
	if d, ok := flowBenchData[key]; ok {
		return d
	}
	var d []byte
	switch format {
	case "vpcflow":
		d = flowBenchVPC(n)
	case "zeek":
		d = flowBenchZeek(n)
	}
	flowBenchData[key] = d
	return d
}

func benchmarkFlow(b *testing.B, format string) {
	fm, err := Lookup(format)
	if err != nil {
		b.Fatal(err)
	}
	for _, size := range []struct {
		name string
		n    int
	}{{"100k", 100_000}, {"1M", 1_000_000}} {
		b.Run(size.name, func(b *testing.B) {
			in := flowBenchInput(format, size.n)
			c := &Context{Known: flowBenchWorldOf().model, Limits: DefaultLimits}
			parse := func() *Fragment {
				frag, err := fm.Parse(context.Background(), Input{Name: "bench", R: bytes.NewReader(in)}, c)
				if err != nil {
					b.Fatal(err)
				}
				return frag
			}
			// Outside the timer: what one parse allocates per record, and
			// what its result keeps.
			var m0, m1, m2 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m0)
			frag := parse()
			runtime.ReadMemStats(&m1)
			runtime.GC()
			runtime.ReadMemStats(&m2)
			retained := int64(m2.HeapAlloc) - int64(m0.HeapAlloc)
			runtime.KeepAlive(frag)

			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				frag = parse()
			}
			b.StopTimer()
			b.ReportMetric(float64(len(frag.Edges)), "edges")
			b.ReportMetric(float64(frag.Report.Records), "records")
			b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/float64(frag.Report.Records), "alloc-B/record")
			b.ReportMetric(float64(max(retained, 0)), "retained-B")
		})
	}
}

func BenchmarkFlowVPC(b *testing.B)  { benchmarkFlow(b, "vpcflow") }
func BenchmarkFlowZeek(b *testing.B) { benchmarkFlow(b, "zeek") }
