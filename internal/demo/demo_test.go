package demo

import (
	"bytes"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/firebreak/firebreak/graph"
)

func model(t *testing.T) *graph.Model {
	t.Helper()
	m, err := Model()
	if err != nil {
		t.Fatalf("demo does not build: %v", err)
	}
	return m
}

func TestFilesStableOrder(t *testing.T) {
	var names []string
	for _, f := range Files() {
		names = append(names, f.Name)
		if len(f.Data) == 0 {
			t.Errorf("%s is empty", f.Name)
		}
	}
	if want := []string{"topology.yaml", "journeys.yaml"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("Files() names = %v, want %v", names, want)
	}
	// Callers get copies: scribbling on one must not change the next.
	f := Files()
	f[0].Data[0] = '!'
	if Files()[0].Data[0] == '!' {
		t.Fatal("Files() returned shared, mutable data")
	}
}

func TestSize(t *testing.T) {
	m := model(t)
	if len(m.Nodes) < 40 {
		t.Errorf("%d nodes, want at least 40", len(m.Nodes))
	}
	if len(m.Journeys) < 8 {
		t.Errorf("%d journeys, want at least 8", len(m.Journeys))
	}
}

func TestCrownJewels(t *testing.T) {
	m := model(t)
	var got []string
	for _, n := range m.Nodes {
		if n.CrownJewel {
			got = append(got, n.ID)
			if n.Sensitivity != graph.SensitivityCritical {
				t.Errorf("crown jewel %s has sensitivity %q, want critical", n.ID, n.Sensitivity)
			}
		}
	}
	if want := []string{"customer-pii-db", "payment-vault"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("crown jewels = %v, want %v", got, want)
	}
}

// Every node without runs_on becomes one network namespace in the lab.
func TestNetworkEndpointBudget(t *testing.T) {
	m := model(t)
	var endpoints int
	for _, n := range m.Nodes {
		if n.RunsOn == "" {
			endpoints++
		}
	}
	if endpoints > 45 {
		t.Fatalf("%d nodes without runs_on, want at most 45", endpoints)
	}
}

func TestAddressing(t *testing.T) {
	m := model(t)
	estate := netip.MustParsePrefix("10.20.0.0/16")
	mgmt := netip.MustParsePrefix("10.20.99.0/24")
	seen := map[netip.Addr]string{}
	for _, n := range m.Nodes {
		for _, p := range n.Addresses {
			if other, dup := seen[p.Addr()]; dup {
				t.Errorf("%s and %s share address %s", other, n.ID, p.Addr())
			}
			seen[p.Addr()] = n.ID
		}
		if n.RunsOn != "" {
			host, _ := m.NodeByID(n.RunsOn)
			if host == nil || host.Kind != graph.KindHost {
				t.Errorf("%s runs on %q, which is not a host", n.ID, n.RunsOn)
			}
			if len(n.Addresses) != 0 {
				t.Errorf("%s runs on %s but has addresses %v", n.ID, n.RunsOn, n.Addresses)
			}
			if n.Enforce != "" {
				t.Errorf("%s runs on %s but has its own enforce target", n.ID, n.RunsOn)
			}
			continue
		}
		if n.Kind == graph.KindClient && len(n.Addresses) != 0 {
			t.Errorf("client %s has addresses %v", n.ID, n.Addresses)
		}
		if n.Kind != graph.KindHost {
			continue
		}
		if len(n.Addresses) != 1 || !n.Addresses[0].IsSingleIP() || !n.Addresses[0].Addr().Is4() {
			t.Errorf("host %s: addresses %v, want exactly one IPv4 address", n.ID, n.Addresses)
			continue
		}
		a := n.Addresses[0].Addr()
		if !estate.Contains(a) {
			t.Errorf("host %s: %s is outside %s", n.ID, a, estate)
		}
		if n.ID == "bastion" {
			if !mgmt.Contains(a) {
				t.Errorf("bastion: %s is outside the management network %s", a, mgmt)
			}
			if n.Enforce != "" {
				t.Errorf("bastion has enforce %q, want none", n.Enforce)
			}
			continue
		}
		if mgmt.Contains(a) {
			t.Errorf("host %s: %s is in the management network, which is the bastion's", n.ID, a)
		}
		if want := "agent:https://" + a.String() + ":7443"; n.Enforce != want {
			t.Errorf("host %s: enforce %q, want %q", n.ID, n.Enforce, want)
		}
	}
	if _, ok := m.NodeByID("bastion"); !ok {
		t.Error("no bastion node")
	}
}

func overlap(a, b graph.PortRange) bool {
	if a.Proto == graph.ProtoAny || b.Proto == graph.ProtoAny {
		return true
	}
	return a.Proto == b.Proto && a.Lo <= b.Hi && b.Lo <= a.Hi
}

