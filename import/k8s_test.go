package importer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak/firebreak/graph"
)

// k8sRealdataDir returns a folder of the shared real-world samples
// (../shared/realdata beside the repository, or $FIREBREAK_REALDATA), or
// skips the test when they are absent.
func k8sRealdataDir(t testing.TB, sub string) string {
	t.Helper()
	root := os.Getenv("FIREBREAK_REALDATA")
	if root == "" {
		root = filepath.Join("..", "..", "shared", "realdata")
	}
	dir := filepath.Join(root, sub)
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("real-world samples not present (%s); set FIREBREAK_REALDATA", dir)
	}
	return dir
}

// k8sParseBytes parses data with the named format.
func k8sParseBytes(t testing.TB, format, name string, data []byte, c *Context) (*Fragment, error) {
	t.Helper()
	f, err := Lookup(format)
	if err != nil {
		t.Fatal(err)
	}
	if c == nil {
		c = &Context{Limits: DefaultLimits}
	}
	return f.Parse(context.Background(), Input{Name: name, R: bytes.NewReader(data)}, c)
}

// k8sCheckFragment asserts what every fragment of these parsers must
// satisfy: a valid model on its own (ids, kinds, no dangling or duplicate
// edges, no self-loops, consistent replica groups), provenance on
// everything, and output bounded by the input.
func k8sCheckFragment(t testing.TB, f *Fragment, inputLen int) {
	t.Helper()
	m := &graph.Model{Nodes: append([]graph.Node(nil), f.Nodes...), Edges: append([]graph.Edge(nil), f.Edges...)}
	if err := graph.Validate(m); err != nil {
		t.Fatalf("fragment is not a valid model: %v", err)
	}
	for _, n := range f.Nodes {
		if len(n.Sources) == 0 {
			t.Fatalf("node %s has no provenance", n.ID)
		}
	}
	for _, e := range f.Edges {
		if len(e.Sources) == 0 {
			t.Fatalf("edge %s has no provenance", e.Key())
		}
	}
	if len(f.Nodes) > inputLen+1 {
		t.Fatalf("%d nodes from %d bytes", len(f.Nodes), inputLen)
	}
	if n := len(f.Nodes); len(f.Edges) > n*(n-1) {
		t.Fatalf("%d edges between %d nodes", len(f.Edges), n)
	}
}

// k8sFuzzBody is the body of every parser's fuzz target: no panic, errors
// are ErrInvalid, the fragment is valid and bounded, and parsing is
// deterministic.
func k8sFuzzBody(t *testing.T, format string, data []byte) {
	lim := Limits{MaxLine: 1 << 16, MaxDoc: 1 << 20, MaxDepth: 32}
	f1, err := k8sParseBytes(t, format, "fuzz", data, &Context{Limits: lim})
	if err != nil {
		if !errors.Is(err, graph.ErrInvalid) {
			t.Fatalf("error is not ErrInvalid: %v", err)
		}
		return
	}
	k8sCheckFragment(t, f1, len(data))
	f2, err := k8sParseBytes(t, format, "fuzz", data, &Context{Limits: lim})
	if err != nil {
		t.Fatalf("second parse failed: %v", err)
	}
	if a, b := renderFragment(f1), renderFragment(f2); !bytes.Equal(a, b) {
		t.Fatalf("parsing is not deterministic:\n%s\n---\n%s", a, b)
	}
}

// k8sSeeds adds every file of testdata/<dir> to a fuzz corpus.
func k8sSeeds(f *testing.F, dir string) {
	files, _ := filepath.Glob(filepath.Join("testdata", dir, "*"))
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
}

type k8sEdgeWant struct {
	from, to, ports, dep, group string
}

func k8sEdgeSet(f *Fragment, keep func(graph.Edge) bool) []k8sEdgeWant {
	var out []k8sEdgeWant
	for _, e := range f.Edges {
		if !keep(e) {
			continue
		}
		var ports []string
		for _, p := range e.Ports {
			ports = append(ports, p.String())
		}
		out = append(out, k8sEdgeWant{e.From, e.To, strings.Join(ports, " "), e.Dependency.String(), e.Group})
	}
	return out
}

func k8sNodeKinds(f *Fragment) map[string]graph.Kind {
	out := map[string]graph.Kind{}
	for _, n := range f.Nodes {
		out[n.ID] = n.Kind
	}
	return out
}

