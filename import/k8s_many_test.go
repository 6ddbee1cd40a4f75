package importer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/firebreak/firebreak/graph"
)

// Kubernetes and Backstage inputs read together (Format.ParseMany): one
// manifest per service, references crossing files.

// parseMany parses every file of testdata/<dir>, in name order, with the
// format's ParseMany; names are relative to testdata, as parseFile's.
func parseMany(t testing.TB, format, dir string, c *Context) *Fragment {
	t.Helper()
	f, err := Lookup(format)
	if err != nil {
		t.Fatal(err)
	}
	if c == nil {
		c = &Context{Limits: DefaultLimits}
	}
	frag, err := f.ParseMany(context.Background(), manyInputs(t, dir), c)
	if err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	frag.Format = format
	return frag
}

// manyInputs opens every file under testdata/<dir> in path order.
func manyInputs(t testing.TB, dir string) []Input {
	t.Helper()
	var paths []string
	err := filepath.WalkDir(filepath.Join("testdata", dir), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			paths = append(paths, p)
		}
		return err
	})
	sort.Strings(paths)
	if err != nil || len(paths) < 2 {
		t.Fatalf("%s: %d files, %v", dir, len(paths), err)
	}
	var ins []Input
	for _, p := range paths {
		name, _ := filepath.Rel("testdata", p)
		ins = append(ins, Input{Name: filepath.ToSlash(name), R: bytes.NewReader(k8sMust(os.ReadFile(p)))})
	}
	return ins
}

// manyParse runs a format's ParseMany over in-memory files, name then
// content.
func manyParse(t testing.TB, format string, files ...string) (*Fragment, error) {
	t.Helper()
	f, err := Lookup(format)
	if err != nil {
		t.Fatal(err)
	}
	var ins []Input
	for i := 0; i+1 < len(files); i += 2 {
		ins = append(ins, Input{Name: files[i], R: strings.NewReader(files[i+1])})
	}
	return f.ParseMany(context.Background(), ins, &Context{Limits: DefaultLimits})
}

// reportPos matches the file:line a report line starts with.
var reportPos = regexp.MustCompile(`^([^\s:]+\.(?:yaml|json)):(\d+): `)

// reportText is a fragment's report without positions, in order, to
// compare the reports of the same objects read from different files.
func reportText(f *Fragment) []string {
	var out []string
	r := f.Report
	for _, l := range slices.Concat(r.Examples, r.Unresolved, r.Notes) {
		out = append(out, reportPos.ReplaceAllString(l, ""))
	}
	sort.Strings(out)
	return out
}

// fileLines returns the lines of testdata/<name>.
func fileLines(t testing.TB, name string) []string {
	t.Helper()
	return strings.Split(string(k8sMust(os.ReadFile(filepath.Join("testdata", name)))), "\n")
}

// objectText is the document of a file starting at line (1-based): up to
// the next "---".
func objectText(lines []string, line int) string {
	if line < 1 || line > len(lines) {
		return ""
	}
	end := line - 1
	for end < len(lines) && (end == line-1 || lines[end] != "---") {
		end++
	}
	return strings.Join(lines[line-1:end], "\n")
}

