package importer

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/firebreak/firebreak/graph"
)

// bsSplitRepo is the repository of the split catalog each node comes from.
var bsSplitRepo = map[string]string{
	"component:default/web-shop": "web-shop", "component:default/catalog-service": "catalog-service",
	"component:default/search": "search", "component:payments/checkout": "checkout",
	"resource:payments/payment-events": "checkout", "resource:default/books-db": "platform", "resource:default/cdn": "platform",
}

// TestBackstageSplit: the catalog kept as one catalog-info.yaml per
// repository joins exactly as the single file: consumesApis meets
// providesApis in other files, dependsOn and dependencyOf cross files, a
// System's domain is found in another file. Positions and provenance name
// each element's own file.
func TestBackstageSplit(t *testing.T) {
	one := parseFile(t, "backstage", "backstage/catalog.yaml", nil)
	split := parseMany(t, "backstage", "backstage/catalog-split", nil)
	k8sCheckFragment(t, split, 1<<20)
	all := func(graph.Edge) bool { return true }
	if got, want := k8sEdgeSet(split, all), k8sEdgeSet(one, all); fmt.Sprint(got) != fmt.Sprint(want) || len(got) != 7 {
		t.Errorf("edges of the split catalog:\n got %v\nwant %v", got, want)
	}
	if len(split.Nodes) != len(one.Nodes) || len(split.Nodes) != len(bsSplitRepo) {
		t.Fatalf("%d nodes, want %d", len(split.Nodes), len(one.Nodes))
	}
	lines := map[string][]string{}
	for i, n := range split.Nodes {
		o := one.Nodes[i]
		if n.ID != o.ID || n.Kind != o.Kind || n.Name != o.Name || fmt.Sprint(n.Labels) != fmt.Sprint(o.Labels) {
			t.Errorf("node %s %q %v differs from the single file's %s %q %v", n.ID, n.Name, n.Labels, o.ID, o.Name, o.Labels)
		}
		file := "backstage/catalog-split/" + bsSplitRepo[n.ID] + "/catalog-info.yaml"
		if n.Pos.File != file || fmt.Sprint(n.Sources) != fmt.Sprint([]string{Provenance("backstage", file)}) {
			t.Errorf("node %s: pos %s, sources %v; want its own file %s", n.ID, n.Pos, n.Sources, file)
		}
		lines[n.ID] = fileLines(t, file)
		text := strings.ToLower(objectText(lines[n.ID], n.Pos.Line)) + "\n"
		if name := n.ID[strings.Index(n.ID, "/")+1:]; !strings.Contains(text, "  name: "+name+"\n") && !strings.Contains(text, "  name: "+name+" ") {
			t.Errorf("node %s: %s does not start its entity", n.ID, n.Pos)
		}
	}
	// Every edge points at the line that declares it, in the file of the
	// entity holding that line: the line names one end, or an API the
	// provider provides.
	for _, e := range split.Edges {
		if fmt.Sprint(e.Sources) != fmt.Sprint([]string{Provenance("backstage", e.Pos.File)}) {
			t.Errorf("edge %s: pos %s, sources %v", e.Key(), e.Pos, e.Sources)
		}
		text := strings.ToLower(fileLines(t, e.Pos.File)[e.Pos.Line-1])
		names := []string{e.From[strings.Index(e.From, "/")+1:], e.To[strings.Index(e.To, "/")+1:]}
		for _, n := range split.Nodes {
			if n.ID == e.To {
				for _, api := range strings.Fields(n.Labels["provides_apis"]) {
					names = append(names, api[strings.Index(api, "/")+1:])
				}
			}
		}
		if !slices.ContainsFunc(names, func(s string) bool { return strings.Contains(text, s) }) {
			t.Errorf("edge %s points at %s %q, which names none of %v", e.Key(), e.Pos, text, names)
		}
	}
	for _, e := range split.Edges {
		if e.From == "component:default/web-shop" && e.To == "component:payments/checkout" && e.Pos.File != "backstage/catalog-split/web-shop/catalog-info.yaml" {
			t.Errorf("web-shop → checkout (payments-api, provided in checkout/) is declared in web-shop/, not %s", e.Pos)
		}
	}
	if got, want := reportText(split), reportText(one); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("report of the split catalog:\n got %q\nwant %q", got, want)
	}
	k8sWantLines(t, split.Report.Unresolved,
		fmt.Sprintf("backstage/catalog-split/web-shop/catalog-info.yaml:%d: component:default/web-shop consumesApis names component:default/recommender",
			k8sLineOf(t, "backstage/catalog-split/web-shop/catalog-info.yaml", "component:recommender")))
	k8sWantLines(t, split.Report.Notes,
		fmt.Sprintf("backstage/catalog-split/catalog-service/catalog-info.yaml:%d: api:default/catalog-api: $text substitution not fetched",
			k8sLineOf(t, "backstage/catalog-split/catalog-service/catalog-info.yaml", "$text")),
		"backstage/catalog-split/org/catalog-info.yaml:", "backstage/catalog-split/tools/catalog-info.yaml:")
}

