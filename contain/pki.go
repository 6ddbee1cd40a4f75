package contain

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// A small PKI for the agent's mutual TLS: one CA per site (or lab) signs the
// agents' server certificates and the responders' client certificates. It is
// meant for labs and first deployments; a site with its own PKI issues the
// same shapes there (ECDSA or RSA keys, serverAuth / clientAuth usages).

// Sentinel errors of the PKI helper.
var (
	// ErrCertRequest means a CA or certificate request is malformed: a bad
	// name, a bad host, no role.
	ErrCertRequest = errors.New("bad certificate request")
	// ErrTLSMaterial means certificate, key or CA files are unusable: not
	// PEM, mismatched, expired, or the wrong kind of certificate.
	ErrTLSMaterial = errors.New("unusable TLS material")
)

// File names of the CA in a PKI directory. A certificate issued as NAME is
// written to NAME.crt and NAME.key beside them.
const (
	CACertFile = "ca.crt"
	CAKeyFile  = "ca.key"
)

// Default lifetimes.
const (
	DefaultCAValidity   = 5 * 365 * 24 * time.Hour
	DefaultCertValidity = 365 * 24 * time.Hour
	// clockSkew backdates NotBefore so hosts whose clocks lag a little
	// accept a certificate issued a moment ago.
	clockSkew = 5 * time.Minute
)

// IssueRequest describes one certificate signed by the CA of a directory.
type IssueRequest struct {
	// Name is the certificate's CommonName and its file name (NAME.crt,
	// NAME.key): letters, digits, '.', '_' and '-'. Agents' allowlists match
	// client certificates by this name.
	Name   string
	Server bool // serverAuth: an agent's certificate
	Client bool // clientAuth: a responder's (the CLI's) certificate
	// Hosts are the IP addresses and DNS names clients reach a server at;
	// they become its IP and DNS SANs. Required for server certificates,
	// refused otherwise.
	Hosts []string
	// Validity is how long the certificate lasts (DefaultCertValidity when
	// zero); it never outlives the CA.
	Validity time.Duration
}

var certName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CreateCA creates a CA in dir (created 0700 if missing): ca.crt and ca.key
// (0600), an ECDSA P-256 key and a self-signed certificate that may sign
// leaf certificates only (path length 0). It refuses to overwrite an
// existing CA: the error wraps fs.ErrExist.
func CreateCA(dir, name string, validity time.Duration) error {
	if name == "" || len(name) > 64 || strings.IndexFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		return fmt.Errorf("%w: CA name %q: want 1 to 64 printable characters", ErrCertRequest, name)
	}
	if validity < 0 {
		return fmt.Errorf("%w: negative validity %s", ErrCertRequest, validity)
	}
	if validity == 0 {
		validity = DefaultCAValidity
	}
	certPath, keyPath := filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	if err := refuseExisting(certPath, keyPath); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := randomSerial()
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(validity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("CA %q: %w", name, err)
	}
	return writePair(certPath, keyPath, der, key)
}

// Issue creates NAME.crt and NAME.key (0600) in dir, signed by the CA there.
// It refuses to overwrite existing files (the error wraps fs.ErrExist); a
// directory without a CA gives an error wrapping fs.ErrNotExist.
func Issue(dir string, req IssueRequest) error {
	tmpl, err := leafTemplate(req)
	if err != nil {
		return err
	}
	certPath, keyPath := filepath.Join(dir, req.Name+".crt"), filepath.Join(dir, req.Name+".key")
	if err := refuseExisting(certPath, keyPath); err != nil {
		return err
	}
	ca, caKey, err := loadCA(dir)
	if err != nil {
		return err
	}
	now := time.Now()
	if now.After(ca.NotAfter) {
		return fmt.Errorf("%w: CA %q expired on %s", ErrTLSMaterial, ca.Subject.CommonName, ca.NotAfter.Format(time.DateOnly))
	}
	validity := req.Validity
	if validity == 0 {
		validity = DefaultCertValidity
	}
	tmpl.NotBefore = now.Add(-clockSkew)
	tmpl.NotAfter = now.Add(validity)
	if tmpl.NotAfter.After(ca.NotAfter) {
		tmpl.NotAfter = ca.NotAfter
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	if tmpl.SerialNumber, err = randomSerial(); err != nil {
		return err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("certificate %q: %w", req.Name, err)
	}
	return writePair(certPath, keyPath, der, key)
}

// leafTemplate checks a request and builds the certificate's shape.
func leafTemplate(req IssueRequest) (*x509.Certificate, error) {
	if !certName.MatchString(req.Name) || strings.EqualFold(req.Name, "ca") {
		return nil, fmt.Errorf("%w: name %q: want letters, digits, '.', '_' or '-' (at most 64, not \"ca\")", ErrCertRequest, req.Name)
	}
	if !req.Server && !req.Client {
		return nil, fmt.Errorf("%w: %q: say whether it is a server (agent) or client (responder) certificate", ErrCertRequest, req.Name)
	}
	if req.Validity < 0 {
		return nil, fmt.Errorf("%w: %q: negative validity %s", ErrCertRequest, req.Name, req.Validity)
	}
	if req.Server && len(req.Hosts) == 0 {
		return nil, fmt.Errorf("%w: server certificate %q needs the addresses or DNS names clients reach it at", ErrCertRequest, req.Name)
	}
	if !req.Server && len(req.Hosts) > 0 {
		return nil, fmt.Errorf("%w: %q: hosts are for server certificates", ErrCertRequest, req.Name)
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: req.Name},
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	if req.Server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if req.Client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	for _, h := range req.Hosts {
		if a, err := netip.ParseAddr(h); err == nil {
			if a.Zone() != "" {
				return nil, fmt.Errorf("%w: host %q: an address with a zone cannot be in a certificate", ErrCertRequest, h)
			}
			tmpl.IPAddresses = append(tmpl.IPAddresses, net.IP(a.Unmap().AsSlice()))
			continue
		}
		if !validDNSName(h) {
			return nil, fmt.Errorf("%w: host %q: not an IP address or DNS name", ErrCertRequest, h)
		}
		tmpl.DNSNames = append(tmpl.DNSNames, strings.ToLower(h))
	}
	return tmpl, nil
}

var dnsLabel = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

func validDNSName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if !dnsLabel.MatchString(l) {
			return false
		}
	}
	return true
}

