package importer

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/firebreak/firebreak/graph"
)

// TestK8sPolicySemantics checks NetworkPolicy evaluation case by case.
func TestK8sPolicySemantics(t *testing.T) {
	const base = `
apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {team: x}}
---
apiVersion: v1
kind: Namespace
metadata: {name: b, labels: {team: y}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: a, labels: {app: web}}
spec: {containers: [{name: c, image: i, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: a, labels: {app: api}}
spec: {containers: [{name: c, image: i, ports: [{name: http, containerPort: 8080}], env: [{name: DB_ADDR, value: "db.b:5432"}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: b, labels: {app: web}}
spec: {containers: [{name: c, image: i, env: [{name: API_URL, value: "http://api.a:8080"}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: b, labels: {app: db}}
spec: {containers: [{name: c, image: postgres, ports: [{containerPort: 5432}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: a}
spec: {selector: {app: api}, ports: [{port: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: b}
spec: {selector: {app: db}, ports: [{port: 5432}]}
---
`
	policy := func(ns, body string) string {
		return base + "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: " + ns + "}\nspec:\n" + body
	}
	for _, tc := range []struct {
		name, yaml   string
		edges        []string // dependency-none edges: "from->to ports"
		notes, unres []string
	}{
		{"no policy: no reachability edges", base, nil, nil, nil},
		{"podSelector and namespaceSelector in one item are ANDed", policy("a", `  podSelector: {matchLabels: {app: api}}
  ingress:
    - from:
        - namespaceSelector: {matchLabels: {team: y}}
          podSelector: {matchLabels: {app: db}}
`), []string{"db.b->api.a any"}, []string{"NetworkPolicies deny the declared dependency web.b → api.a"}, nil},
		{"separate items are ORed", policy("a", `  podSelector: {matchLabels: {app: api}}
  ingress:
    - from:
        - namespaceSelector: {matchLabels: {team: y}}
        - podSelector: {matchLabels: {app: web}}
`), []string{"db.b->api.a any", "web.a->api.a any"}, nil, nil},
		{"ingress [{}] allows everything", policy("a", `  podSelector: {}
  ingress:
    - {}
`), nil, []string{"ingress of api.a web.a open to every peer on every port"}, nil},
		{"an empty ingress list denies everything", policy("a", `  podSelector: {matchLabels: {app: api}}
  policyTypes: [Ingress]
  ingress: []
`), nil, []string{"denies all ingress of api.a", "deny the declared dependency web.b → api.a on 8080/tcp"}, nil},
		{"policyTypes default to Ingress plus Egress when egress rules exist", policy("a", `  podSelector: {matchLabels: {app: api}}
  egress:
    - to:
        - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: b}}
          podSelector: {matchLabels: {app: db}}
      ports: [{port: 5432}]
`), nil, []string{"denies all ingress of api.a"}, nil},
		{"named ports, endPort and the intersection of egress and ingress", policy("b", `  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress:
    - to:
        - namespaceSelector: {}
      ports:
        - {port: 8000, endPort: 8090}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: q, namespace: a}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
    - from: [{namespaceSelector: {matchExpressions: [{key: team, operator: NotIn, values: [x]}]}}]
      ports: [{port: http}, {port: 9000, protocol: UDP}]
`), []string{"web.b->db.b 8000-8090/tcp", "web.b->web.a 8080/tcp", "db.b->web.a 8080/tcp 9000/udp"}, nil, nil},
		{"selectors that match nothing are unresolved", policy("a", `  podSelector: {matchLabels: {app: api}}
  ingress:
    - from:
        - podSelector: {matchLabels: {app: ghost}}
        - namespaceSelector: {matchLabels: {team: nobody}}
`), nil, nil, []string{"ingress from podSelector app=ghost matches no workload", "namespaceSelector team=nobody matches no namespace"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := k8sParseBytes(t, "k8s", "p.yaml", []byte(tc.yaml), nil)
			if err != nil {
				t.Fatal(err)
			}
			k8sCheckFragment(t, f, len(tc.yaml))
			var got []string
			for _, e := range f.Edges {
				if e.Dependency == graph.DepNone {
					ports := "any"
					if len(e.Ports) > 0 {
						var ps []string
						for _, p := range e.Ports {
							ps = append(ps, p.String())
						}
						ports = strings.Join(ps, " ")
					}
					got = append(got, e.From+"->"+e.To+" "+ports)
				}
			}
			sort.Strings(got)
			want := append([]string(nil), tc.edges...)
			sort.Strings(want)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("reachability edges:\n got %v\nwant %v", got, want)
			}
			k8sWantLines(t, f.Report.Notes, tc.notes...)
			k8sWantLines(t, f.Report.Unresolved, tc.unres...)
		})
	}
}

