package importer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/firebreak/firebreak/graph"
)

// Input handling shared by the flow formats: bounded lines, --strict,
// detection, the real samples, and the fuzz targets' common body (gzip is
// the core's: gzip_test.go).

// The line reader returns lines of any length up to the bound, across the
// read buffer, with or without a final newline or CRs; longer lines come
// back empty, flagged, consumed.
func TestFlowLineReader(t *testing.T) {
	long := strings.Repeat("x", flowReadBuffer+10)
	in := "a\r\nb\n\n" + long + "\n" + strings.Repeat("y", 300) + "\nlast"
	lr := newLineReader(strings.NewReader(in), 200)
	var got []string
	for {
		l, ok := lr.next()
		if !ok {
			break
		}
		if lr.long {
			got = append(got, fmt.Sprintf("<long %d>", lr.line))
			continue
		}
		got = append(got, string(l))
	}
	want := []string{"a", "b", "", "<long 4>", "<long 5>", "last"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("lines %q, want %q", got, want)
	}
	lr = newLineReader(strings.NewReader(long+"\nend\n"), len(long))
	if l, ok := lr.next(); !ok || lr.long || string(l) != long {
		t.Errorf("a line at the bound and across the buffer: long=%v len=%d", lr.long, len(l))
	}
	if l, ok := lr.next(); !ok || string(l) != "end" {
		t.Errorf("after it: %q", l)
	}
}

// repeatReader yields n bytes of c without holding them.
type repeatReader struct {
	c byte
	n int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.n)
	for i := range p[:n] {
		p[i] = r.c
	}
	r.n -= n
	return n, nil
}

// A 10 MiB line is skipped (fatal with --strict), never buffered: the
// parse allocates far less than the line, and the lines around it count.
func TestFlowLongLine(t *testing.T) {
	good := map[string][2]string{
		"vpcflow":   {"", "2 111122223333 eni-0a 10.1.0.10 10.1.0.20 41000 5432 6 1 60 1700000000 1700000060 ACCEPT OK\n"},
		"zeek":      {"#separator \\x09\n#fields\tts\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\n", "1700000000.0\t10.1.0.10\t41000\t10.1.0.20\t5432\ttcp\n"},
		"conntrack": {"", "tcp 6 100 ESTABLISHED src=10.1.0.10 dst=10.1.0.20 sport=41000 dport=5432 src=10.1.0.20 dst=10.1.0.10 sport=5432 dport=41000\n"},
		"nfdump":    {"firstSeen,proto,srcAddr,srcPort,dstAddr,dstPort\n", "1700000000.000,6,10.1.0.10,41000,10.1.0.20,5432\n"},
	}
	for _, format := range flowFormats {
		t.Run(format, func(t *testing.T) {
			fm, _ := Lookup(format)
			input := func() io.Reader {
				return io.MultiReader(strings.NewReader(good[format][0]+good[format][1]), &repeatReader{'7', 10 << 20},
					strings.NewReader("\n"+good[format][1]))
			}
			lineNo := strings.Count(good[format][0], "\n") + 2
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			frag, err := fm.Parse(context.Background(), Input{Name: "big.log", R: input()}, knownModel(t, flowTopology))
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 6<<20 {
				t.Errorf("allocated %d MiB for a 10 MiB line", alloc>>20)
			}
			want := fmt.Sprintf("big.log:%d: line longer than %d bytes", lineNo, DefaultLimits.MaxLine)
			if frag.Report.Skipped != 1 || len(frag.Report.Examples) != 1 || frag.Report.Examples[0] != want {
				t.Errorf("skipped %d %q, want 1 %q", frag.Report.Skipped, frag.Report.Examples, want)
			}
			if got := edgeLines(frag); len(got) != 1 || got[0] != "web-1->postgres 5432/tcp hard" || frag.Edges[0].Observed.Count != 2 {
				t.Errorf("edges %q", got)
			}
			c := knownModel(t, flowTopology)
			c.Strict = true
			_, err = fm.Parse(context.Background(), Input{Name: "big.log", R: input()}, c)
			if !errors.Is(err, ErrTooLarge) || !errors.Is(err, graph.ErrInvalid) || !strings.Contains(err.Error(), fmt.Sprintf("big.log:%d:", lineNo)) {
				t.Errorf("strict: %v", err)
			}
		})
	}
}