// TestK8sSplitShop: the shop kept as one manifest per service gives exactly
// the edges (ports, dependencies, groups) and nodes of the single file;
// only positions and provenance differ, each naming the element's own file.
func TestK8sSplitShop(t *testing.T) {
	one := parseFile(t, "k8s", "k8s/shop.yaml", nil)
	split := parseMany(t, "k8s", "k8s/shop-split", nil)
	k8sCheckFragment(t, split, 1<<20)
	all := func(graph.Edge) bool { return true }
	if got, want := k8sEdgeSet(split, all), k8sEdgeSet(one, all); fmt.Sprint(got) != fmt.Sprint(want) || len(got) != 25 {
		t.Errorf("edges of the split shop:\n got %v\nwant %v", got, want)
	}
	if len(split.Nodes) != len(one.Nodes) {
		t.Fatalf("%d nodes, want %d", len(split.Nodes), len(one.Nodes))
	}
	// Nodes: the same but for where they come from, which is their own file.
	for i, n := range split.Nodes {
		o := one.Nodes[i]
		if n.ID != o.ID || n.Kind != o.Kind || fmt.Sprint(n.Labels) != fmt.Sprint(o.Labels) || fmt.Sprint(n.Listens) != fmt.Sprint(o.Listens) {
			t.Errorf("node %s differs from the single file's %s", n.ID, o.ID)
		}
		name := strings.Split(n.ID, ".")[0]
		file := map[string]string{"frontend-external": "frontend", "fraud-check": "payment"}[name]
		if file == "" {
			file = name
		}
		file = "k8s/shop-split/" + file + ".yaml"
		if n.Pos.File != file || fmt.Sprint(n.Sources) != fmt.Sprint([]string{Provenance("k8s", file)}) {
			t.Errorf("node %s: pos %s, sources %v; want its own file %s", n.ID, n.Pos, n.Sources, file)
		}
		if text := objectText(fileLines(t, file), n.Pos.Line); !strings.Contains(text, "  name: "+name+"\n") {
			t.Errorf("node %s: %s:%d does not start its object:\n%s", n.ID, file, n.Pos.Line, text)
		}
	}
	// Edges: provenance and position name the file holding the reference.
	for _, e := range split.Edges {
		if fmt.Sprint(e.Sources) != fmt.Sprint([]string{Provenance("k8s", e.Pos.File)}) || !strings.HasPrefix(e.Pos.File, "k8s/shop-split/") {
			t.Errorf("edge %s: pos %s, sources %v", e.Key(), e.Pos, e.Sources)
			continue
		}
		if e.Dependency != graph.DepHard || strings.HasSuffix(e.From, ".svc") {
			continue
		}
		text := fileLines(t, e.Pos.File)[e.Pos.Line-1]
		svc := strings.SplitN(e.To, ".", 2)[0]
		if !strings.Contains(text, svc) && !strings.Contains(text, "checkout-env") && !strings.Contains(text, "name: SHIPPING") {
			t.Errorf("edge %s points at %s %q, which does not name %s", e.Key(), e.Pos, text, svc)
		}
	}
	for _, e := range split.Edges {
		if e.From == "checkout.shop" && e.To == "cart.shop" && e.Pos.File != "k8s/shop-split/checkout.yaml" {
			t.Errorf("checkout → cart (Service in cart.yaml) is declared in checkout.yaml, not %s", e.Pos.File)
		}
	}
	// The report says the same things, each at its file and line.
	if got, want := reportText(split), reportText(one); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("report of the split shop:\n got %q\nwant %q", got, want)
	}
	for _, l := range slices.Concat(split.Report.Unresolved, split.Report.Notes) {
		if m := reportPos.FindStringSubmatch(l); m != nil && !strings.HasPrefix(m[1], "k8s/shop-split/") {
			t.Errorf("report line names %s: %s", m[1], l)
		}
	}
	recommendation := k8sLineOf(t, "k8s/shop-split/frontend.yaml", "recommendation:8080")
	k8sWantLines(t, split.Report.Unresolved,
		fmt.Sprintf("k8s/shop-split/frontend.yaml:%d: frontend.shop container server env RECOMMENDATION_SERVICE_ADDR → recommendation:8080: no Service recommendation in namespace shop", recommendation),
		fmt.Sprintf("k8s/shop-split/shop-namespace.yaml:%d: NetworkPolicy shop/ads-legacy: podSelector app=ads matches no workload", k8sLineOf(t, "k8s/shop-split/shop-namespace.yaml", "name: ads-legacy")-3)) // the object starts 3 lines above its name
	k8sWantLines(t, split.Report.Notes,
		fmt.Sprintf("k8s/shop-split/checkout.yaml:%d: NetworkPolicies deny the declared dependency checkout.shop → currency.shop", k8sLineOf(t, "k8s/shop-split/checkout.yaml", "grpc://currency:7000")))
}

