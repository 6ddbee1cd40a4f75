package importer

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Finding addresses in configuration values and command-line tokens.

// k8sHintWords are the words of a variable or flag name that say its value
// is an address.
var k8sHintWords = map[string]bool{
	"HOST": true, "HOSTS": true, "HOSTNAME": true, "ADDR": true, "ADDRS": true, "ADDRESS": true,
	"ADDRESSES": true, "URL": true, "URLS": true, "URI": true, "URIS": true, "ENDPOINT": true,
	"ENDPOINTS": true, "SERVER": true, "SERVERS": true, "DSN": true, "BROKER": true, "BROKERS": true,
	"UPSTREAM": true, "UPSTREAMS": true,
}

// k8sHostHint reports whether a name (CART_HOST, --db-addr, dbHost,
// -Dzipkin.url) says its value is an address.
func k8sHostHint(name string) bool {
	var b strings.Builder
	prev := rune(0)
	for _, r := range name {
		if unicode.IsUpper(r) && unicode.IsLower(prev) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
		prev = r
	}
	for _, w := range strings.FieldsFunc(b.String(), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if k8sHintWords[w] {
			return true
		}
	}
	return false
}

// k8sSchemePorts are the default ports of URL schemes.
var k8sSchemePorts = map[string]uint16{
	"http": 80, "https": 443, "ws": 80, "wss": 443, "redis": 6379, "rediss": 6379, "mongodb": 27017,
	"postgres": 5432, "postgresql": 5432, "mysql": 3306, "mariadb": 3306, "amqp": 5672, "amqps": 5671,
	"nats": 4222, "kafka": 9092, "memcached": 11211, "ldap": 389, "ldaps": 636, "ftp": 21, "ssh": 22,
	"sqlserver": 1433, "mssql": 1433, "cassandra": 9042, "zookeeper": 2181, "mqtt": 1883,
}

var k8sSchemeRe = regexp.MustCompile(`^[a-z][a-z0-9+.\-]*$`)

// k8sScan finds the addresses in one value (or command-line token). hint
// is the variable or flag name.
func k8sScan(hint, value string) []k8sAddr {
	var out []k8sAddr
	if len(value) > 64<<10 {
		value = value[:64<<10]
	}
	for _, tok := range strings.FieldsFunc(value, func(r rune) bool { return unicode.IsSpace(r) || strings.ContainsRune("\"'`|&", r) }) {
		tok = strings.TrimLeft(tok, "(")
		tok = strings.TrimRight(tok, ";,)")
		if i := strings.Index(tok, "://"); i > 0 {
			pre := tok[:i]
			if j := strings.LastIndexByte(pre, '='); j >= 0 {
				pre = pre[j+1:]
			}
			scheme := strings.ToLower(strings.TrimPrefix(strings.ToLower(pre), "jdbc:"))
			if !k8sSchemeRe.MatchString(scheme) {
				continue
			}
			out = append(out, k8sURLHosts(scheme, tok[i+3:])...)
			continue
		}
		name, val := hint, tok
		if j := strings.IndexByte(tok, '='); j > 0 {
			name, val = tok[:j], tok[j+1:]
		}
		for _, piece := range strings.Split(val, ",") {
			host, port, hasPort, ok := k8sHostPort(piece)
			switch {
			case !ok:
			case hasPort:
				out = append(out, k8sAddr{host: host, port: port, explicit: true})
			case k8sClusterName(host):
				out = append(out, k8sAddr{host: host, explicit: true})
			case k8sHostHint(name) && k8sPlausibleHost(host):
				out = append(out, k8sAddr{host: host})
			}
		}
	}
	return out
}

// k8sURLHosts reads the hosts of a URL's authority (several for mongodb
// replica-set URLs), with the scheme's default port.
func k8sURLHosts(scheme, rest string) []k8sAddr {
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	var out []k8sAddr
	for _, piece := range strings.Split(rest, ",") {
		host, port, hasPort, ok := k8sHostPort(piece)
		if !ok {
			continue
		}
		if !hasPort {
			port = k8sSchemePorts[scheme]
		}
		out = append(out, k8sAddr{host: host, port: port, scheme: scheme, explicit: true})
	}
	return out
}

var k8sDNSRe = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_\-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9_\-]*[A-Za-z0-9])?)*\.?$`)

// k8sHostPort splits host[:port] ([v6]:port too) and checks both parts.
func k8sHostPort(s string) (host string, port uint16, hasPort, ok bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 260 {
		return "", 0, false, false
	}
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", 0, false, false
		}
		host, rest := s[1:end], s[end+1:]
		if _, err := netip.ParseAddr(host); err != nil {
			return "", 0, false, false
		}
		if rest == "" {
			return host, 0, false, true
		}
		n, err := strconv.ParseUint(strings.TrimPrefix(rest, ":"), 10, 16)
		if !strings.HasPrefix(rest, ":") || err != nil || n == 0 {
			return "", 0, false, false
		}
		return host, uint16(n), true, true
	}
	switch strings.Count(s, ":") {
	case 0:
		host = s
	case 1:
		h, ps, _ := strings.Cut(s, ":")
		n, err := strconv.ParseUint(ps, 10, 16)
		if err != nil || n == 0 {
			return "", 0, false, false
		}
		host, port, hasPort = h, uint16(n), true
	default:
		if _, err := netip.ParseAddr(s); err != nil {
			return "", 0, false, false
		}
		return s, 0, false, true
	}
	if host == "" {
		return "", 0, false, false
	}
	if _, err := netip.ParseAddr(host); err != nil && (!k8sDNSRe.MatchString(host) || strings.Trim(host, "0123456789.") == "") {
		return "", 0, false, false // not a name, and digits are not a host
	}
	return host, port, hasPort, true
}

// k8sClusterName reports whether a host is unmistakably a cluster DNS name
// (NAME.NS.svc…).
func k8sClusterName(host string) bool {
	parts := strings.Split(strings.TrimSuffix(strings.ToLower(host), "."), ".")
	return (len(parts) >= 3 && parts[2] == "svc") || (len(parts) >= 4 && parts[3] == "svc")
}

// k8sPlausibleHost filters bare words that are not host names.
func k8sPlausibleHost(h string) bool {
	switch strings.ToLower(h) {
	case "true", "false", "yes", "no", "on", "off", "none", "null", "nil", "disabled", "enabled", "auto", "default":
		return false
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	return strings.IndexFunc(h, unicode.IsLetter) >= 0
}

func k8sSelfHost(h string) bool {
	switch h {
	case "localhost", "0.0.0.0", "::", "::1", "*", "localhost.localdomain":
		return true
	}
	return strings.HasPrefix(h, "127.")
}

func (r k8sRef) target() string {
	switch {
	case r.port != 0:
		return fmt.Sprintf("%s:%d", r.host, r.port)
	case r.portName != "":
		return r.host + ":" + r.portName
	}
	return r.host
}