// TestK8sAddressScan covers the address shapes values and flags hold.
func TestK8sAddressScan(t *testing.T) {
	for _, tc := range []struct{ hint, value, want string }{
		{"CART_ADDR", "cart:7070", "[cart:7070]"},
		{"X", "cart.shop.svc.cluster.local:7070", "[cart.shop.svc.cluster.local:7070]"},
		{"X", "http://svc:8080/path?q=1", "[svc:8080]"},
		{"X", "https://svc/x", "[svc:443]"},
		{"X", "mongodb://user:pw@db-0.db:27017,db-1.db:27017/app?replicaSet=rs0", "[db-0.db:27017 db-1.db:27017]"},
		{"X", "jdbc:postgresql://pg:5432/app", "[pg:5432]"},
		{"X", "redis://:secret@cache:6379/0", "[cache:6379]"},
		{"REDIS_HOST", "cache", "[cache]"},
		{"LOG_LEVEL", "info", "[]"},
		{"FEATURE_HOST", "true", "[]"},
		{"JAVA_OPTS", "-Xmx1g -Dzipkin.url=http://zipkin:9411 -Dfoo=bar", "[zipkin:9411]"},
		{"X", "zipkin.tracing.svc.cluster.local", "[zipkin.tracing.svc.cluster.local]"},
		{"KAFKA_BROKERS", "kafka-0.kafka:9092,kafka-1.kafka:9092", "[kafka-0.kafka:9092 kafka-1.kafka:9092]"},
		{"X", "[fd00::1]:53", "[fd00::1:53]"},
		{"X", "until wget -q http://frontend:80/; do sleep 1; done", "[frontend:80]"},
		{"X", "time 12:30", "[]"},
		{"X", "a:b", "[]"},
		{"X", "svc:70000", "[]"},
		{"X", "file:///etc/config", "[]"},
	} {
		var got []string
		for _, a := range k8sScan(tc.hint, tc.value) {
			if a.port != 0 {
				got = append(got, fmt.Sprintf("%s:%d", a.host, a.port))
			} else {
				got = append(got, a.host)
			}
		}
		if s := fmt.Sprint(got); s != tc.want && !(s == "[]" && tc.want == "[]") {
			t.Errorf("k8sScan(%q, %q) = %s, want %s", tc.hint, tc.value, s, tc.want)
		}
	}
	if !k8sHostHint("--db-addr") || !k8sHostHint("dbHost") || !k8sHostHint("PAYMENT_SERVICE_ADDR") || k8sHostHint("PORT") || k8sHostHint("JAVA_OPTS") {
		t.Error("k8sHostHint")
	}
}

// TestK8sDetect: manifests are recognised in their shapes, and what is not
// Kubernetes is not claimed.
func TestK8sDetect(t *testing.T) {
	for _, tc := range []struct {
		head string
		want string
	}{
		{"# comment\n---\napiVersion: apps/v1\nkind: Deployment\n", "k8s"},
		{`{"apiVersion":"v1","items":[],"kind":"List"}`, "k8s"},
		{"apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Service\nkind: List\n", "k8s"},
		{"{{- if .Values.x }}\napiVersion: apps/v1\nkind: Deployment\n", "k8s"},
		{"kind: Kustomization\nresources: [a.yaml]\n", "k8s"},
		{"apiVersion: apps/v1\nkind: DeploymentList\nitems: []\n", "k8s"},
		{"apiVersion: firebreak/v1\nkind: Topology\n", "native"},
		{"apiVersion: backstage.io/v1alpha1\nkind: Component\n", "backstage"},
		{`{"resourceSpans":[{"resource":{}}]}`, ""},
		{"version: '2'\nservices:\n  web:\n    image: x\n", ""},
		{"apiVersion: example.com/v1\nkind: Widget\n", ""},
	} {
		f, err := Detect("x", []byte(tc.head))
		got := f.Name
		if err != nil {
			got = ""
		}
		if tc.want == "k8s" || tc.want == "" {
			if (got == "k8s") != (tc.want == "k8s") {
				t.Errorf("Detect(%q) = %q, want %q", tc.head, got, tc.want)
			}
		} else if detectK8s("x", []byte(tc.head)) {
			t.Errorf("detectK8s claims %q (%s)", tc.head, tc.want)
		}
	}
}
