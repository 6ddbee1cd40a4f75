package importer

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// Each file exercises traps of AWS VPC flow logs; the golden shows the
// imported graph and the report.
func TestVPCFlow(t *testing.T) {
	for _, tc := range []struct{ file, traps string }{
		{"default-v2-noheader.log", "default v2 order without header; NODATA/SKIPDATA; ICMP; GRE with - ports; double spaces; IPv6; account unknown; a reply decided by a listening port"},
		{"default-v2-header.log", "S3 header line; monitoring and SSH ports are dependency none; a REJECT of a reply is a NACL artefact"},
		{"default-v2-header.log.gz", "gzip detected from its magic"},
		{"custom-v3-tcp-flags.log", "custom order, header not starting with version; tcp-flags SYN/SYN-ACK/FIN decide the initiator; REJECT of a SYN-ACK; REJECT of a SYN is an attempt; - flags for UDP"},
		{"custom-v5-nat.log", "pkt-srcaddr/pkt-dstaddr behind a NAT gateway and pod networking; an unknown later field; - values"},
		{"cloudwatch.jsonl", "CloudWatch Logs export lines and a subscription batch"},
		{"concatenated.log", "a second header mid-stream, written as a format string"},
		{"malformed.log", "counted skips with the first five quoted"},
		{"ephemeral.log", "ephemeral server ports, self-edges, port 0, multicast; a listened-on ephemeral port"},
	} {
		t.Run(tc.file, func(t *testing.T) { flowGolden(t, "vpcflow", tc.file) })
	}
}

func FuzzVPCFlow(f *testing.F) { fuzzFlow(f, "vpcflow") }

// A header is every token shaped like a field name, at least three known
// ones among them with the addresses; records never are.
func TestVPCFlowHeader(t *testing.T) {
	for line, want := range map[string]bool{
		"version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status": true,
		"srcaddr dstaddr dstport":          true,
		"${srcaddr} ${dstaddr} ${dstport}": true,
		"log_status srcaddr dstaddr":       true, // Athena/Parquet names
		"srcaddr dstaddr next-hop-a next-hop-b resource-id encryption-status tag-owner":               false, // only two known
		"srcaddr dstaddr protocol resource-id encryption-status tag-owner future-field":               true,  // newer fields
		"account-id interface-id vpc-id":                                                              false, // no addresses
		"i-0123 eni-0123 10.1.0.5 10.1.0.6 - -":                                                       false,
		"2 111122223333 eni-0a 10.1.0.10 10.1.0.20 41000 5432 6 1 60 1700000000 1700000060 ACCEPT OK": false,
		"Srcaddr Dstaddr Protocol":                                                                    false,
	} {
		var buf [maxVPCFields][]byte
		f, _ := splitFields([]byte(line), buf[:0])
		if _, got := vpcHeader(f); got != want {
			t.Errorf("%q: header %v, want %v", line, got, want)
		}
	}
}

// A CloudWatch subscription batch longer than the detection head is still
// recognised, and every event in it is a record.
func TestVPCFlowLongBatch(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"messageType":"DATA_MESSAGE","owner":"111122223333","logEvents":[`)
	for i := range 400 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"%d","timestamp":1700000000000,"message":"2 111122223333 eni-0a 10.1.0.10 10.1.0.20 %d 5432 6 1 60 1700000000 1700000060 ACCEPT OK"}`, i, 40000+i)
	}
	b.WriteString("]}\n")
	if b.Len() <= headSize || !detectVPCFlow("batch.json", []byte(b.String())[:headSize]) {
		t.Fatalf("a %d-byte batch is not detected", b.Len())
	}
	frag, err := vpcFlowFormat.Parse(context.Background(), Input{Name: "batch.json", R: strings.NewReader(b.String())}, knownModel(t, flowTopology))
	if err != nil || frag.Report.Records != 400 || len(frag.Edges) != 1 || frag.Edges[0].Observed.Count != 400 {
		t.Errorf("%v: %+v", err, frag.Report)
	}
}
