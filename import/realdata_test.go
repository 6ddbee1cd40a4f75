package importer

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/firebreak/firebreak/graph"
)

// realdataDir is the folder of real third-party samples beside the
// repository (FIREBREAK_REALDATA overrides). It is not part of the project:
// tests use it when present and skip otherwise.
func realdataDir(t *testing.T) string {
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

// realdataErrors lists the samples whose format demands an error, with the
// text the error must contain.
var realdataErrors = map[string]string{
	// Backstage rejects this entity's name and tag itself.
	"backstage-catalog/catalog-model-examples/invalid-component.yaml": `metadata.name "invalid component"`,
	// An nmap run that failed holds no scan: importing it as "nothing there"
	// would be a lie.
	"nmap-xml/ullaakut-scan_error_resolving_name.xml": "nmap run failed: Error resolving name localhost",
	// Docker Compose is not a topology format firebreak reads.
	"sock-shop/docker-compose.yml": "unknown format",
}

// TestRealdataDetectsAndImports runs every sample through what `firebreak
// import FILE` does: detection from content alone, parsing, merging and
// validation. Each must import, or fail exactly as realdataErrors says.
func TestRealdataDetectsAndImports(t *testing.T) {
	dir := realdataDir(t)
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() != "SOURCE.md" {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	if len(files) < 20 {
		t.Fatalf("only %d samples under %s", len(files), dir)
	}
	for _, p := range files {
		rel, _ := filepath.Rel(dir, p)
		t.Run(rel, func(t *testing.T) {
			err := importOne(p)
			want, expectErr := realdataErrors[filepath.ToSlash(rel)]
			switch {
			case expectErr && err == nil:
				t.Fatalf("imported, but the format demands an error containing %q", want)
			case expectErr && (!strings.Contains(err.Error(), want) || !errors.Is(err, graph.ErrInvalid)):
				t.Fatalf("error %v, want an input error containing %q", err, want)
			case !expectErr && err != nil:
				t.Fatal(err)
			}
		})
	}
}

// TestRealdataFoldersTogether imports each sample folder in one go, as
// `firebreak import DIR/*` does: formats with ParseMany read all their files
// together (references cross files), the others one by one, and the result
// must merge, validate and compile. The samples that must fail are left out.
func TestRealdataFoldersTogether(t *testing.T) {
	dir := realdataDir(t)
	folders, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, folder := range folders {
		if !folder.IsDir() {
			continue
		}
		t.Run(folder.Name(), func(t *testing.T) {
			var paths []string
			err := filepath.WalkDir(filepath.Join(dir, folder.Name()), func(p string, d fs.DirEntry, err error) error {
				rel, _ := filepath.Rel(dir, p)
				if _, fails := realdataErrors[filepath.ToSlash(rel)]; err == nil && !d.IsDir() && d.Name() != "SOURCE.md" && !fails {
					paths = append(paths, p)
				}
				return err
			})
			if err != nil || len(paths) == 0 {
				t.Fatalf("%d samples, %v", len(paths), err)
			}
			if err := importAll(paths...); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func importOne(path string) error { return importAll(path) }

// importAll is `firebreak import PATH…`: detect, parse, merge, validate,
// compile.
func importAll(paths ...string) error {
	var files []File
	for _, p := range paths {
		f, err := Open(p, "")
		if err != nil {
			return err
		}
		files = append(files, f)
	}
	frags, err := ParseAll(context.Background(), files, nil, false)
	if err != nil {
		return err
	}
	m, _, err := Merge(nil, frags)
	if err != nil {
		return err
	}
	if err := graph.Validate(m); err != nil {
		return err
	}
	_, err = graph.Compile(m)
	return err
}