// TestK8sShopEdges: the shop's address configuration declares exactly
// these service-to-service dependencies, on the ports the pods listen on
// (targetPort), and nothing else; every edge points at the line that
// declares it; the dangling reference is reported, not an edge.
func TestK8sShopEdges(t *testing.T) {
	f := parseFile(t, "k8s", "k8s/shop.yaml", nil)
	k8sCheckFragment(t, f, 1<<20)
	kinds := k8sNodeKinds(f)
	isWorkload := func(id string) bool { return !strings.HasSuffix(id, ".svc") }

	// Address edges: hard, from a workload.
	got := k8sEdgeSet(f, func(e graph.Edge) bool { return e.Dependency == graph.DepHard && isWorkload(e.From) })
	want := []k8sEdgeWant{
		{"cart.shop", "redis-cart.shop", "6379/tcp", "hard", ""},                // redis://:pw@redis-cart:6379/0, headless Service
		{"checkout.shop", "cart.shop", "7070/tcp", "hard", ""},                  // --cart-addr=cart:$(CART_PORT)
		{"checkout.shop", "currency.shop", "7000/tcp", "hard", ""},              // CURRENCY_URL grpc://currency:7000
		{"checkout.shop", "email.shop", "8080/tcp", "hard", ""},                 // envFrom EMAIL_SERVICE_ADDR email:5000 → targetPort 8080
		{"checkout.shop", "payment.payments", "50051/tcp", "hard", ""},          // envFrom payment.payments:50051
		{"checkout.shop", "shipping.shop", "50051/tcp", "hard", ""},             // --shipping-addr shipping:50051
		{"frontend.shop", "cart.shop", "7070/tcp", "hard", ""},                  // cart.shop:7070
		{"frontend.shop", "catalog.shop", "3550/tcp", "hard", ""},               // catalog:3550
		{"frontend.shop", "checkout.shop", "5050/tcp", "hard", ""},              // http://checkout.shop.svc.cluster.local:5050/…
		{"frontend.shop", "currency.shop", "7000/tcp", "hard", ""},              // CURRENCY_HOST + CURRENCY_PORT
		{"frontend.shop", "shipping.shop", "50051/tcp", "hard", ""},             // configMapKeyRef shop-config/shipping-addr
		{"loadgenerator.shop", "frontend.shop", "8080/tcp", "hard", ""},         // initContainer wget http://frontend:80 → http → 8080; FRONTEND_ADDR
		{"payment.payments", "fraud-check.payments.svc", "443/tcp", "hard", ""}, // ExternalName Service
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("address edges:\n got %v\nwant %v", got, want)
	}

	// Service edges: each Service to the workloads its selector picks, on
	// the target port (named ports resolved).
	got = k8sEdgeSet(f, func(e graph.Edge) bool { return !isWorkload(e.From) })
	want = []k8sEdgeWant{
		{"cart.shop.svc", "cart.shop", "7070/tcp", "hard", ""},
		{"catalog.shop.svc", "catalog.shop", "3550/tcp", "hard", ""},
		{"checkout.shop.svc", "checkout.shop", "5050/tcp", "hard", ""},
		{"currency.shop.svc", "currency.shop", "7000/tcp", "hard", ""},
		{"email.shop.svc", "email.shop", "8080/tcp", "hard", ""},
		{"frontend-external.shop.svc", "frontend.shop", "8080/tcp", "hard", ""},
		{"frontend.shop.svc", "frontend.shop", "8080/tcp", "hard", ""},
		{"payment.payments.svc", "payment.payments", "50051/tcp", "hard", ""},
		{"redis-cart.shop.svc", "redis-cart.shop", "6379/tcp", "hard", ""},
		{"shipping.shop.svc", "shipping.shop", "50051/tcp", "hard", ""},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("service edges:\n got %v\nwant %v", got, want)
	}

	// NetworkPolicy reachability that no configuration uses.
	got = k8sEdgeSet(f, func(e graph.Edge) bool { return e.Dependency == graph.DepNone })
	want = []k8sEdgeWant{
		{"catalog.shop", "shipping.shop", "50051/tcp", "none", ""}, // shipping-quotes
		{"checkout.shop", "catalog.shop", "50051/tcp", "none", ""}, // storefront-backends: from checkout on 50051
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("policy edges:\n got %v\nwant %v", got, want)
	}
	if len(f.Edges) != 25 {
		t.Errorf("%d edges, want 25 (13 address + 10 service + 2 policy)", len(f.Edges))
	}

	// Traceability: every address edge points at the line holding the
	// reference, and that line names the target's Service.
	lines := strings.Split(string(k8sMust(os.ReadFile("testdata/k8s/shop.yaml"))), "\n")
	for _, e := range f.Edges {
		if e.Dependency != graph.DepHard || !isWorkload(e.From) {
			continue
		}
		if e.Pos.Line < 1 || e.Pos.Line > len(lines) {
			t.Errorf("edge %s has no line", e.Key())
			continue
		}
		text := lines[e.Pos.Line-1]
		svc := strings.SplitN(e.To, ".", 2)[0]
		// envFrom and configMapKeyRef point at the reference to the ConfigMap.
		if !strings.Contains(text, svc) && !strings.Contains(text, "checkout-env") && !strings.Contains(text, "name: SHIPPING") {
			t.Errorf("edge %s points at line %d %q, which does not name %s", e.Key(), e.Pos.Line, text, svc)
		}
	}

	if want := []graph.Kind{graph.KindDatastore, graph.KindLB, graph.KindSaaS, graph.KindService}; kinds["redis-cart.shop"] != want[0] ||
		kinds["frontend-external.shop.svc"] != want[1] || kinds["fraud-check.payments.svc"] != want[2] || kinds["frontend.shop"] != want[3] {
		t.Errorf("kinds: redis-cart %s, frontend-external %s, fraud-check %s, frontend %s",
			kinds["redis-cart.shop"], kinds["frontend-external.shop.svc"], kinds["fraud-check.payments.svc"], kinds["frontend.shop"])
	}
	// Nothing invented: no node for the dangling reference or the external URL.
	for id := range kinds {
		if strings.Contains(id, "recommendation") || strings.Contains(id, "ledger") {
			t.Errorf("invented node %s", id)
		}
	}
	k8sWantLines(t, f.Report.Unresolved,
		"k8s/shop.yaml:85: frontend.shop container server env RECOMMENDATION_SERVICE_ADDR → recommendation:8080: no Service recommendation in namespace shop",
		"NetworkPolicy shop/ads-legacy: podSelector app=ads matches no workload")
	k8sWantLines(t, f.Report.Notes,
		"NetworkPolicies deny the declared dependency checkout.shop → currency.shop on 7000/tcp",
		"LEDGER_URL → ledger.bank.example:443: an address outside this input",
		"ingress from ipBlock 10.20.0.0/16 except 10.20.99.0/24 on 50051/tcp",
		"NetworkPolicy shop/frontend-from-anywhere: ingress of frontend.shop open to every peer on http/tcp",
		"NetworkPolicy shop/default-deny-ingress denies all ingress")
	// Credentials in URLs never reach the report.
	for _, s := range append(append([]string{}, f.Report.Notes...), f.Report.Unresolved...) {
		if strings.Contains(s, "s3cret") {
			t.Errorf("a password leaked into the report: %s", s)
		}
	}
}

