package importer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak/firebreak/graph"
	"github.com/firebreak/firebreak/internal/testutil"
)

func TestBackstageGolden(t *testing.T) {
	for _, name := range []string{"catalog.yaml", "entities.json"} {
		t.Run(strings.ReplaceAll(name, ".", "_"), func(t *testing.T) {
			f := parseFile(t, "backstage", "backstage/"+name, nil)
			k8sCheckFragment(t, f, 1<<20)
			goldenFragment(t, f)
		})
	}
}

// TestBackstageCatalog pins the joins and the reports of the catalog.
func TestBackstageCatalog(t *testing.T) {
	f := parseFile(t, "backstage", "backstage/catalog.yaml", nil)
	got := k8sEdgeSet(f, func(graph.Edge) bool { return true })
	want := []k8sEdgeWant{
		{"component:default/catalog-service", "component:default/search", "", "hard", ""},   // dependsOn: search (no kind) and search's dependencyOf
		{"component:default/catalog-service", "resource:default/books-db", "", "hard", ""},  // dependsOn resource:default/books-db
		{"component:default/web-shop", "component:default/catalog-service", "", "hard", ""}, // consumesApis catalog-api ⋈ providesApis
		{"component:default/web-shop", "component:default/search", "", "hard", ""},          // second provider of catalog-api (and component:search)
		{"component:default/web-shop", "component:payments/checkout", "", "hard", ""},       // api:payments/payments-api, provided in namespace payments
		{"component:default/web-shop", "resource:default/cdn", "", "hard", ""},              // dependsOn resource:cdn and cdn's dependencyOf
		{"component:payments/checkout", "resource:payments/payment-events", "", "hard", ""}, // dependsOn in the referrer's namespace
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("edges:\n got %v\nwant %v", got, want)
	}
	kinds := k8sNodeKinds(f)
	for id, k := range map[string]graph.Kind{
		"resource:default/books-db": graph.KindDatastore, "resource:default/cdn": graph.KindLB,
		"resource:payments/payment-events": graph.KindService, "component:default/web-shop": graph.KindService,
	} {
		if kinds[id] != k {
			t.Errorf("%s is %q, want %s", id, kinds[id], k)
		}
	}
	for id := range kinds {
		if strings.HasPrefix(id, "api:") || strings.HasPrefix(id, "system:") || strings.HasPrefix(id, "group:") {
			t.Errorf("%s should not be a node", id)
		}
	}
	for _, n := range f.Nodes {
		if n.ID == "component:default/catalog-service" && (n.Name != "Catalog-Service" || n.Labels["owner"] != "user:default/ada" || n.Labels["domain"] != "default/commerce") {
			t.Errorf("catalog-service: name %q labels %v", n.Name, n.Labels)
		}
		if n.ID == "component:payments/checkout" && n.Labels["owner"] != "group:default/commerce-team" {
			t.Errorf("checkout owner: %v", n.Labels)
		}
	}
	k8sWantLines(t, f.Report.Unresolved,
		"component:default/web-shop consumesApis names component:default/recommender, which is not an API (and not in this input)",
		"component:payments/checkout dependsOn resource:default/fraud-model: not in this input",
		"component:payments/checkout consumes api:payments/ledger-api, which nothing in this input provides")
	k8sWantLines(t, f.Report.Notes,
		"consumesApis names component:default/search, which is not an API: kept as a direct dependency",
		"dependsOn system:default/storefront: a system is not a runtime dependency",
		"$text substitution not fetched", "$yaml substitution not fetched",
		"spec.apiConsumedBy is a relation name",
		"Location more-services: its targets are not fetched",
		"scaffolder Template new-service skipped")
}

