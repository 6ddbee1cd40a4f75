package importer

import "testing"

// Each file exercises traps of Zeek conn.log; the golden shows the imported
// graph and the report.
func TestZeek(t *testing.T) {
	for _, tc := range []struct{ file, traps string }{
		{"conn-tsv.log", "22 columns with ip_proto; S0/REJ/RSTOS0/SH are attempts; UDP S0 is one-way traffic; ^ flipped history and OTH decided by ports; ICMP; unset and (empty); IPv6; dependency none for SSH and node-exporter"},
		{"conn-banner-masked.log", "a banner before #separator; masked timestamps; 21 columns; no #close; multicast; ICMPv6 with tunnel_parents"},
		{"conn-rotated.log", "three header blocks with different #fields; a #close mid-stream; a dns.log block"},
		{"conn-separator.log", "#separator \\x7c; custom #unset_field and #empty_field; \\xHH escapes"},
		{"conn.ndjson", "JSON lines: flat dotted keys, omitted unset fields, epoch, ISO 8601 and millisecond timestamps, _path, the nested id form"},
		{"malformed.log", "counted skips: a record before #fields, wrong column count, bad address, port, time, protocol, broken JSON"},
	} {
		t.Run(tc.file, func(t *testing.T) { flowGolden(t, "zeek", tc.file) })
	}
}

func FuzzZeek(f *testing.F) { fuzzFlow(f, "zeek") }