func k8sMust[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// k8sWantLines asserts that each want is a substring of some line.
func k8sWantLines(t *testing.T, lines []string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		found := false
		for _, l := range lines {
			found = found || strings.Contains(l, w)
		}
		if !found {
			t.Errorf("no line contains %q in:\n  %s", w, strings.Join(lines, "\n  "))
		}
	}
}

// TestK8sGolden renders each manifest's fragment; the goldens are the
// reviewed import of every trap the files hold.
func TestK8sGolden(t *testing.T) {
	for _, name := range []string{"shop.yaml", "quirks.yaml", "list.yaml", "list.json", "configmap-templates.yaml"} {
		t.Run(strings.TrimSuffix(strings.ReplaceAll(name, ".", "_"), "_yaml"), func(t *testing.T) {
			f := parseFile(t, "k8s", "k8s/"+name, nil)
			k8sCheckFragment(t, f, 1<<20)
			goldenFragment(t, f)
		})
	}
}

// TestK8sQuirks pins the behaviours the quirks file exists for.
func TestK8sQuirks(t *testing.T) {
	f := parseFile(t, "k8s", "k8s/quirks.yaml", nil)
	edges := k8sEdgeSet(f, func(graph.Edge) bool { return true })
	has := func(w k8sEdgeWant) {
		t.Helper()
		for _, e := range edges {
			if e == w {
				return
			}
		}
		t.Errorf("missing edge %v in %v", w, edges)
	}
	has(k8sEdgeWant{"inventory.default", "inventory-db.default", "5432/tcp", "hard", ""})                  // DB_HOST + DB_PORT
	has(k8sEdgeWant{"inventory.default", "audit-v1.default", "9000/tcp", "hard", "audit.default.svc"})     // clusterIP literal; v2 lacks the named port
	has(k8sEdgeWant{"reporting.default", "audit-v1.default", "514/udp", "hard", "audit-logs.default.svc"}) // two workloads behind one Service
	has(k8sEdgeWant{"reporting.default", "audit-v2.default", "514/udp", "hard", "audit-logs.default.svc"}) //
	has(k8sEdgeWant{"reporting.default", "inventory-db.default", "5432/tcp", "hard", ""})                  // secretKeyRef URL, pod DNS name
	has(k8sEdgeWant{"reporting.default", "crm.default.svc", "443/tcp", "hard", ""})                        // no selector: ends at the Service
	has(k8sEdgeWant{"reporting.default", "mailer.default.svc", "25/tcp", "hard", ""})                      // no backends: ends at the Service
	has(k8sEdgeWant{"reporting.default", "inventory.default", "8000/tcp", "hard", ""})                     // -Dmetrics.host=inventory in JAVA_OPTS
	has(k8sEdgeWant{"public.default.ingress", "inventory.default", "8000/tcp", "hard", ""})                // Ingress backend
	k8sWantLines(t, f.Report.Unresolved,
		"Service default/mailer: selector app=mailer matches no workload",
		`targetPort "api" is not a named tcp port of audit-v2.default`,
		"Ingress default/public backend → retired:http: no Service retired",
		"INVENTORY_API → inventory:9999: Service default/inventory has no port 9999")
	k8sWantLines(t, f.Report.Notes,
		"net.beta.kubernetes.io/network-policy annotation",
		"ConfigMap default/branding key style is not in this input",
		"placed in namespace default",
		"kinds without topology, not imported: PodDisruptionBudget 1, ServiceAccount 1")
	for _, n := range f.Nodes {
		if n.ID == "reporting.default" && n.Labels["k8s_kind"] != "CronJob" {
			t.Errorf("CronJob label: %v", n.Labels)
		}
	}

	l := parseFile(t, "k8s", "k8s/list.yaml", nil)
	if ids := fmt.Sprint(k8sNodeKinds(l)); ids != "map[search-0.tools:datastore search.tools.svc:service wiki.tools:service]" {
		t.Errorf("kind: List nodes (owned ReplicaSet and Pod folded): %s", ids)
	}
}

