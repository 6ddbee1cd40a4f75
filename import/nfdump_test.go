package importer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Each file exercises traps of nfdump CSV; the golden shows the imported
// graph and the report. nfdump prints local time: the test reads it in a
// fixed zone (UTC+1), so the goldens hold on any machine.
func TestNfdump(t *testing.T) {
	zone := time.FixedZone("UTC+1", 3600)
	for _, tc := range []struct{ file, traps string }{
		{"v17-csv.csv", "1.7 -o csv; local time; protocol numbers; ICMP type.code; aggregated flows; an all-zero time; ICMPv6"},
		{"v17-custom.csv", "a user-defined csv format by header names; epoch seconds; a SYN without ACK is an unanswered attempt and names the initiator; a bare RST is a refusal"},
		{"csv-fast.csv", "csv-fast: epoch milliseconds, IPv4 and IPv6"},
		{"v16-csv.csv", "1.6's 48 columns; protocol names; 6-bit flag strings; the Summary trailer"},
		{"malformed.csv", "counted skips: a record before the header, wrong column count, bad address, time, scaled counter, port"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			name := filepath.Join("flows", "nfdump", tc.file)
			data, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			frag, err := parseNfdumpIn(context.Background(), Input{Name: name, R: bytes.NewReader(data)}, knownModel(t, flowTopology), zone)
			if err != nil {
				t.Fatal(err)
			}
			frag.File, frag.Format = name, "nfdump"
			goldenFragment(t, frag)
		})
	}
}

func FuzzNfdump(f *testing.F) { fuzzFlow(f, "nfdump") }
