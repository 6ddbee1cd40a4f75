package importer

// Nmap XML (-oX) → host inventory with listening ports.
//
//   - Read with a streaming encoding/xml decoder: nesting is bounded by
//     Limits.MaxDepth and size by Limits.MaxDoc. An interrupted scan leaves
//     a truncated document (no </runstats>, no </nmaprun>): the hosts read
//     completely are kept, the one cut off is dropped, and a note says so.
//   - Hosts whose status is up become nodes of kind host. Id: the first
//     hostname nmap lists (the user's target name, else the PTR name), else
//     the IP address; a hostname shared by two addresses leaves the second
//     host with its IP as id. Addresses: IPv4 and IPv6. The MAC address and
//     its vendor, the other hostnames and the best OS match are labels.
//     Down hosts (-v, list and range scans) are skipped and counted;
//     <hosthint> elements (Nmap ≥ 7.9x repeats each host before its full
//     record) are not hosts and are not counted. The same address reported
//     twice merges into one node.
//   - Ports whose state is exactly "open" are the node's Listens (TCP and
//     UDP; SCTP and IP-protocol scans are noted). "open|filtered" means no
//     answer came back (typical of UDP or a dropping firewall), which is not
//     evidence of a listener: such ports are counted in a note, not listed.
//     The service on each open port is a label "service/PORT/PROTO": name,
//     product and version, marked "(guessed from port)" when nmap only
//     looked the port number up (method=table) rather than probing.
//   - Edges come only from <trace>: a scan shows what the scanner reaches,
//     not who depends on whom. Each traceroute becomes a chain hop1 → hop2
//     → … → host of dependency none edges (reachability on any port); hops
//     that are not scanned hosts become nodes of kind network (id: the
//     hop's name, else its IP). The scanner itself is not a node: the XML
//     does not say which machine it is.
//   - An error run (<finished exit="error" errormsg=…> and no host at all)
//     is refused with nmap's message: it carries no inventory, and
//     importing it as an empty scan would say "nothing is there". A run that
//     ends in error after reporting hosts keeps them and notes the error.

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/firebreak/firebreak/graph"
)

var nmapFormat = Format{Name: "nmap", Detect: detectNmap, Parse: parseNmap}

func detectNmap(_ string, head []byte) bool {
	h := trimHead(head)
	return bytes.HasPrefix(h, []byte("<")) && bytes.Contains(h, []byte("<nmaprun"))
}

type nmapPort struct {
	proto, state                           string
	port                                   uint16
	name, product, version, method, tunnel string
}

type nmapHop struct {
	ttl      int
	ip, host string
}

type nmapHost struct {
	line          int
	state         string
	addrs         []netip.Prefix
	mac, vendor   string
	names         []string
	ports         []*nmapPort
	hops          []nmapHop
	os            string
	timedOut      bool
	hasHostStatus bool
}

type nmapRun struct {
	file                 string
	hosts                []*nmapHost
	records, hints, down int
	other                map[string]int
	truncated            bool
	partial              *nmapHost
	exit, errmsg         string
	finishedLine         int
	statsUp              int
	haveStats            bool
	scanner, version     string
}

func parseNmap(ctx context.Context, in Input, c *Context) (frag *Fragment, err error) {
	defer ynRecover(in.Name, &err)
	lim := ynLimits(c)
	run, err := readNmap(ctx, in, lim)
	if err != nil {
		return nil, err
	}
	if len(run.hosts) == 0 && run.records == 0 && (run.exit == "error" || run.errmsg != "") {
		msg := run.errmsg
		if msg == "" {
			msg = "no error message"
		}
		return nil, ynErr(in.Name, run.finishedLine, "nmap run failed: %s (no hosts; rerun the scan)", strings.TrimSpace(msg))
	}
	return run.fragment(), nil
}