// TestBackstageREST: the catalog API's JSON, as an array and as
// {items: […]}, with resolved relations preferred over spec.
func TestBackstageREST(t *testing.T) {
	data := k8sMust(os.ReadFile("testdata/backstage/entities.json"))
	for _, form := range []struct{ name, data string }{
		{"array", string(data)},
		{"items", `{"items": ` + string(data) + `, "totalItems": 4, "pageInfo": {}}`},
	} {
		f, err := k8sParseBytes(t, "backstage", form.name, []byte(form.data), nil)
		if err != nil {
			t.Fatalf("%s: %v", form.name, err)
		}
		got := fmt.Sprint(k8sEdgeSet(f, func(graph.Edge) bool { return true }))
		want := "[{component:default/orders component:default/inventory  hard } {component:default/orders resource:default/orders-db  hard }]"
		if got != want {
			t.Errorf("%s: edges %s, want %s", form.name, got, want)
		}
		if len(f.Report.Unresolved) != 0 {
			t.Errorf("%s: unresolved %v (spec.providesApis must be ignored when relations exist)", form.name, f.Report.Unresolved)
		}
	}
}

// TestBackstageKnown: with --merge, refs resolve against the base
// revision, and API joins work across imports through the labels.
func TestBackstageKnown(t *testing.T) {
	c := knownModel(t, testutil.Dedent(`
		apiVersion: firebreak/v1
		kind: Topology
		nodes:
		  - id: component:default/wayback-archive
		    kind: service
		    labels: {provides_apis: "api:default/wayback-archive"}
		  - id: component:default/indexer
		    kind: service
		    labels: {consumes_apis: "api:default/wayback-search"}
		  - id: resource:default/artists-db
		    kind: datastore
	`))
	data := []byte(`apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: wayback-search}
spec:
  type: service
  owner: team-a
  providesApis: [wayback-search]
  consumesApis: [wayback-archive]
  dependsOn: [resource:artists-db]
`)
	f, err := k8sParseBytes(t, "backstage", "search.yaml", data, c)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(k8sEdgeSet(f, func(graph.Edge) bool { return true }))
	want := "[{component:default/indexer component:default/wayback-search  hard } {component:default/wayback-search component:default/wayback-archive  hard } {component:default/wayback-search resource:default/artists-db  hard }]"
	if got != want || len(f.Report.Unresolved) > 0 {
		t.Errorf("edges %s (unresolved %v), want %s", got, f.Report.Unresolved, want)
	}
}

func TestBackstageErrors(t *testing.T) {
	for _, tc := range []struct{ name, file, data string }{
		{"templated", "backstage/templated.yaml", "backstage/templated.yaml:4: templated entity (${{ values.name | dump }}): a scaffolder skeleton"},
		{"invalid name", "backstage/invalid.yaml", `backstage/invalid.yaml:4: metadata.name "billing engine": want 1-63 characters`},
		{"invalid tag", "backstage/invalid.yaml", `backstage/invalid.yaml:5: metadata.tags: "Java 21"`},
		{"invalid namespace", "backstage/invalid.yaml", `backstage/invalid.yaml:14: metadata.namespace "Finance_Team"`},
		{"duplicate", "backstage/invalid.yaml", "duplicate entity component:default/invoices (first at line 19; names compare case-insensitively)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := k8sParseBytes(t, "backstage", tc.file, k8sMust(os.ReadFile(filepath.Join("testdata", tc.file))), nil)
			if err == nil || !errors.Is(err, graph.ErrInvalid) || !strings.Contains(err.Error(), tc.data) {
				t.Fatalf("got %v, want an ErrInvalid containing %q", err, tc.data)
			}
		})
	}
	for _, tc := range []struct{ name, data, want string }{
		{"not yaml", "apiVersion: backstage.io/v1alpha1\nkind: [\n", "x.yaml:2: not valid YAML or JSON"},
		{"templated, not YAML", "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: ${{ values.name }}\n  tags: [${{ values.tag }}\n", "x.yaml:4: templated entity"},
		{"not an entity", "apiVersion: backstage.io/v1alpha1\n---\n- a\n- b\n", "x.yaml:1: kind"},
		{"not backstage", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\n", `x.yaml:1: apiVersion "v1" is not a Backstage entity's`},
		{"empty", "# nothing\n", "x.yaml:1: no Backstage entities"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := k8sParseBytes(t, "backstage", "x.yaml", []byte(tc.data), nil)
			if err == nil || !errors.Is(err, graph.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an ErrInvalid containing %q", err, tc.want)
			}
		})
	}
}

