package importer

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak/firebreak/graph"
	"github.com/firebreak/firebreak/internal/testutil"
)

// Shared by every format's tests: parse a testdata file and compare the
// fragment with a golden, rendered as the native YAML of its nodes and edges
// followed by its report, so a reviewer reads the imported graph directly.

// parseFile parses testdata/<name> with the named format and context.
func parseFile(t testing.TB, format, name string, c *Context) *Fragment {
	t.Helper()
	f, err := Lookup(format)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if c == nil {
		c = &Context{Limits: DefaultLimits}
	}
	frag, err := f.Parse(context.Background(), Input{Name: name, R: bytes.NewReader(data)}, c)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	frag.File, frag.Format = name, format
	return frag
}

// renderFragment writes a fragment as the reviewer should see it.
func renderFragment(f *Fragment) []byte {
	m := &graph.Model{Nodes: f.Nodes, Edges: f.Edges, Journeys: f.Journeys}
	m.Sort()
	var b bytes.Buffer
	_ = graph.WriteYAML(&b, m.TopologyDoc(""))
	if len(m.Journeys) > 0 {
		_ = graph.WriteYAML(&b, m.JourneysDoc(""))
	}
	r := f.Report
	fmt.Fprintf(&b, "# report: %d records, %d skipped\n", r.Records, r.Skipped)
	for _, group := range []struct {
		name  string
		items []string
	}{{"skipped", r.Examples}, {"attempt", r.Attempts}, {"unresolved", r.Unresolved}, {"note", r.Notes}} {
		for _, it := range group.items {
			fmt.Fprintf(&b, "# %s: %s\n", group.name, strings.ReplaceAll(it, "\n", " "))
		}
	}
	return b.Bytes()
}

// goldenFragment compares a fragment with testdata/<TestName>.golden.
func goldenFragment(t *testing.T, f *Fragment) {
	t.Helper()
	testutil.Golden(t, renderFragment(f))
}

// knownModel builds a Context whose known nodes are the given native
// topology, for formats that resolve addresses.
func knownModel(t testing.TB, topology string) *Context {
	t.Helper()
	return &Context{Known: testutil.Model(t, topology), Limits: DefaultLimits}
}

// importFiles runs testdata/<name>… through what `firebreak import` does:
// Open (detection on the decompressed head) and ParseAll (decompression,
// ParseMany for the formats that read their files together), with base as
// the known model. It returns the detected files and the fragments.
func importFiles(t testing.TB, base *graph.Model, names ...string) ([]File, []*Fragment, error) {
	t.Helper()
	paths := make([]string, len(names))
	for i, name := range names {
		paths[i] = filepath.Join("testdata", name)
	}
	return importPaths(base, paths...)
}

// importPaths is importFiles for paths anywhere.
func importPaths(base *graph.Model, paths ...string) ([]File, []*Fragment, error) {
	var files []File
	for _, p := range paths {
		f, err := Open(p, "")
		if err != nil {
			return nil, nil, err
		}
		files = append(files, f)
	}
	frags, err := ParseAll(context.Background(), files, base, false)
	return files, frags, err
}

// readPlain reads a file as the core hands it to detectors and parsers:
// decompressed when it is gzip.
func readPlain(t testing.TB, path string) []byte {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	r, err := decompress(bufio.NewReader(fh))
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