func readNmap(ctx context.Context, in Input, lim Limits) (*nmapRun, error) {
	cr := &nmapCounter{r: in.R, max: int64(lim.MaxDoc)}
	d := xml.NewDecoder(cr)
	d.CharsetReader = nmapCharset
	run := &nmapRun{file: in.Name, other: map[string]int{}}
	var stack []string
	var cur *nmapHost
	var port *nmapPort
	sawRoot := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			if len(stack) > 0 {
				run.truncated = true
			}
			break
		}
		if err != nil {
			line, _ := d.InputPos()
			if errors.Is(err, ErrTooLarge) {
				return nil, fmt.Errorf("%s: %w: larger than %d MiB", in.Name, ErrTooLarge, lim.MaxDoc>>20)
			}
			var se *xml.SyntaxError
			if errors.As(err, &se) && se.Msg == "unexpected EOF" {
				if !sawRoot {
					return nil, ynErr(in.Name, line, "not an nmap XML file: it ends before the <nmaprun> element")
				}
				run.truncated = true
				break
			}
			msg := err.Error()
			if errors.As(err, &se) {
				line, msg = se.Line, se.Msg
			}
			return nil, ynErr(in.Name, line, "not valid nmap XML: %s", msg)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := t.Name.Local
			parent := ""
			if len(stack) > 0 {
				parent = stack[len(stack)-1]
			}
			stack = append(stack, name)
			line, _ := d.InputPos()
			if len(stack) > lim.MaxDepth {
				return nil, fmt.Errorf("%s:%d: %w: XML nested deeper than %d levels", in.Name, line, ErrTooLarge, lim.MaxDepth)
			}
			if len(stack) == 1 {
				if name != "nmaprun" {
					return nil, ynErr(in.Name, line, "not an nmap XML file: the root element is <%s>, want <nmaprun>", name)
				}
				sawRoot = true
				run.scanner, run.version = nmapAttr(t, "scanner"), nmapAttr(t, "version")
				continue
			}
			if len(stack) == 2 && name == "host" {
				if run.records%1024 == 0 {
					if err := ctx.Err(); err != nil {
						return nil, err
					}
				}
				cur = &nmapHost{line: line, timedOut: nmapAttr(t, "timedout") == "true"}
				continue
			}
			if len(stack) == 2 && name == "hosthint" {
				run.hints++
				continue
			}
			if cur == nil {
				switch {
				case name == "finished" && parent == "runstats":
					run.exit, run.errmsg, run.finishedLine = nmapAttr(t, "exit"), nmapAttr(t, "errormsg"), line
				case name == "hosts" && parent == "runstats":
					run.statsUp, _ = strconv.Atoi(nmapAttr(t, "up"))
					run.haveStats = true
				}
				continue
			}
			cur.element(t, name, parent, &port)
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			if len(stack) == 1 && t.Name.Local == "host" && cur != nil {
				run.records++
				switch cur.state {
				case "up":
					run.hosts = append(run.hosts, cur)
				case "down":
					run.down++
				default:
					run.other[cur.state]++
				}
				cur, port = nil, nil
			}
		}
	}
	if !sawRoot {
		return nil, ynErr(in.Name, 1, "not an nmap XML file: no <nmaprun> element")
	}
	run.partial = cur
	return run, nil
}

// element records one element inside <host>.
func (h *nmapHost) element(t xml.StartElement, name, parent string, port **nmapPort) {
	switch {
	case name == "status" && parent == "host":
		h.state, h.hasHostStatus = nmapAttr(t, "state"), true
	case name == "address" && parent == "host":
		addr := nmapAttr(t, "addr")
		switch nmapAttr(t, "addrtype") {
		case "ipv4", "ipv6":
			if p, err := graph.ParseAddress(addr); err == nil && p.IsSingleIP() {
				h.addrs = append(h.addrs, p)
			}
		case "mac":
			h.mac, h.vendor = addr, nmapAttr(t, "vendor")
		}
	case name == "hostname" && parent == "hostnames":
		if n := strings.TrimSpace(nmapAttr(t, "name")); n != "" && !slices.Contains(h.names, n) && len(h.names) < 64 {
			h.names = append(h.names, n)
		}
	case name == "port" && parent == "ports":
		p := &nmapPort{proto: nmapAttr(t, "protocol")}
		if n, err := strconv.ParseUint(nmapAttr(t, "portid"), 10, 16); err == nil && n > 0 {
			p.port = uint16(n)
			h.ports = append(h.ports, p)
			*port = p
		} else {
			*port = nil
		}
	case name == "state" && parent == "port" && *port != nil:
		(*port).state = nmapAttr(t, "state")
	case name == "service" && parent == "port" && *port != nil:
		p := *port
		p.name, p.product, p.version = nmapAttr(t, "name"), nmapAttr(t, "product"), nmapAttr(t, "version")
		p.method, p.tunnel = nmapAttr(t, "method"), nmapAttr(t, "tunnel")
	case name == "hop" && parent == "trace":
		ttl, _ := strconv.Atoi(nmapAttr(t, "ttl"))
		if len(h.hops) < 255 {
			h.hops = append(h.hops, nmapHop{ttl: ttl, ip: nmapAttr(t, "ipaddr"), host: nmapAttr(t, "host")})
		}
	case name == "osmatch" && parent == "os" && h.os == "":
		h.os = nmapAttr(t, "name")
		if acc := nmapAttr(t, "accuracy"); acc != "" {
			h.os += " (" + acc + "%)"
		}
	}
}

