package importer

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak/firebreak/graph"
)

func TestNmapGolden(t *testing.T) {
	for _, name := range []string{"office.xml", "interrupted.xml", "ping-sweep.xml"} {
		t.Run(strings.TrimSuffix(name, ".xml"), func(t *testing.T) {
			f := parseFile(t, "nmap", "nmap/"+name, nil)
			k8sCheckFragment(t, f, 1<<20)
			goldenFragment(t, f)
		})
	}
}

// TestNmapOffice pins the inventory of the office scan.
func TestNmapOffice(t *testing.T) {
	f := parseFile(t, "nmap", "nmap/office.xml", nil)
	nodes := map[string]graph.Node{}
	for _, n := range f.Nodes {
		nodes[n.ID] = n
	}
	gw, files, printer := nodes["gw.office.example"], nodes["files"], nodes["198.51.100.6"]
	if fmt.Sprint(gw.Listens) != "[22/tcp 443/tcp 53/udp]" { // open only: not open|filtered 123/udp, filtered 8080, closed
		t.Errorf("gw listens %v", gw.Listens)
	}
	if gw.Labels["mac"] != "00:11:22:33:44:55" || gw.Labels["mac_vendor"] != "Example Networks" || gw.Labels["os"] != "Linux 6.1 - 6.6 (97%)" {
		t.Errorf("gw labels %v", gw.Labels)
	}
	if gw.Labels["service/443/tcp"] != "ssl/http nginx" || gw.Labels["service/53/udp"] != "domain (guessed from port)" || gw.Labels["service/22/tcp"] != "ssh OpenSSH 9.6p1" {
		t.Errorf("gw services %v", gw.Labels)
	}
	if fmt.Sprint(files.Addresses) != "[198.51.100.4/32 2001:db8::4/128]" || files.Labels["hostnames"] != "files files.office.example" {
		t.Errorf("files: %v %v", files.Addresses, files.Labels)
	}
	if fmt.Sprint(files.Listens) != "[445/tcp 2049/tcp]" { // the SCTP port is noted, not listed
		t.Errorf("files listens %v", files.Listens)
	}
	if printer.Labels["scan"] == "" {
		t.Errorf("timed-out host not labelled: %v", printer.Labels)
	}
	if n := nodes["core.isp.example"]; n.Kind != graph.KindNetwork {
		t.Errorf("hop node: %+v", n)
	}
	if len(f.Nodes) != 4 || f.Report.Records != 5 {
		t.Errorf("%d nodes from %d records; want 4 (3 hosts up + 1 hop) from 5 (hosthint not counted)", len(f.Nodes), f.Report.Records)
	}
	got := fmt.Sprint(k8sEdgeSet(f, func(graph.Edge) bool { return true }))
	want := "[{core.isp.example files  none } {gw.office.example core.isp.example  none }]"
	if got != want {
		t.Errorf("trace edges %s, want %s", got, want)
	}
	k8sWantLines(t, f.Report.Notes, "2 hosts down: skipped", "1 <hosthint> elements ignored", "1 ports open|filtered",
		"1 open sctp ports not modelled", "the scanner itself is not a node")
}

func TestNmapInterrupted(t *testing.T) {
	f := parseFile(t, "nmap", "nmap/interrupted.xml", nil)
	if len(f.Nodes) != 1 || f.Nodes[0].ID != "gw.office.example" {
		t.Fatalf("nodes %v", f.Nodes)
	}
	k8sWantLines(t, f.Report.Notes, "the scan is truncated (interrupted or still running): hosts read completely are kept; the host cut off at line 42 is dropped")
	// Cut anywhere: never an error, never a half-read host.
	data := k8sMust(os.ReadFile("testdata/nmap/office.xml"))
	root := bytes.Index(data, []byte("<nmaprun"))
	for cut := root + bytes.IndexByte(data[root:], '>') + 1; cut < len(data); cut += 37 {
		f, err := k8sParseBytes(t, "nmap", "cut.xml", data[:cut], nil)
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		k8sCheckFragment(t, f, cut)
	}
}

func TestNmapPingSweep(t *testing.T) {
	f := parseFile(t, "nmap", "nmap/ping-sweep.xml", nil)
	ids := fmt.Sprint(k8sNodeKinds(f))
	if ids != "map[192.0.2.11:host weird_name_really:host www.example.test:host]" {
		t.Errorf("nodes %s", ids)
	}
	k8sWantLines(t, f.Report.Notes, "hostname www.example.test is also another host's: this host keeps its IP 192.0.2.11 as id",
		`hostname "weird name, really" is not a valid id`, "1 hosts with status unknown: skipped", "1 hosts down")
}

