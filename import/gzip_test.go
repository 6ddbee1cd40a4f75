package importer

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak/firebreak/graph"
)

// Gzip is handled once, by the core: Open detects on the decompressed head
// and ParseAll hands every parser the decompressed stream. No detector or
// parser knows gzip, so these tests go through Open and ParseAll.

func gzipOf(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	z := gzip.NewWriter(&b)
	if _, err := z.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A gzipped flow log is detected and imported exactly as the plain file;
// its raw bytes are claimed by no detector.
func TestGzipFlow(t *testing.T) {
	base := knownModel(t, flowTopology).Known
	one := func(name string) *Fragment {
		t.Helper()
		files, frags, err := importFiles(t, base, name)
		if err != nil {
			t.Fatal(err)
		}
		if files[0].Format.Name != "vpcflow" || len(frags) != 1 {
			t.Fatalf("%s: detected as %q, %d fragments", name, files[0].Format.Name, len(frags))
		}
		return frags[0]
	}
	plain := one("flows/vpcflow/default-v2-header.log")
	gz := one("flows/vpcflow/default-v2-header.log.gz")
	a := strings.ReplaceAll(string(renderFragment(plain)), ".log'", ".log.gz'")
	if b := string(renderFragment(gz)); a != b || len(gz.Edges) == 0 {
		t.Errorf("gzip differs:\n%s\n---\n%s", a, b)
	}
	raw := k8sMust(os.ReadFile(filepath.Join("testdata", "flows", "vpcflow", "default-v2-header.log.gz")))
	if f, err := Detect("default-v2-header.log.gz", raw); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("raw gzip bytes detected as %q (%v): detectors must only see decompressed heads", f.Name, err)
	}
}

// Document formats are decompressed by the same core path: a gzipped
// manifest is detected as Kubernetes and imports as the plain one.
func TestGzipDocument(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "shop.yaml.gz")
	if err := os.WriteFile(path, gzipOf(t, k8sMust(os.ReadFile("testdata/k8s/shop.yaml"))), 0o600); err != nil {
		t.Fatal(err)
	}
	files, frags, err := importPaths(nil, path)
	if err != nil {
		t.Fatal(err)
	}
	_, plain, err := importFiles(t, nil, "k8s/shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	all := func(graph.Edge) bool { return true }
	if files[0].Format.Name != "k8s" || len(frags) != 1 || len(frags[0].Edges) == 0 ||
		fmt.Sprint(k8sEdgeSet(frags[0], all)) != fmt.Sprint(k8sEdgeSet(plain[0], all)) {
		t.Errorf("gzipped manifest: format %q, %d fragments, edges differ from the plain file's", files[0].Format.Name, len(frags))
	}
}

// A corrupt or truncated gzip stream is an input error, whether detection
// or the parse meets it, for line and document formats alike.
func TestGzipCorrupt(t *testing.T) {
	dir := t.TempDir()
	log := k8sMust(os.ReadFile(filepath.Join("testdata", "flows", "vpcflow", "default-v2-header.log")))
	good := gzipOf(t, bytes.Repeat(log, 4))
	badCRC := append([]byte(nil), good...)
	badCRC[len(badCRC)-8] ^= 0xff // the CRC-32 of the trailer
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"bad header", []byte{0x1f, 0x8b, 8, 0, 1, 2}},
		{"truncated", good[:len(good)/2]},
		{"bad checksum", badCRC},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".gz")
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := Open(path, ""); !errors.Is(err, graph.ErrInvalid) || !strings.Contains(err.Error(), "gzip") {
				t.Errorf("detect: %v, want an input error about gzip", err)
			}
			for _, format := range []string{"vpcflow", "k8s"} {
				f, err := Open(path, format)
				if err != nil {
					t.Fatal(err)
				}
				_, err = ParseAll(context.Background(), []File{f}, nil, false)
				if !errors.Is(err, graph.ErrInvalid) || !strings.Contains(err.Error(), "gzip") {
					t.Errorf("%s: %v, want an input error about gzip", format, err)
				}
			}
		})
	}
}
