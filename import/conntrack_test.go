package importer

import "testing"

// Each file exercises traps of conntrack tables; the golden shows the
// imported graph and the report.
func TestConntrack(t *testing.T) {
	for _, tc := range []struct{ file, traps string }{
		{"nf_conntrack.txt", "/proc layout with L3 columns and padding; accounting; DNAT (ClusterIP to pod, port change); SNAT; [UNREPLIED] TCP is an attempt, UDP one-way traffic; offloaded entry without timeout; ICMP; IGMP; GRE; full-form IPv6"},
		{"conntrack-L.txt", "conntrack -L without L3 columns or accounting; compressed IPv6; -o id; the summary line"},
		{"events.txt", "-o timestamp events: [NEW] (unreplied by nature), [UPDATE], [DESTROY] with delta-time; a destroyed unreplied entry"},
		{"malformed.txt", "counted skips"},
	} {
		t.Run(tc.file, func(t *testing.T) { flowGolden(t, "conntrack", tc.file) })
	}
}

func FuzzConntrack(f *testing.F) { fuzzFlow(f, "conntrack") }