func TestNmapErrors(t *testing.T) {
	for _, tc := range []struct{ file, data, want string }{
		{"nmap/error-run.xml", "", `nmap/error-run.xml:6: nmap run failed: Failed to resolve "intranet.invalid". (no hosts; rerun the scan)`},
		{"nmap/malformed.xml", "", "nmap/malformed.xml:5: not valid nmap XML: element <host> closed by </hots>"},
		{"nmap/not-nmap.xml", "", "nmap/not-nmap.xml:2: not an nmap XML file: the root element is <scan>, want <nmaprun>"},
		{"x.xml", "", "x.xml:1: not an nmap XML file: no <nmaprun> element"},
		{"x.xml", "<nmaprun>" + strings.Repeat("<a>", 100), "x.xml:1: invalid input: input exceeds a bound: XML nested deeper than 64 levels"},
		{"x.xml", "<?xml version=\"1.0\" encoding=\"EBCDIC\"?><nmaprun/>", "x.xml:1: not valid nmap XML"},
	} {
		data := []byte(tc.data)
		if strings.HasPrefix(tc.file, "nmap/") {
			data = k8sMust(os.ReadFile(filepath.Join("testdata", tc.file)))
		}
		_, err := k8sParseBytes(t, "nmap", tc.file, data, nil)
		if err == nil || !errors.Is(err, graph.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an ErrInvalid containing %q", tc.file, err, tc.want)
		}
	}
	big := []byte("<nmaprun>" + strings.Repeat("<!-- padding -->", 200) + "</nmaprun>")
	if _, err := k8sParseBytes(t, "nmap", "big.xml", big, &Context{Limits: Limits{MaxDoc: 1024, MaxDepth: 64}}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over MaxDoc: %v", err)
	}
	// Latin-1 declared by a hand-edited file is read.
	latin := []byte("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><nmaprun><host><status state=\"up\"/><address addr=\"192.0.2.9\" addrtype=\"ipv4\"/><hostnames><hostname name=\"caf\xe9\"/></hostnames></host></nmaprun>")
	f, err := k8sParseBytes(t, "nmap", "latin.xml", latin, nil)
	if err != nil || len(f.Nodes) != 1 || f.Nodes[0].ID != "café" {
		t.Errorf("latin-1: %v %v", err, f)
	}
}

func TestNmapDetect(t *testing.T) {
	for head, want := range map[string]bool{
		"<?xml version=\"1.0\"?>\n<!DOCTYPE nmaprun>\n<nmaprun scanner=\"nmap\">": true,
		"<nmaprun>":                      true,
		"<?xml version=\"1.0\"?><scan/>": false,
		"nmaprun is a word":              false,
	} {
		if detectNmap("x", []byte(head)) != want {
			t.Errorf("detectNmap(%q) != %v", head, want)
		}
	}
}

// TestNmapRealdata: every sample imports; the error run fails with nmap's
// own message.
func TestNmapRealdata(t *testing.T) {
	dir := k8sRealdataDir(t, "nmap-xml")
	files, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	want := map[string]string{ // nodes, edges
		"libnmap-2_hosts.xml":         "2 0",
		"libnmap-2_hosts_version.xml": "2 0",
		"libnmap-dionaea_scan.xml":    "1 0",
		"libnmap-full_sudo6.xml":      "4 0",
		"ullaakut-scan_base.xml":      "17 16",
	}
	for _, path := range files {
		name := filepath.Base(path)
		data := k8sMust(os.ReadFile(path))
		if f, err := Detect(name, data); err != nil || f.Name != "nmap" {
			t.Errorf("%s: detected as %q, %v", name, f.Name, err)
		}
		f, err := k8sParseBytes(t, "nmap", name, data, nil)
		if name == "ullaakut-scan_error_resolving_name.xml" {
			if err == nil || !errors.Is(err, graph.ErrInvalid) || err.Error() != name+":4: nmap run failed: Error resolving name localhost (no hosts; rerun the scan)" {
				t.Errorf("%s: got %v", name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		k8sCheckFragment(t, f, len(data))
		if got := fmt.Sprintf("%d %d", len(f.Nodes), len(f.Edges)); got != want[name] {
			t.Errorf("%s: %s nodes and edges, want %s", name, got, want[name])
		}
		switch name {
		case "libnmap-full_sudo6.xml":
			k8sWantLines(t, f.Report.Notes, "252 hosts down: skipped")
		case "libnmap-dionaea_scan.xml":
			k8sWantLines(t, f.Report.Notes, "1 <hosthint> elements ignored")
		case "ullaakut-scan_base.xml":
			k8sWantLines(t, f.Report.Notes, "runstats says 8 hosts up, the file holds 1")
		}
	}
}

func FuzzNmap(f *testing.F) {
	k8sSeeds(f, "nmap")
	f.Add([]byte(`<nmaprun><host><status state="up"/><address addr="::1" addrtype="ipv6"/><trace><hop ttl="1" ipaddr="::1"/><hop ttl="2" ipaddr="10.0.0.1" host="a b"/></trace></host></nmaprun>`))
	f.Fuzz(func(t *testing.T, data []byte) { k8sFuzzBody(t, "nmap", data) })
}