// With --strict the first malformed record is an input error naming the
// file and line; without it every one is a counted skip.
func TestFlowStrict(t *testing.T) {
	for _, tc := range []struct{ format, file, where string }{
		{"vpcflow", "malformed.log", "flows/vpcflow/malformed.log:2: "},
		{"zeek", "malformed.log", "flows/zeek/malformed.log:1: "},
		{"conntrack", "malformed.txt", "flows/conntrack/malformed.txt:2: "},
		{"nfdump", "malformed.csv", "flows/nfdump/malformed.csv:1: "},
	} {
		t.Run(tc.format, func(t *testing.T) {
			name := filepath.Join("flows", tc.format, tc.file)
			data, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			fm, _ := Lookup(tc.format)
			c := knownModel(t, flowTopology)
			c.Strict = true
			_, err = fm.Parse(context.Background(), Input{Name: name, R: bytes.NewReader(data)}, c)
			if !errors.Is(err, graph.ErrInvalid) || !strings.HasPrefix(err.Error(), tc.where) {
				t.Errorf("strict: %v, want an input error at %s", err, tc.where)
			}
			if f := parseFile(t, tc.format, name, nil); f.Report.Skipped < 5 {
				t.Errorf("lenient: %d skipped", f.Report.Skipped)
			}
		})
	}
}

// Each flow file is recognised from its content, by its own detector only,
// and by the registry; the flow detectors claim nothing else.
func TestFlowDetect(t *testing.T) {
	detectors := map[string]func(string, []byte) bool{
		"vpcflow": detectVPCFlow, "zeek": detectZeek, "conntrack": detectConntrack, "nfdump": detectNfdump,
	}
	for _, format := range flowFormats {
		for _, file := range flowFiles(t, format) {
			if strings.HasPrefix(file, "malformed") {
				continue
			}
			t.Run(format+"/"+file, func(t *testing.T) {
				// Detectors see what the core hands them: the decompressed
				// head of a gzipped file.
				path := filepath.Join("testdata", "flows", format, file)
				data := readPlain(t, path)
				for name, d := range detectors {
					if got := d(file, data); got != (name == format) {
						t.Errorf("detect%s = %v", name, got)
					}
				}
				if f, err := Open(path, ""); err != nil || f.Format.Name != format {
					t.Errorf("registry: %v %v", f.Format.Name, err)
				}
			})
		}
	}
	for name, data := range map[string]string{
		"empty":           "",
		"jaeger":          `{"data":[{"parent":"a","child":"b","callCount":3}],"total":1}`,
		"json message":    `{"message":"hello world"}`,
		"json other":      `{"id.orig_h":"10.0.0.1","uid":"x"}`,
		"zeek dns json":   `{"_path":"dns","id.orig_h":"10.0.0.1","id.resp_h":"10.0.0.2","proto":"udp"}`,
		"zeek http tsv":   "#separator \\x09\n#path\thttp\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tmethod\n",
		"csv":             "a,b,c\n1,2,3\n",
		"yaml":            "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n",
		"dot":             "digraph g { a -> b }\n",
		"text":            "hello world\nthis is not a flow log\n",
		"vpc-like 13":     "2 111122223333 eni-0a 10.1.0.10 10.1.0.20 41000 5432 6 1 60 1700000000 1700000060 ACCEPT\n",
		"ps output":       "USER PID %CPU\nroot 1 0.0\n",
		"header of names": "alpha beta gamma delta\n",
	} {
		for format, d := range detectors {
			if d("x", []byte(data)) {
				t.Errorf("%s claims %s", format, name)
			}
		}
	}
}

// Without known nodes every address is grouped: the graph stays two nodes.
func TestFlowNoKnownModel(t *testing.T) {
	goldenFragment(t, parseFile(t, "vpcflow", "flows/vpcflow/default-v2-noheader.log", nil))
}