// randomSerial returns a random, non-zero 128-bit serial number.
func randomSerial() (*big.Int, error) {
	b := make([]byte, 16)
	for {
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		if n := new(big.Int).SetBytes(b); n.Sign() > 0 {
			return n, nil
		}
	}
}

func refuseExisting(paths ...string) error {
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s: %w; refusing to overwrite it", p, fs.ErrExist)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// writePair writes the key (0600) then the certificate (0644), never over
// existing files; a failure leaves neither behind.
func writePair(certPath, keyPath string, der []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeExclusive(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	if err := writeExclusive(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		os.Remove(keyPath)
		return err
	}
	return nil
}

func writeExclusive(path string, data []byte, mode fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w; refusing to overwrite it", path, fs.ErrExist)
		}
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// loadCA reads the CA certificate and key of a PKI directory.
func loadCA(dir string) (*x509.Certificate, crypto.Signer, error) {
	certPath, keyPath := filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	certs, err := readCertificates(certPath)
	if err != nil {
		return nil, nil, err
	}
	ca := certs[0]
	if !ca.IsCA {
		return nil, nil, fmt.Errorf("%w: %s is not a CA certificate", ErrTLSMaterial, certPath)
	}
	raw, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, err
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, nil, fmt.Errorf("%w: %s: no PEM key", ErrTLSMaterial, keyPath)
	}
	var key any
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		err = fmt.Errorf("PEM block %q", block.Type)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrTLSMaterial, keyPath, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("%w: %s: a %T cannot sign", ErrTLSMaterial, keyPath, key)
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(ca.PublicKey) {
		return nil, nil, fmt.Errorf("%w: %s does not belong to %s", ErrTLSMaterial, keyPath, certPath)
	}
	return ca, signer, nil
}

// readCertificates parses every CERTIFICATE block of a PEM file; there must
// be at least one.
func readCertificates(path string) ([]*x509.Certificate, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, raw = pem.Decode(raw)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrTLSMaterial, path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s: no PEM certificate", ErrTLSMaterial, path)
	}
	return out, nil
}

// LoadServerTLS reads an agent's certificate and key and the CA that signs
// the clients it accepts, and returns a TLS 1.3 configuration that requires
// and verifies a client certificate.
func LoadServerTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	pair, pool, err := loadTLS(certFile, keyFile, caFile, x509.ExtKeyUsageServerAuth, "server")
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{pair},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}, nil
}

// LoadClientTLS reads a responder's client certificate and key and the CA
// that signs agents' certificates, and returns a TLS 1.3 client
// configuration trusting that CA only.
func LoadClientTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	pair, pool, err := loadTLS(certFile, keyFile, caFile, x509.ExtKeyUsageClientAuth, "client")
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{pair},
		RootCAs:      pool,
	}, nil
}

func loadTLS(certFile, keyFile, caFile string, usage x509.ExtKeyUsage, role string) (tls.Certificate, *x509.CertPool, error) {
	for _, p := range []string{certFile, keyFile, caFile} {
		if _, err := os.Stat(p); err != nil {
			return tls.Certificate{}, nil, err
		}
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("%w: %s and %s: %w", ErrTLSMaterial, certFile, keyFile, err)
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return tls.Certificate{}, nil, fmt.Errorf("%w: %s: %w", ErrTLSMaterial, certFile, err)
		}
	}
	if len(leaf.ExtKeyUsage) > 0 && !slices.Contains(leaf.ExtKeyUsage, usage) && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
		return tls.Certificate{}, nil, fmt.Errorf("%w: %s is not a %s certificate (issue one with firebreak pki issue --%s)", ErrTLSMaterial, certFile, role, role)
	}
	if now := time.Now(); now.After(leaf.NotAfter) {
		return tls.Certificate{}, nil, fmt.Errorf("%w: %s expired on %s", ErrTLSMaterial, certFile, leaf.NotAfter.Format(time.DateOnly))
	}
	cas, err := readCertificates(caFile)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range cas {
		pool.AddCert(c)
	}
	return pair, pool, nil
}