// TestK8sErrors: input that is not manifests fails with file:line.
func TestK8sErrors(t *testing.T) {
	deep := "apiVersion: v1\nkind: Pod\nmetadata: {name: deep}\nspec: " + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "\n"
	// 1,500 containers that all share one env list of 1,500 variables: a
	// few KiB that would cost millions of visits.
	bomb := "apiVersion: v1\nkind: Pod\nmetadata: {name: bomb}\nspec:\n  x: &e [&v {name: A_HOST, value: a}" +
		strings.Repeat(", *v", 1500) + "]\n  y: &c {name: c, env: *e}\n  containers: [*c" + strings.Repeat(", *c", 1500) + "]\n"
	for _, tc := range []struct{ name, file, data, want string }{
		{"helm", "k8s/helm-unrendered.yaml", "", "k8s/helm-unrendered.yaml:1: unrendered Helm template ({{ … }}); render it first"},
		{"helm in a quoted value", "k8s/helm-quoted.yaml", "", "k8s/helm-quoted.yaml:4: unrendered Helm template ({{ .Release.Name }}-api)"},
		{"kustomization", "k8s/kustomization.yaml", "", "k8s/kustomization.yaml:1: a kustomization, not manifests: render it first (kubectl kustomize"},
		{"not yaml", "bad.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: [oops\n", "bad.yaml:3: not valid YAML or JSON"},
		{"no objects", "empty.yaml", "# nothing\n---\n", "empty.yaml:1: no Kubernetes objects"},
		{"backstage", "bs.yaml", "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: x}\n", "bs.yaml:1: apiVersion backstage.io/v1alpha1 is not Kubernetes"},
		{"too deep", "deep.yaml", deep, "deep.yaml:1: invalid input: input exceeds a bound: Pod nested deeper than 64 levels"},
		{"alias bomb", "bomb.yaml", bomb, "bomb.yaml: invalid input: input exceeds a bound: too many list items"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.data)
			if tc.file != "" && tc.data == "" {
				data = k8sMust(os.ReadFile(filepath.Join("testdata", tc.file)))
			}
			_, err := k8sParseBytes(t, "k8s", tc.file, data, nil)
			if err == nil || !errors.Is(err, graph.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an ErrInvalid containing %q", err, tc.want)
			}
		})
	}
	big := bytes.Repeat([]byte("#"), 2048)
	if _, err := k8sParseBytes(t, "k8s", "big.yaml", big, &Context{Limits: Limits{MaxDoc: 1024, MaxDepth: 64}}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over MaxDoc: %v", err)
	}
}