// fragment turns the scan into nodes and trace edges.
func (r *nmapRun) fragment() *Fragment {
	src := Provenance("nmap", r.file)
	f := &Fragment{}
	f.Report.Records = r.records
	notes := ynCapList{max: 40}
	nodes := map[string]*graph.Node{}
	byAddr := map[netip.Addr]string{}
	openFiltered, otherProto := 0, map[string]int{}
	for _, h := range r.hosts {
		if len(h.addrs) == 0 {
			f.Report.Skip(r.file, h.line, "host without an IP address")
			continue
		}
		if id, ok := byAddr[h.addrs[0].Addr()]; ok { // the same host again
			r.fill(nodes[id], h, &openFiltered, otherProto)
			continue
		}
		id := h.addrs[0].Addr().String()
		if len(h.names) > 0 {
			id = h.names[0]
			if k8sCheckID(id) != "" {
				id = safeNodeID(id)
				notes.add("%s:%d: hostname %q is not a valid id (white space, commas or control characters, or too long): it is %s", r.file, h.line, dotClip(h.names[0]), id)
			}
			if _, taken := nodes[id]; taken {
				notes.add("%s:%d: hostname %s is also another host's: this host keeps its IP %s as id", r.file, h.line, id, h.addrs[0].Addr())
				id = h.addrs[0].Addr().String()
			}
		}
		n := &graph.Node{ID: id, Kind: graph.KindHost, Sources: []string{src}, Pos: graph.Pos{File: r.file, Line: h.line}}
		nodes[id] = n
		for _, a := range h.addrs {
			if _, ok := byAddr[a.Addr()]; !ok {
				byAddr[a.Addr()] = id
			}
		}
		r.fill(n, h, &openFiltered, otherProto)
	}
	// Traceroutes: hop chains towards each host.
	edges := map[graph.EdgeKey]*graph.Edge{}
	hopNodes := 0
	for _, h := range r.hosts {
		if len(h.hops) == 0 || len(h.addrs) == 0 {
			continue
		}
		target := byAddr[h.addrs[0].Addr()]
		hops := append([]nmapHop(nil), h.hops...)
		sort.SliceStable(hops, func(i, j int) bool { return hops[i].ttl < hops[j].ttl })
		var chain []string
		for _, hop := range hops {
			a, err := netip.ParseAddr(hop.ip)
			if err != nil {
				continue
			}
			a = a.Unmap()
			id, ok := byAddr[a]
			if !ok {
				id = a.String()
				if hop.host != "" && k8sCheckID(hop.host) == "" && nodes[hop.host] == nil {
					id = hop.host
				}
				n := &graph.Node{ID: id, Kind: graph.KindNetwork, Labels: map[string]string{"role": "traceroute hop"},
					Addresses: []netip.Prefix{netip.PrefixFrom(a, a.BitLen())}, Sources: []string{src}, Pos: graph.Pos{File: r.file, Line: h.line}}
				if hop.host != "" && id != hop.host {
					n.Labels["hostnames"] = hop.host
				}
				nodes[id], byAddr[a] = n, id
				hopNodes++
			}
			if len(chain) == 0 || chain[len(chain)-1] != id {
				chain = append(chain, id)
			}
		}
		if len(chain) > 0 && chain[len(chain)-1] != target {
			chain = append(chain, target)
		}
		for i := 0; i+1 < len(chain); i++ {
			k := graph.EdgeKey{From: chain[i], To: chain[i+1]}
			if _, ok := edges[k]; !ok && k.From != k.To {
				edges[k] = &graph.Edge{From: k.From, To: k.To, Dependency: graph.DepNone, Sources: []string{src}, Pos: graph.Pos{File: r.file, Line: h.line}}
			}
		}
	}
	for _, id := range sortedKeys(nodes) {
		f.Nodes = append(f.Nodes, *nodes[id])
	}
	for _, k := range k8sSortedEdgeKeys(edges) {
		f.Edges = append(f.Edges, *edges[k])
	}
	if r.down > 0 {
		notes.add("%d hosts down: skipped", r.down)
	}
	for _, s := range sortedKeys(r.other) {
		state := s
		if state == "" {
			state = "missing"
		}
		notes.add("%d hosts with status %s: skipped", r.other[s], state)
	}
	if r.hints > 0 {
		notes.add("%d <hosthint> elements ignored (each host's full record follows it)", r.hints)
	}
	if openFiltered > 0 {
		notes.add("%d ports open|filtered (no answer: UDP or a dropping firewall) are not counted as listening", openFiltered)
	}
	for _, p := range sortedKeys(otherProto) {
		notes.add("%d open %s ports not modelled (TCP and UDP only)", otherProto[p], p)
	}
	if hopNodes > 0 {
		notes.add("%d traceroute hops that were not scanned became network nodes; the scanner itself is not a node", hopNodes)
	}
	if r.truncated {
		msg := "the scan is truncated (interrupted or still running): hosts read completely are kept"
		if r.partial != nil {
			msg += fmt.Sprintf("; the host cut off at line %d is dropped", r.partial.line)
		}
		notes.add("%s", msg)
	} else if r.haveStats && r.statsUp != len(r.hosts) {
		notes.add("runstats says %d hosts up, the file holds %d", r.statsUp, len(r.hosts))
	}
	if r.exit == "error" || r.errmsg != "" {
		notes.add("%s:%d: nmap ended with an error: %s", r.file, r.finishedLine, strings.TrimSpace(r.errmsg))
	}
	f.Report.Notes = notes.out("notes")
	return f
}

