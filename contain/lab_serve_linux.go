//go:build linux

package contain

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/firebreak/firebreak/graph"
)

// Lab timings. A quarantined host drops packets silently, so every
// connection attempt is bounded; a probe costs about one connect timeout
// per failed frontier, not a hang.
const (
	// labConnectTimeout bounds one connection attempt across the bridge.
	labConnectTimeout = 300 * time.Millisecond
	// labIdle is how long a responder waits for a request line before it
	// sends its banner.
	labIdle = time.Second
	// labProbeBudget bounds a whole probe as the prober sees it; each hop
	// down the dependency chain gets labHopBudget less, so a node always
	// gives up before the one waiting for it.
	labProbeBudget = 8 * time.Second
	labHopBudget   = 200 * time.Millisecond
	labMinBudget   = time.Second
	// labMaxLine bounds request lines (a path names at most every node).
	labMaxLine = 64 << 10
)

func labBudget(depth int) time.Duration {
	return max(labProbeBudget-time.Duration(depth)*labHopBudget, labMinBudget)
}

// labDep is one dependency edge as the responder dials it.
type labDep struct {
	to   string
	addr string // the target's address and the edge's first TCP port
	slot int
	soft bool
}

// labNode is a node as its responder sees it.
type labNode struct {
	id    string
	netns string
	host  *labNode // the node it runs on, if any
	deps  []labDep
	slots []labSlot
}

type labSlot struct {
	soft    bool
	members []int // indexes into deps
}

// LabServer runs the responders of one lab in this process: every listener
// is opened on a thread switched into its node's namespace, then served from
// ordinary goroutines.
type LabServer struct {
	st     *LabState
	nodes  map[string]*labNode
	ls     []net.Listener
	cancel context.CancelFunc
	wg     sync.WaitGroup

	runsMu sync.Mutex
	runs   map[string]*labRun // round-based probes in progress, by id
}

// StartLab opens every responder of the lab and serves them until Close.
func StartLab(st *LabState, lm *graph.Model) (*LabServer, error) {
	nodes, err := labNodes(st, lm)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &LabServer{st: st, nodes: nodes, cancel: cancel}
	for _, id := range sortedKeys(st.Nodes) {
		ln := st.Nodes[id]
		n := nodes[id]
		for _, p := range append([]uint16{ln.ProbePort}, ln.Ports...) {
			l, err := ListenTCP(ln.NetNS, fmt.Sprintf(":%d", p))
			if err != nil {
				s.Close()
				return nil, fmt.Errorf("lab %s: node %s: listen on %d: %w", st.Name, id, p, err)
			}
			s.ls = append(s.ls, l)
			s.wg.Go(func() { s.accept(ctx, l, n) })
		}
	}
	return s, nil
}

// LabServe runs the lab's responders until ctx ends.
func LabServe(ctx context.Context, st *LabState, lm *graph.Model) error {
	s, err := StartLab(st, lm)
	if err != nil {
		return err
	}
	<-ctx.Done()
	return s.Close()
}

// Close stops every listener and waits for the connections in flight.
func (s *LabServer) Close() error {
	s.cancel()
	var errs []error
	for _, l := range s.ls {
		if err := l.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

// labNodes resolves every node's dependencies to dial addresses and slots
// (a replica group, or one ungrouped edge), as graph.Compile forms them.
func labNodes(st *LabState, lm *graph.Model) (map[string]*labNode, error) {
	nodes := make(map[string]*labNode, len(lm.Nodes))
	for _, n := range lm.Nodes {
		ln, ok := st.Nodes[n.ID]
		if !ok {
			return nil, fmt.Errorf("lab %s: node %s is not in the lab state", st.Name, n.ID)
		}
		nodes[n.ID] = &labNode{id: n.ID, netns: ln.NetNS}
	}
	for _, n := range lm.Nodes {
		if n.RunsOn != "" {
			nodes[n.ID].host = nodes[n.RunsOn]
		}
	}
	group := map[string]int{}
	from := ""
	for _, e := range lm.Edges {
		if e.Dependency == graph.DepNone {
			continue
		}
		n := nodes[e.From]
		if e.From != from {
			clear(group)
			from = e.From
		}
		port, ok := labDialPort(e.Ports)
		to, known := st.Nodes[e.To]
		if !ok || !known {
			return nil, fmt.Errorf("lab %s: edge %s: no TCP port or unknown target", st.Name, e.Key())
		}
		s, grouped := group[e.Group]
		if e.Group == "" || !grouped {
			s = len(n.slots)
			n.slots = append(n.slots, labSlot{soft: e.Dependency == graph.DepSoft})
			if e.Group != "" {
				group[e.Group] = s
			}
		}
		n.slots[s].members = append(n.slots[s].members, len(n.deps))
		n.deps = append(n.deps, labDep{to: e.To, addr: netip.AddrPortFrom(to.Addr, port).String(), slot: s, soft: e.Dependency == graph.DepSoft})
	}
	return nodes, nil
}

func (s *LabServer) accept(ctx context.Context, l net.Listener, n *labNode) {
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return
			}
			time.Sleep(10 * time.Millisecond) // e.g. out of file descriptors
			continue
		}
		s.wg.Go(func() { s.handle(ctx, c, n) })
	}
}