// flowRealdataDir is the folder of real samples beside the repository
// (FIREBREAK_REALDATA overrides); tests skip when it is absent.
func flowRealdataDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("FIREBREAK_REALDATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "realdata")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skip("no real-data samples beside the repository (set FIREBREAK_REALDATA)")
	}
	return dir
}

// Every real VPC flow log and Zeek conn.log sample is detected and imports
// without error or skip, with --strict.
func TestFlowRealdata(t *testing.T) {
	dir := flowRealdataDir(t)
	for sub, format := range map[string]string{"vpc-flow-logs": "vpcflow", "zeek-conn-log": "zeek"} {
		n := 0
		err := filepath.WalkDir(filepath.Join(dir, sub), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() == "SOURCE.md" {
				return err
			}
			n++
			t.Run(sub+"/"+d.Name(), func(t *testing.T) {
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				f, err := Detect(d.Name(), data)
				if err != nil || f.Name != format {
					t.Fatalf("detected %q, %v; want %s", f.Name, err, format)
				}
				frag, err := f.Parse(context.Background(), Input{Name: d.Name(), R: bytes.NewReader(data)}, &Context{Strict: true, Limits: DefaultLimits})
				if err != nil {
					t.Fatal(err)
				}
				if frag.Report.Records == 0 || frag.Report.Skipped != 0 {
					t.Errorf("%d records, %d skipped: %q", frag.Report.Records, frag.Report.Skipped, frag.Report.Examples)
				}
				m := &graph.Model{Nodes: frag.Nodes, Edges: frag.Edges}
				m.Sort()
				if err := graph.Validate(m); err != nil {
					t.Error(err)
				}
				t.Logf("%s", renderFragment(frag))
			})
			return nil
		})
		if err != nil || n == 0 {
			t.Errorf("%s: %d samples, %v", sub, n, err)
		}
	}
}

// fuzzRegressions are inputs fuzzing once found wrong, kept as seeds.
var fuzzRegressions = map[string][]string{
	"zeek": {"#separator"}, // a header line that fails counted a skip but no record
}

// fuzzFlow is every flow fuzz target: seeded from the format's testdata, it
// checks that no input panics, that errors are input errors, and that the
// output is bounded and valid against the known nodes.
func fuzzFlow(f *testing.F, format string) {
	for _, file := range flowFiles(f, format) {
		data, err := os.ReadFile(filepath.Join("testdata", "flows", format, file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, false)
		f.Add(data, true)
	}
	for _, seed := range fuzzRegressions[format] {
		f.Add([]byte(seed), false)
	}
	known := knownModel(f, flowTopology).Known
	fm, err := Lookup(format)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, strict bool) {
		for _, d := range []func(string, []byte) bool{detectVPCFlow, detectZeek, detectConntrack, detectNfdump} {
			d("fuzz", data[:min(len(data), headSize)])
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c := &Context{Known: known, Strict: strict, Limits: Limits{MaxLine: 4096, MaxDoc: 1 << 20, MaxDepth: 16}}
		frag, err := fm.Parse(ctx, Input{Name: "fuzz", R: bytes.NewReader(data)}, c)
		if err != nil {
			if !errors.Is(err, graph.ErrInvalid) {
				t.Fatalf("error is not an input error: %v", err)
			}
			return
		}
		r := frag.Report
		if len(frag.Edges) > r.Records || len(frag.Nodes) > 2 || r.Records > len(data) || r.Skipped > r.Records ||
			len(r.Examples) > maxExamples || len(r.Attempts) > maxAttemptLines || len(r.Notes) > 64 {
			t.Fatalf("unbounded output: %d edges, %d nodes, report %+v", len(frag.Edges), len(frag.Nodes), r)
		}
		if strict && r.Skipped > 0 {
			t.Fatalf("strict parse skipped %d records", r.Skipped)
		}
		m := &graph.Model{Nodes: append(append([]graph.Node(nil), known.Nodes...), frag.Nodes...), Edges: frag.Edges}
		m.Sort()
		if err := graph.Validate(m); err != nil {
			t.Fatalf("invalid fragment: %v", err)
		}
	})
}