// k8sLineOf is the line of testdata/<name> that first contains s.
func k8sLineOf(t testing.TB, name, s string) int {
	t.Helper()
	for i, l := range fileLines(t, name) {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("%s holds no %q", name, s)
	return 0
}

// TestK8sSplitGolden is the reviewed import of the split shop.
func TestK8sSplitGolden(t *testing.T) {
	goldenFragment(t, parseMany(t, "k8s", "k8s/shop-split", nil))
}

// TestK8sSplitImport: `firebreak import` of the folder's files detects each
// as Kubernetes and reads them in one ParseMany call: one fragment, named
// after all the files, with the single file's edges.
func TestK8sSplitImport(t *testing.T) {
	var names []string
	for _, in := range manyInputs(t, "k8s/shop-split") {
		names = append(names, in.Name)
	}
	files, frags, err := importFiles(t, nil, names...)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Format.Name != "k8s" {
			t.Errorf("%s detected as %s", f.Path, f.Format.Name)
		}
	}
	if len(frags) != 1 || frags[0].Format != "k8s" || strings.Count(frags[0].File, ", ") != len(names)-1 {
		t.Fatalf("%d fragments, want one k8s fragment of %d files", len(frags), len(names))
	}
	one := parseFile(t, "k8s", "k8s/shop.yaml", nil)
	all := func(graph.Edge) bool { return true }
	if got, want := k8sEdgeSet(frags[0], all), k8sEdgeSet(one, all); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("edges:\n got %v\nwant %v", got, want)
	}
	m, _, err := Merge(nil, frags)
	if err == nil {
		err = graph.Validate(m)
	}
	if err != nil {
		t.Error(err)
	}
}