// handle answers one connection: a request gets the node's verdict,
// anything else (or silence) the banner.
func (s *LabServer) handle(ctx context.Context, c net.Conn, n *labNode) {
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(labIdle))
	line, err := readLine(c)
	req, ok := parseLabRequest(line)
	if err != nil || !ok {
		_ = c.SetWriteDeadline(time.Now().Add(labIdle))
		_, _ = io.WriteString(c, "firebreak-lab "+n.id+"\n")
		return
	}
	var v labVerdict
	switch req.kind {
	case "PROBE":
		v = s.eval(ctx, n, req.path)
	case "ROUND":
		v = s.round(ctx, s.run(req.id), n.id, n, req.phase, req.round)
	case "STATE":
		v = s.run(req.id).get(n.id, req.phase, req.round)
	}
	_ = c.SetWriteDeadline(time.Now().Add(labIdle))
	_, _ = io.WriteString(c, v.line()+"\n")
}

// readLine reads one line of at most labMaxLine bytes.
func readLine(r io.Reader) (string, error) {
	br := bufio.NewReaderSize(io.LimitReader(r, labMaxLine), 512)
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	return line, nil
}

// eval judges node n as DESIGN's failure semantics say, from what its
// dependencies answer right now (nothing is cached between probes):
//
//   - down if its host is down, or if some hard slot has every member
//     unreachable or down;
//   - else degraded if some soft slot has every member unreachable or
//     down, or any reachable dependency (hard or soft) is degraded;
//   - else ok.
//
// A node already on the path answers ok: assuming the nodes of a cycle up
// until something outside it proves otherwise computes the least fixpoint
// the simulation computes. Dependencies are dialled from n's namespace, in
// parallel; the host shares n's network stack, so it is judged in-process.
// This walks every dependency path, which multiplies in big dependency
// cycles: it answers single PROBE queries, while LabProbe uses rounds.
func (s *LabServer) eval(ctx context.Context, n *labNode, path []string) labVerdict {
	if slices.Contains(path, n.id) {
		return labVerdict{Status: labOK}
	}
	ctx, cancel := context.WithTimeout(ctx, labBudget(len(path)))
	defer cancel()
	sub := append(slices.Clip(path), n.id)
	got := make([]labVerdict, len(n.deps))
	var host labVerdict
	var wg sync.WaitGroup
	if n.host != nil {
		wg.Go(func() { host = s.eval(ctx, n.host, sub) })
	}
	for i, d := range n.deps {
		wg.Go(func() { got[i] = askLabLine(ctx, n.netns, d.addr, labProbeLine(sub)) })
	}
	wg.Wait()
	if n.host != nil && host.Status == labDown {
		return labVerdict{Status: labDown, Reason: host.chain(n.host.id)}
	}
	if v := judge(n, got, true); v.Status == labDown {
		return v
	}
	return judge(n, got, false)
}

// askLabLine sends one request line from namespace ns to addr and reads
// the verdict; no answer at all is unreachable.
func askLabLine(ctx context.Context, ns, addr, line string) labVerdict {
	c, err := DialTCP(ctx, ns, addr, labConnectTimeout)
	if err != nil {
		return labUnreachable
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if _, err := io.WriteString(c, line); err != nil {
		return labUnreachable
	}
	reply, err := readLine(c)
	if err != nil {
		return labUnreachable
	}
	v, ok := parseLabVerdict(reply)
	if !ok {
		return labUnreachable
	}
	return v
}
