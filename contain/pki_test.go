package contain_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/firebreak/firebreak/contain"
)

func readPEMCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("%s: no PEM certificate", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPKIRoundTrip(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "pki")
	if err := contain.CreateCA(dir, "lab CA", 0); err != nil {
		t.Fatal(err)
	}
	if err := contain.Issue(dir, contain.IssueRequest{Name: "agent-1", Server: true, Hosts: []string{"10.20.1.11", "agent-1.lab.example", "fd00::11"}}); err != nil {
		t.Fatal(err)
	}
	if err := contain.Issue(dir, contain.IssueRequest{Name: "ops-1", Client: true, Validity: 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}

	for _, key := range []string{"ca.key", "agent-1.key", "ops-1.key"} {
		fi, err := os.Stat(filepath.Join(dir, key))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", key, fi.Mode().Perm())
		}
	}

	ca := readPEMCert(t, filepath.Join(dir, "ca.crt"))
	if !ca.IsCA || !ca.BasicConstraintsValid || ca.MaxPathLen != 0 || !ca.MaxPathLenZero {
		t.Errorf("CA constraints: IsCA %v, MaxPathLen %d, zero %v", ca.IsCA, ca.MaxPathLen, ca.MaxPathLenZero)
	}
	if ca.KeyUsage&x509.KeyUsageCertSign == 0 || ca.Subject.CommonName != "lab CA" {
		t.Errorf("CA key usage %v, name %q", ca.KeyUsage, ca.Subject.CommonName)
	}
	if ca.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("CA key %v, want ECDSA", ca.PublicKeyAlgorithm)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)

	srv := readPEMCert(t, filepath.Join(dir, "agent-1.crt"))
	if srv.Subject.CommonName != "agent-1" || !slices.Equal(srv.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) || srv.IsCA {
		t.Errorf("server cert: CN %q, EKU %v, IsCA %v", srv.Subject.CommonName, srv.ExtKeyUsage, srv.IsCA)
	}
	if !slices.Equal(srv.DNSNames, []string{"agent-1.lab.example"}) || len(srv.IPAddresses) != 2 ||
		!srv.IPAddresses[0].Equal(net.ParseIP("10.20.1.11")) || !srv.IPAddresses[1].Equal(net.ParseIP("fd00::11")) {
		t.Errorf("server SANs: %v %v", srv.DNSNames, srv.IPAddresses)
	}
	for _, host := range []string{"10.20.1.11", "agent-1.lab.example", "fd00::11"} {
		if _, err := srv.Verify(x509.VerifyOptions{Roots: pool, DNSName: host, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("server cert for %s: %v", host, err)
		}
	}
	cli := readPEMCert(t, filepath.Join(dir, "ops-1.crt"))
	if _, err := cli.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client cert: %v", err)
	}
	if _, err := cli.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Error("a client certificate verifies as a server")
	}
	if d := cli.NotAfter.Sub(cli.NotBefore); d > 24*time.Hour+10*time.Minute {
		t.Errorf("client validity %s, want about 24h", d)
	}
	serials := map[string]bool{}
	for _, c := range []*x509.Certificate{ca, srv, cli} {
		if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() > 128 {
			t.Errorf("%s: serial %v", c.Subject.CommonName, c.SerialNumber)
		}
		serials[c.SerialNumber.String()] = true
	}
	if len(serials) != 3 {
		t.Error("serial numbers repeat")
	}

	stc, err := contain.LoadServerTLS(filepath.Join(dir, "agent-1.crt"), filepath.Join(dir, "agent-1.key"), filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if stc.MinVersion != tls.VersionTLS13 || stc.ClientAuth != tls.RequireAndVerifyClientCert || stc.ClientCAs == nil || len(stc.Certificates) != 1 {
		t.Errorf("server TLS config: %+v", stc)
	}
	ctc, err := contain.LoadClientTLS(filepath.Join(dir, "ops-1.crt"), filepath.Join(dir, "ops-1.key"), filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if ctc.MinVersion != tls.VersionTLS13 || ctc.RootCAs == nil || len(ctc.Certificates) != 1 {
		t.Errorf("client TLS config: %+v", ctc)
	}
}

func TestPKIRefusesOverwrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := contain.CreateCA(dir, "lab CA", 0); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err := contain.CreateCA(dir, "lab CA", 0); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second CreateCA: %v, want fs.ErrExist", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if !bytes.Equal(before, after) {
		t.Error("the CA was overwritten")
	}
	req := contain.IssueRequest{Name: "ops-1", Client: true}
	if err := contain.Issue(dir, req); err != nil {
		t.Fatal(err)
	}
	if err := contain.Issue(dir, req); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second Issue: %v, want fs.ErrExist", err)
	}
	// A leftover key alone also blocks, and is left as it was.
	os.WriteFile(filepath.Join(dir, "ops-2.key"), []byte("keep me"), 0o600)
	if err := contain.Issue(dir, contain.IssueRequest{Name: "ops-2", Client: true}); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Issue over a stray key: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ops-2.crt")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("a certificate was written beside a stray key")
	}
}