// fill adds a host record's addresses, labels and open ports to its node.
func (r *nmapRun) fill(n *graph.Node, h *nmapHost, openFiltered *int, otherProto map[string]int) {
	n.Addresses = unionPrefixes(n.Addresses, h.addrs)
	set := func(k, v string) {
		if v == "" {
			return
		}
		if n.Labels == nil {
			n.Labels = map[string]string{}
		}
		n.Labels[k] = v
	}
	set("mac", h.mac)
	set("mac_vendor", h.vendor)
	set("os", h.os)
	if len(h.names) > 1 || (len(h.names) == 1 && h.names[0] != n.ID) {
		set("hostnames", strings.Join(h.names, " "))
	}
	if h.timedOut {
		set("scan", "timed out: ports may be missing")
	}
	var listens []graph.PortRange
	for _, p := range h.ports {
		if p.state == "open|filtered" {
			*openFiltered++
			continue
		}
		if p.state != "open" {
			continue
		}
		var proto graph.Proto
		switch p.proto {
		case "tcp":
			proto = graph.ProtoTCP
		case "udp":
			proto = graph.ProtoUDP
		default:
			otherProto[p.proto]++
			continue
		}
		listens = append(listens, graph.PortRange{Proto: proto, Lo: p.port, Hi: p.port})
		name := p.name
		if p.tunnel != "" && name != "" {
			name = p.tunnel + "/" + name
		}
		desc := strings.Join(strings.Fields(strings.Join([]string{name, p.product, p.version}, " ")), " ")
		if desc != "" && p.method == "table" {
			desc += " (guessed from port)"
		}
		set(fmt.Sprintf("service/%d/%s", p.port, p.proto), desc)
	}
	n.Listens = unionPorts(n.Listens, listens)
}