// clash returns the first pair of overlapping ranges between a and b.
func clash(a, b []graph.PortRange) (graph.PortRange, graph.PortRange, bool) {
	for _, pa := range a {
		for _, pb := range b {
			if overlap(pa, pb) {
				return pa, pb, true
			}
		}
	}
	return graph.PortRange{}, graph.PortRange{}, false
}

// Nodes sharing a host share its address, so no two of them (the host
// included) may be reached on, or listen on, the same port.
func TestNoPortClashOnSharedHosts(t *testing.T) {
	m := model(t)
	ports := map[string][]graph.PortRange{} // node -> ports it is reached on or listens on
	for _, e := range m.Edges {
		if len(e.Ports) == 0 {
			t.Errorf("edge %s has no explicit ports", e.Key())
		}
		ports[e.To] = append(ports[e.To], e.Ports...)
	}
	groups := map[string][]string{} // host -> host and its residents
	for _, n := range m.Nodes {
		ports[n.ID] = append(ports[n.ID], n.Listens...)
		host := n.ID
		if n.RunsOn != "" {
			host = n.RunsOn
		}
		groups[host] = append(groups[host], n.ID)
	}
	for host, members := range groups {
		for i, a := range members {
			for _, b := range members[i+1:] {
				if pa, pb, ok := clash(ports[a], ports[b]); ok {
					t.Errorf("on host %s, %s (%s) and %s (%s) clash", host, a, pa, b, pb)
				}
			}
		}
	}
}

func TestJourneys(t *testing.T) {
	m := model(t)
	tiers := map[string]bool{"critical": true, "high": true, "standard": true}
	var ids []string
	for _, j := range m.Journeys {
		ids = append(ids, j.ID)
		if !tiers[j.Tier] {
			t.Errorf("journey %s: tier %q, want critical, high or standard", j.ID, j.Tier)
		}
		if j.CustomersPerHour <= 0 {
			t.Errorf("journey %s has no customers_per_hour", j.ID)
		}
		for _, s := range j.Steps {
			for _, ref := range s.Nodes() {
				if _, ok := m.NodeByID(ref); !ok {
					t.Errorf("journey %s step %q names unknown node %q", j.ID, s.Name, ref)
				}
			}
		}
	}
	for _, want := range []string{"browse", "search", "sign-in", "add-to-cart", "checkout", "track-order", "support-chat", "returns"} {
		if i := sort.SearchStrings(ids, want); i == len(ids) || ids[i] != want {
			t.Errorf("journey %q missing (have %v)", want, ids)
		}
	}
}

func TestWriteRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "demo")
	if err := Write(dir); err != nil {
		t.Fatal(err)
	}
	want := model(t)
	var docs []*graph.Document
	for _, f := range Files() {
		data, err := os.ReadFile(filepath.Join(dir, f.Name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, f.Data) {
			t.Errorf("%s written differs from the embedded file", f.Name)
		}
		d, err := graph.ParseNative(f.Name, data)
		if err != nil {
			t.Fatalf("re-parse %s: %v", f.Name, err)
		}
		docs = append(docs, d)
	}
	got, err := graph.Build(docs...)
	if err != nil {
		t.Fatalf("re-build: %v", err)
	}
	// Model() adds the provenance an import of these files would record;
	// the files themselves carry none. Everything else must be identical.
	for i := range want.Nodes {
		if s := want.Nodes[i].Sources; len(s) != 1 || s[0] != "native:demo/topology.yaml" {
			t.Fatalf("node %s provenance %v", want.Nodes[i].ID, s)
		}
		want.Nodes[i].Sources = nil
	}
	for i := range want.Edges {
		if s := want.Edges[i].Sources; len(s) != 1 || s[0] != "native:demo/topology.yaml" {
			t.Fatalf("edge %s provenance %v", want.Edges[i].Key(), s)
		}
		want.Edges[i].Sources = nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatal("model read back from the written files differs from Model()")
	}
}

func TestWriteRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir); err != nil {
		t.Fatal(err)
	}
	err := Write(dir)
	if err == nil {
		t.Fatal("second Write succeeded, want an error")
	}
	if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), "topology.yaml") {
		t.Fatalf("error %q should name topology.yaml and match fs.ErrExist", err)
	}

	// One file already present: nothing is written, the error names it.
	dir = t.TempDir()
	mine := []byte("my own journeys\n")
	if err := os.WriteFile(filepath.Join(dir, "journeys.yaml"), mine, 0o644); err != nil {
		t.Fatal(err)
	}
	err = Write(dir)
	if err == nil || !strings.Contains(err.Error(), "journeys.yaml") {
		t.Fatalf("Write over an existing journeys.yaml: err = %v, want one naming journeys.yaml", err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "journeys.yaml")); !bytes.Equal(data, mine) {
		t.Error("existing journeys.yaml was changed")
	}
	if _, err := os.Stat(filepath.Join(dir, "topology.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("topology.yaml was written although Write failed (stat: %v)", err)
	}
}