// TestK8sManyErrors: an error names the file (and line) of the object it is
// about, whichever input that is; objects are unique across the files.
func TestK8sManyErrors(t *testing.T) {
	cart := string(k8sMust(os.ReadFile("testdata/k8s/shop-split/cart.yaml")))
	helm := string(k8sMust(os.ReadFile("testdata/k8s/helm-quoted.yaml")))
	deployment := 1 + strings.Count(cart[:strings.Index(cart, "apiVersion: apps/v1")], "\n")
	other := "# another team's copy\n" + strings.Replace(cart, "cart:2.0.1", "cart:2.1.0", 1)
	ns := func(labels string) string {
		return "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: {" + labels + "}\n"
	}
	for _, tc := range []struct {
		name  string
		files []string
		want  string
	}{
		{"syntax in the second file", []string{"a.yaml", cart, "b.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: [oops\n"}, "b.yaml:3: not valid YAML or JSON"},
		{"template in the second file", []string{"a.yaml", cart, "k8s/helm-quoted.yaml", helm}, "k8s/helm-quoted.yaml:4: unrendered Helm template ({{ .Release.Name }}-api)"},
		{"nothing in the second file", []string{"a.yaml", cart, "b.yaml", "# nothing\n"}, "b.yaml:1: no Kubernetes objects"},
		{"duplicate", []string{"a.yaml", cart, "b.yaml", other},
			fmt.Sprintf("b.yaml:%d: duplicate object Deployment shop/cart, also at a.yaml:%d: a kind, namespace and name must be unique across the files of an import", deployment+1, deployment)},
		{"duplicate in one file", []string{"a.yaml", cart + "---\n" + other}, "duplicate object Deployment shop/cart, also at a.yaml:"},
		{"namespace labels disagree", []string{"a.yaml", ns("team: storefront") + "---\n" + cart, "b.yaml", ns("team: checkout")},
			`b.yaml:1: Namespace shop: label team is "checkout" here and "storefront" at a.yaml:1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := manyParse(t, "k8s", tc.files...)
			if err == nil || !errors.Is(err, graph.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an ErrInvalid containing %q", err, tc.want)
			}
		})
	}
	// The same object written the same in two files is read once; a
	// Namespace several files declare is one namespace with all its labels.
	f, err := manyParse(t, "k8s", "a.yaml", ns("team: storefront")+"---\n"+cart, "b.yaml", ns("pci: 'true'")+"---\n"+cart)
	if err != nil {
		t.Fatal(err)
	}
	k8sWantLines(t, f.Report.Notes, fmt.Sprintf("b.yaml:%d: Deployment shop/cart is also at a.yaml:%d, written the same: read once", deployment+6, deployment+6))
	if kinds := k8sNodeKinds(f); len(kinds) != 2 || kinds["cart.shop"] != graph.KindService || f.Report.Records != 10 {
		t.Errorf("nodes %v, %d records", kinds, f.Report.Records)
	}
}

// k8sFuzzMany splits a fuzz input at a document boundary into two files
// and reads them together: no panic, input errors only, a valid fragment,
// and positions and provenance that name one of the two files.
func k8sFuzzMany(t *testing.T, format string, data []byte) {
	a, b, ok := bytes.Cut(data, []byte("\n---\n"))
	if !ok {
		return
	}
	fm, _ := Lookup(format)
	lim := Limits{MaxLine: 1 << 16, MaxDoc: 1 << 20, MaxDepth: 32}
	f, err := fm.ParseMany(context.Background(), []Input{{Name: "a", R: bytes.NewReader(a)}, {Name: "b", R: bytes.NewReader(b)}}, &Context{Limits: lim})
	if err != nil {
		if !errors.Is(err, graph.ErrInvalid) {
			t.Fatalf("error is not ErrInvalid: %v", err)
		}
		return
	}
	k8sCheckFragment(t, f, len(data))
	for _, n := range f.Nodes {
		if (n.Pos.File != "a" && n.Pos.File != "b") || n.Sources[0] != Provenance(format, n.Pos.File) {
			t.Fatalf("node %s: pos %s, sources %v", n.ID, n.Pos, n.Sources)
		}
	}
	for _, e := range f.Edges {
		if (e.Pos.File != "a" && e.Pos.File != "b") || e.Sources[0] != Provenance(format, e.Pos.File) {
			t.Fatalf("edge %s: pos %s, sources %v", e.Key(), e.Pos, e.Sources)
		}
	}
}

// TestK8sRealdataTogether imports the Sock Shop folder as `firebreak import`
// would, every manifest a file of its own: the policies in their files
// select the workloads of complete-demo.yaml, and the Namespace both
// complete-demo.yaml and netpol-default-deny.yaml declare is one.
func TestK8sRealdataTogether(t *testing.T) {
	dir := k8sRealdataDir(t, "sock-shop")
	paths, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	policies, _ := filepath.Glob(filepath.Join(dir, "network-policies", "*.yaml"))
	files, frags, err := importPaths(nil, append(paths, policies...)...)
	if err != nil {
		t.Fatal(err)
	}
	if len(frags) != 1 || len(files) != len(paths)+len(policies) || len(policies) == 0 {
		t.Fatalf("%d fragments of %d files", len(frags), len(files))
	}
	f := frags[0]
	if s, want := sockShopEdgeLines(f), sockShopEdges; fmt.Sprint(s) != fmt.Sprint(want) {
		t.Errorf("sock-shop edges:\n got %v\nwant %v", s, want)
	}
	for _, e := range f.Edges {
		base := filepath.Base(e.Pos.File)
		if e.Dependency == graph.DepNone && !strings.HasPrefix(base, "netpol-") || e.Dependency != graph.DepNone && base != "complete-demo.yaml" {
			t.Errorf("edge %s %s declared at %s", e.Key(), e.Dependency, e.Pos)
		}
	}
	k8sWantLines(t, f.Report.Unresolved, "netpol-cart-access.yaml:", "NetworkPolicy sock-shop/cart-access: podSelector name=cart matches no workload")
	k8sWantLines(t, f.Report.Notes, "netpol-default-deny.yaml:2: Namespace sock-shop: the net.beta.kubernetes.io/network-policy annotation")
}
