package importer

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// The flow report: what the aggregation kept apart (attempts), saw (address
// translations) and dropped (ICMP, ephemeral ports, self-edges…), each with
// a count, so nothing disappears silently; lists are bounded.

func plural(n uint64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// report writes what the aggregation dropped and why.
func (a *flowAggregator) report(edges int) {
	r := a.rep
	add := func(format string, args ...any) { r.Notes = append(r.Notes, fmt.Sprintf(format, args...)) }
	add("%s aggregated into %s over %s", plural(a.flows, "flow record", "flow records"),
		plural(uint64(edges), "edge", "edges"), plural(uint64(len(a.edges)), "client/server/port tuple", "client/server/port tuples"))
	var grouped []string
	if a.grouped[0] > 0 {
		grouped = append(grouped, fmt.Sprintf("%s at public addresses no node declares to %q", plural(a.grouped[0], "flow end", "flow ends"), a.res.ids[a.res.internet]))
	}
	if a.grouped[1] > 0 {
		grouped = append(grouped, fmt.Sprintf("%s at private addresses no node declares to %q", plural(a.grouped[1], "flow end", "flow ends"), a.res.ids[a.res.internal]))
	}
	if len(grouped) > 0 {
		add("grouped: %s", strings.Join(grouped, ", "))
	}
	if a.icmp > 0 {
		add("not edges: %s (edges carry tcp/udp ports; ICMP reachability is not a service dependency)", plural(a.icmp, "ICMP record", "ICMP records"))
	}
	if a.other > 0 {
		add("not edges: %s (edges carry tcp/udp ports)", plural(a.other, "record of another protocol", "records of other protocols"))
	}
	if a.noProto > 0 {
		add("not edges: %s without a protocol", plural(a.noProto, "record", "records"))
	}
	if a.noPort > 0 {
		add("not edges: %s without a server port", plural(a.noPort, "tcp/udp record", "tcp/udp records"))
	}
	if a.ephemeral > 0 {
		add("not edges: %s whose server port is ephemeral (>= %d) and not known to be listened on", plural(a.ephemeral, "record", "records"), ephemeralPorts)
	}
	if a.notPeer > 0 {
		add("not edges: %s to or from broadcast, multicast or unspecified addresses", plural(a.notPeer, "record", "records"))
	}
	if a.self > 0 {
		add("not edges: %s with both ends on one node or group", plural(a.self, "record", "records"))
	}
	if a.naclReplies > 0 {
		add("not attempts: %s (a stateless NACL dropping the answer to an admitted connection, or a refusal seen on the server's side)",
			plural(a.naclReplies, "rejected reply sent by a server", "rejected replies sent by servers"))
	}
	a.reportAttempts()
	a.reportNAT()
	r.Notes = append(r.Notes, a.res.notes...)
	r.Notes = append(r.Notes, a.notes...)
}

func (a *flowAggregator) label(n int32, addr netip.Addr) string {
	if addr.IsValid() {
		return fmt.Sprintf("%s (%s)", addr, a.res.ids[n])
	}
	return a.res.ids[n]
}

func (a *flowAggregator) reportAttempts() {
	type item struct {
		k     attemptKey
		s     attemptStat
		total uint64
	}
	var items []item
	var hidden uint64
	for k, s := range a.attempts {
		// A failure on a tuple that otherwise carries traffic is transient.
		// Unknown ends are grouped, so only between known nodes is it the
		// same tuple.
		if _, ok := a.edges[edgeKey{k.client, k.server, k.port, k.proto}]; ok && !k.caddr.IsValid() && !k.saddr.IsValid() {
			hidden++
			continue
		}
		items = append(items, item{k, s, s.rejected + s.unanswered})
	}
	// The most frequent first, ties in a fixed order; only those listed are
	// formatted (a scan leaves tens of thousands of tuples).
	ids := a.res.ids
	sort.Slice(items, func(i, j int) bool {
		x, y := &items[i], &items[j]
		switch {
		case x.total != y.total:
			return x.total > y.total
		case x.k.client != y.k.client:
			return ids[x.k.client] < ids[y.k.client]
		case x.k.server != y.k.server:
			return ids[x.k.server] < ids[y.k.server]
		case x.k.caddr != y.k.caddr:
			return x.k.caddr.Less(y.k.caddr)
		case x.k.saddr != y.k.saddr:
			return x.k.saddr.Less(y.k.saddr)
		case x.k.proto != y.k.proto:
			return x.k.proto < y.k.proto
		}
		return x.k.port < y.k.port
	})
	more := 0
	if len(items) > maxAttemptLines {
		more, items = len(items)-maxAttemptLines, items[:maxAttemptLines]
	}
	for _, it := range items {
		k, s := it.k, it.s
		var how []string
		if s.rejected > 0 {
			how = append(how, fmt.Sprintf("%d rejected", s.rejected))
		}
		if s.unanswered > 0 {
			how = append(how, fmt.Sprintf("%d unanswered", s.unanswered))
		}
		if len(how) == 1 {
			how[0] = strings.TrimLeft(how[0], "0123456789 ")
		}
		a.rep.Attempts = append(a.rep.Attempts, fmt.Sprintf("%s -> %s %d/%s (%s: %s)", a.label(k.client, k.caddr), a.label(k.server, k.saddr),
			k.port, graphProto(k.proto), plural(it.total, "attempt", "attempts"), strings.Join(how, ", ")))
	}
	sort.Strings(a.rep.Attempts)
	if more > 0 {
		a.rep.Notes = append(a.rep.Notes, fmt.Sprintf("attempts: %d more attempt tuples not listed (the %d most frequent are)", more, maxAttemptLines))
	}
	if a.attemptOverflow > 0 {
		a.rep.Notes = append(a.rep.Notes, fmt.Sprintf("attempts: %s beyond %d distinct tuples not tracked", plural(a.attemptOverflow, "attempt", "attempts"), maxAttemptTuples))
	}
	if hidden > 0 {
		a.rep.Notes = append(a.rep.Notes, fmt.Sprintf("attempts: %s on tuples that also carried accepted traffic not listed (transient failures)", plural(hidden, "failed tuple", "failed tuples")))
	}
}

func (a *flowAggregator) reportNAT() {
	type line struct {
		text string
		n    uint64
	}
	var lines []line
	for k, n := range a.nat {
		var text string
		switch {
		case !k.dst:
			text = fmt.Sprintf("nat: source %s also appears as %s (%s)", k.real.Addr(), k.alias.Addr(), plural(n, "record", "records"))
		case k.hasPortProto:
			text = fmt.Sprintf("nat: destination %s/%s is reached as %s (%s)", k.real, graphProto(k.proto), k.alias, plural(n, "record", "records"))
		default:
			text = fmt.Sprintf("nat: destination %s also appears as %s (%s)", k.real.Addr(), k.alias.Addr(), plural(n, "record", "records"))
		}
		lines = append(lines, line{text, n})
	}
	sort.Slice(lines, func(i, j int) bool {
		if lines[i].n != lines[j].n {
			return lines[i].n > lines[j].n
		}
		return lines[i].text < lines[j].text
	})
	more := 0
	if len(lines) > maxNATLines {
		more, lines = len(lines)-maxNATLines, lines[:maxNATLines]
	}
	var texts []string
	for _, l := range lines {
		texts = append(texts, l.text)
	}
	sort.Strings(texts)
	a.rep.Notes = append(a.rep.Notes, texts...)
	if more > 0 || a.natOverflow > 0 {
		a.rep.Notes = append(a.rep.Notes, fmt.Sprintf("nat: %d more translations not listed", more+int(a.natOverflow)))
	}
}