// TestBackstageSplitGolden is the reviewed import of the split catalog.
func TestBackstageSplitGolden(t *testing.T) {
	goldenFragment(t, parseMany(t, "backstage", "backstage/catalog-split", nil))
}

// TestBackstageManyErrors: errors name the file and line of the entity
// they are about; all files' errors are reported together; an entity is
// unique across the files of an import.
func TestBackstageManyErrors(t *testing.T) {
	comp := func(name string) string {
		return "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: " + name + "\nspec: {type: service}\n"
	}
	for _, tc := range []struct {
		name  string
		files []string
		want  []string
	}{
		{"invalid in the second file", []string{"a.yaml", comp("a"), "b.yaml", "# b\n" + comp("billing engine")}, []string{`b.yaml:5: metadata.name "billing engine"`}},
		{"both files", []string{"a.yaml", comp("a b"), "b.yaml", comp("c d")}, []string{`a.yaml:4: metadata.name "a b"`, `b.yaml:4: metadata.name "c d"`}},
		{"duplicate across files", []string{"a.yaml", comp("search"), "b.yaml", "# b\n" + comp("Search")},
			[]string{"b.yaml:5: duplicate entity component:default/search (first at a.yaml:1; names compare case-insensitively)"}},
		{"templated second file", []string{"a.yaml", comp("a"), "b.yaml", "# b\n" + comp("${{ values.name }}")}, []string{"b.yaml:5: templated entity"}},
		{"nothing in the second file", []string{"a.yaml", comp("a"), "b.yaml", "# nothing\n"}, []string{"b.yaml:1: no Backstage entities"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := manyParse(t, "backstage", tc.files...)
			for _, w := range tc.want {
				if err == nil || !errors.Is(err, graph.ErrInvalid) || !strings.Contains(err.Error(), w) {
					t.Errorf("got %v, want an ErrInvalid containing %q", err, w)
				}
			}
		})
	}
}

// TestBackstageRealdataTogether imports the example catalog as `firebreak
// import` would, one file per entity as it is published: the joins cross
// files, and each element names its own file.
func TestBackstageRealdataTogether(t *testing.T) {
	dir := k8sRealdataDir(t, "backstage-catalog")
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	more, _ := filepath.Glob(filepath.Join(dir, "catalog-model-examples", "*.yaml"))
	var paths []string
	for _, p := range append(files, more...) {
		if filepath.Base(p) != "invalid-component.yaml" {
			paths = append(paths, p)
		}
	}
	_, frags, err := importPaths(nil, paths...)
	if err != nil {
		t.Fatal(err)
	}
	if len(frags) != 1 {
		t.Fatalf("%d fragments, want one for the %d files", len(frags), len(paths))
	}
	f := frags[0]
	got := fmt.Sprint(k8sEdgeSet(f, func(graph.Edge) bool { return true }))
	// wayback-search-component.yaml consumes the API that
	// wayback-archive-component.yaml provides (the API entity is a third
	// file); docs-example-artist-web.yaml depends on artists-db-resource.yaml.
	want := "[{component:default/artist-web resource:default/artists-db  hard } {component:default/wayback-search component:default/wayback-archive  hard }]"
	if got != want {
		t.Errorf("edges %s, want %s", got, want)
	}
	for _, e := range f.Edges {
		wantFile := map[string]string{"component:default/artist-web": "docs-example-artist-web.yaml", "component:default/wayback-search": "wayback-search-component.yaml"}[e.From]
		if filepath.Base(e.Pos.File) != wantFile || e.Sources[0] != Provenance("backstage", e.Pos.File) {
			t.Errorf("edge %s: pos %s, sources %v; want %s", e.Key(), e.Pos, e.Sources, wantFile)
		}
	}
	for _, n := range f.Nodes {
		if n.ID == "component:default/wayback-archive" && (filepath.Base(n.Pos.File) != "wayback-archive-component.yaml" || n.Sources[0] != Provenance("backstage", n.Pos.File)) {
			t.Errorf("wayback-archive: pos %s, sources %v", n.Pos, n.Sources)
		}
	}
	k8sWantLines(t, f.Report.Unresolved,
		"www-artist-component.yaml:", "component:default/www-artist consumesApis names component:default/artist-lookup, which is not an API",
		"backstage-demo-catalog-info.yaml:", "component:default/backstage-demo consumes api:default/demo-graphql, which nothing in this input provides")
	// With the sample Backstage rejects, the import fails and says where.
	_, _, err = importPaths(nil, append(paths, filepath.Join(dir, "catalog-model-examples", "invalid-component.yaml"))...)
	if err == nil || !errors.Is(err, graph.ErrInvalid) || !strings.Contains(err.Error(), `invalid-component.yaml:4: metadata.name "invalid component"`) {
		t.Errorf("with invalid-component.yaml: %v", err)
	}
}