// TestK8sRealdata imports the Sock Shop manifests and policies: each file
// on its own, and all of them together, where the policies' label bug
// (name: cart versus the pods' name: carts) must be flagged.
func TestK8sRealdata(t *testing.T) {
	dir := k8sRealdataDir(t, "sock-shop")
	files, _ := filepath.Glob(filepath.Join(dir, "*.y*ml"))
	policies, _ := filepath.Glob(filepath.Join(dir, "network-policies", "*.yaml"))
	var all []byte
	for _, path := range append(files, policies...) {
		data := k8sMust(os.ReadFile(path))
		name := filepath.Base(path)
		if name == "docker-compose.yml" {
			// Not Kubernetes: no format claims it.
			if _, err := Detect(name, data); !errors.Is(err, ErrUnknownFormat) {
				t.Errorf("%s: detected as %v", name, err)
			}
			continue
		}
		if f, err := Detect(name, data); err != nil || f.Name != "k8s" {
			t.Errorf("%s: detected as %q, %v", name, f.Name, err)
		}
		frag, err := k8sParseBytes(t, "k8s", name, data, nil)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		k8sCheckFragment(t, frag, len(data))
		all = append(append(all, data...), []byte("\n---\n")...)
	}
	f, err := k8sParseBytes(t, "k8s", "sock-shop.yaml", all, nil)
	if err != nil {
		t.Fatal(err)
	}
	k8sCheckFragment(t, f, len(all))
	if s, want := sockShopEdgeLines(f), sockShopEdges; fmt.Sprint(s) != fmt.Sprint(want) {
		t.Errorf("sock-shop edges:\n got %v\nwant %v", s, want)
	}
	k8sWantLines(t, f.Report.Unresolved,
		"NetworkPolicy sock-shop/cart-access: podSelector name=cart matches no workload",
		"NetworkPolicy sock-shop/carts-db-access: ingress from podSelector name=cart matches no workload",
		"NetworkPolicy sock-shop/cortex-access: ingress from podSelector name=cortex matches no workload",
		"ZIPKIN → zipkin.jaeger.svc.cluster.local: no Service zipkin in namespace jaeger")
	k8sWantLines(t, f.Report.Notes, "net.beta.kubernetes.io/network-policy annotation")
	k8sWantLines(t, f.Report.Notes, "NetworkPolicy sock-shop/front-end-access: ingress of front-end.sock-shop open to every peer on 8079/tcp")
}

// sockShopEdges are the Sock Shop's edges besides the Services': the
// policies are the only declared edges besides user's mongo address; carts
// is missing because the policies select name: cart.
var sockShopEdges = []string{
	"catalogue->catalogue-db 3306/tcp none",
	"front-end->catalogue 80/tcp none",
	"front-end->orders 80/tcp none",
	"front-end->user 80/tcp none",
	"orders->orders-db 27017/tcp none",
	"orders->payment 80/tcp none",
	"orders->shipping 80/tcp none",
	"orders->user 80/tcp none",
	"queue-master->rabbitmq 5672/tcp none",
	"shipping->rabbitmq 5672/tcp none",
	"user->user-db 27017/tcp hard",
}

// sockShopEdgeLines renders a fragment's non-Service edges as sockShopEdges.
func sockShopEdgeLines(f *Fragment) []string {
	var s []string
	for _, e := range k8sEdgeSet(f, func(e graph.Edge) bool { return !strings.HasSuffix(e.From, ".svc") }) {
		s = append(s, fmt.Sprintf("%s->%s %s %s", strings.TrimSuffix(e.from, ".sock-shop"), strings.TrimSuffix(e.to, ".sock-shop"), e.ports, e.dep))
	}
	return s
}

func FuzzK8s(f *testing.F) {
	k8sSeeds(f, "k8s")
	f.Add([]byte("apiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: List, items: [{kind: Pod, metadata: {name: a}}]}]"))
	f.Add([]byte(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"selector":{"a":"b"},"ports":[{"port":"x"}]}}`))
	for _, in := range manyInputs(f, "k8s/shop-split") {
		f.Add(k8sMust(io.ReadAll(in.R)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		k8sFuzzBody(t, "k8s", data)
		k8sFuzzMany(t, "k8s", data)
	})
}