func TestIssueNeedsCA(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	err := contain.Issue(dir, contain.IssueRequest{Name: "ops-1", Client: true})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Issue without a CA: %v, want fs.ErrNotExist", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files left behind: %v", entries)
	}
}

func TestIssueBadRequests(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := contain.CreateCA(dir, "lab CA", 0); err != nil {
		t.Fatal(err)
	}
	for _, req := range []contain.IssueRequest{
		{Name: "ops-1"},                                         // neither server nor client
		{Name: "agent-1", Server: true},                         // a server without hosts
		{Name: "ops-1", Client: true, Hosts: []string{"a.b"}},   // hosts on a client certificate
		{Name: "../evil", Client: true},                         // not a file name
		{Name: "ca", Client: true},                              // would collide with the CA
		{Name: "", Client: true},                                // empty
		{Name: "agent-1", Server: true, Hosts: []string{"a b"}}, // not a host
		{Name: "agent-1", Server: true, Hosts: []string{"fe80::1%eth0"}},
		{Name: "ops-1", Client: true, Validity: -time.Hour},
	} {
		if err := contain.Issue(dir, req); !errors.Is(err, contain.ErrCertRequest) {
			t.Errorf("%+v: %v, want ErrCertRequest", req, err)
		}
	}
	if err := contain.CreateCA(t.TempDir(), "", 0); !errors.Is(err, contain.ErrCertRequest) {
		t.Errorf("CA without a name: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("bad requests wrote files: %v", entries)
	}
}

func TestLeafNeverOutlivesCA(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := contain.CreateCA(dir, "short CA", 48*time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := contain.Issue(dir, contain.IssueRequest{Name: "ops-1", Client: true, Validity: 365 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	ca, leaf := readPEMCert(t, filepath.Join(dir, "ca.crt")), readPEMCert(t, filepath.Join(dir, "ops-1.crt"))
	if leaf.NotAfter.After(ca.NotAfter) {
		t.Errorf("leaf until %v outlives its CA (%v)", leaf.NotAfter, ca.NotAfter)
	}
}

func TestLoadTLSRefusesWrongMaterial(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	if err := contain.CreateCA(dir, "lab CA", 0); err != nil {
		t.Fatal(err)
	}
	if err := contain.Issue(dir, contain.IssueRequest{Name: "agent-1", Server: true, Hosts: []string{"127.0.0.1"}}); err != nil {
		t.Fatal(err)
	}
	if err := contain.Issue(dir, contain.IssueRequest{Name: "ops-1", Client: true}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(p("junk.pem"), []byte("not PEM at all\n"), 0o644)
	for _, tc := range []struct {
		name string
		load func() error
		want error
	}{
		{"client cert as server", func() error { _, err := contain.LoadServerTLS(p("ops-1.crt"), p("ops-1.key"), p("ca.crt")); return err }, contain.ErrTLSMaterial},
		{"server cert as client", func() error {
			_, err := contain.LoadClientTLS(p("agent-1.crt"), p("agent-1.key"), p("ca.crt"))
			return err
		}, contain.ErrTLSMaterial},
		{"key of another cert", func() error {
			_, err := contain.LoadClientTLS(p("ops-1.crt"), p("agent-1.key"), p("ca.crt"))
			return err
		}, contain.ErrTLSMaterial},
		{"CA file not PEM", func() error {
			_, err := contain.LoadClientTLS(p("ops-1.crt"), p("ops-1.key"), p("junk.pem"))
			return err
		}, contain.ErrTLSMaterial},
		{"missing file", func() error {
			_, err := contain.LoadServerTLS(p("nope.crt"), p("agent-1.key"), p("ca.crt"))
			return err
		}, fs.ErrNotExist},
	} {
		if err := tc.load(); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}