func TestBackstageDetect(t *testing.T) {
	for head, want := range map[string]bool{
		"apiVersion: backstage.io/v1alpha1\nkind: Component\n":                                          true,
		"---\n# c\napiVersion: 'backstage.io/v1beta1'\n":                                                true,
		"apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\n":                                 true,
		`[{"apiVersion":"backstage.io/v1alpha1","kind":"Component"}]`:                                   true,
		"apiVersion: v1\nkind: Service\nmetadata:\n  annotations:\n    backstage.io/kubernetes-id: x\n": false,
	} {
		if detectBackstage("x", []byte(head)) != want {
			t.Errorf("detectBackstage(%q) != %v", head, want)
		}
	}
}

// TestBackstageRealdata imports every sample on its own, checks the one
// Backstage rejects, and joins the example catalog when read as one input.
func TestBackstageRealdata(t *testing.T) {
	dir := k8sRealdataDir(t, "backstage-catalog")
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	more, _ := filepath.Glob(filepath.Join(dir, "catalog-model-examples", "*.yaml"))
	var all []byte
	for _, path := range append(files, more...) {
		name := filepath.Base(path)
		data := k8sMust(os.ReadFile(path))
		if f, err := Detect(name, data); err != nil || f.Name != "backstage" {
			t.Errorf("%s: detected as %q, %v", name, f.Name, err)
		}
		frag, err := k8sParseBytes(t, "backstage", name, data, nil)
		if name == "invalid-component.yaml" {
			want := `invalid-component.yaml:4: metadata.name "invalid component": want 1-63 characters of [a-zA-Z0-9] separated by [-_.] (Backstage rejects this entity)` + "\n" +
				`invalid-component.yaml:11: metadata.tags: "go 1.15.3": want [a-z0-9:+#] words separated by - (Backstage rejects this entity)`
			if err == nil || !errors.Is(err, graph.ErrInvalid) || err.Error() != want {
				t.Errorf("%s: got %v, want\n%s", name, err, want)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		k8sCheckFragment(t, frag, len(data))
		all = append(append(all, data...), []byte("\n---\n")...)
	}
	f, err := k8sParseBytes(t, "backstage", "catalog.yaml", all, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(k8sEdgeSet(f, func(graph.Edge) bool { return true }))
	// wayback-search consumes the wayback-archive API that the
	// wayback-archive component provides; artist-web depends on artists-db.
	want := "[{component:default/artist-web resource:default/artists-db  hard } {component:default/wayback-search component:default/wayback-archive  hard }]"
	if got != want {
		t.Errorf("edges %s, want %s", got, want)
	}
	k8sWantLines(t, f.Report.Unresolved,
		"component:default/www-artist consumesApis names component:default/artist-lookup, which is not an API",
		"component:default/backstage-demo consumes api:default/demo-graphql, which nothing in this input provides",
		"dependencyOf component:default/artist-web-lookup: not in this input")
	k8sWantLines(t, f.Report.Notes, "Location example-components: its targets are not fetched", "spec.apiConsumedBy is a relation name")
	for _, n := range f.Nodes {
		if n.ID == "component:default/backstage-demo" && n.Labels["owner"] != "group:backstage/maintainers" {
			t.Errorf("owner: backstage/maintainers is namespace backstage, name maintainers: %v", n.Labels)
		}
		if n.ID == "component:alternative/different-namespace" && n.Labels["owner"] != "group:default/team-a" {
			t.Errorf("different-namespace owner: %v", n.Labels)
		}
	}
}

func FuzzBackstage(f *testing.F) {
	k8sSeeds(f, "backstage")
	f.Add([]byte(`[{"apiVersion":"backstage.io/v1alpha1","kind":"Component","metadata":{"name":"a"},"relations":[{"type":"dependsOn","targetRef":"component:a"}]}]`))
	for _, in := range manyInputs(f, "backstage/catalog-split") {
		f.Add(k8sMust(io.ReadAll(in.R)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		k8sFuzzBody(t, "backstage", data)
		k8sFuzzMany(t, "backstage", data)
	})
}
