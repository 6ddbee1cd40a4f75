package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestPKIInitAndIssue(t *testing.T) {
	c := newCLI(t)
	dir := filepath.Join(c.dir, "pki")
	out := c.must("pki", "init", "--dir", dir, "--name", "lab CA")
	if !strings.Contains(out, filepath.Join(dir, "ca.crt")) {
		t.Errorf("init output: %q", out)
	}
	out = c.must("pki", "issue", "--dir", dir, "--name", "web-1", "--server", "--host", "10.20.1.11", "--host", "web-1.lab")
	if !strings.Contains(out, "server for 10.20.1.11, web-1.lab") {
		t.Errorf("issue output: %q", out)
	}
	c.must("pki", "issue", "--dir", dir, "--name", "alice", "--client")
	for _, f := range []string{"ca.crt", "ca.key", "web-1.crt", "web-1.key", "alice.crt", "alice.key"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}

	for _, args := range [][]string{
		{"pki", "init", "--dir", dir}, // exists
		{"pki", "init"},               // no --dir
		{"pki", "issue", "--dir", dir, "--name", "alice", "--client"}, // exists
		{"pki", "issue", "--dir", dir, "--name", "bob"},               // no role
		{"pki", "issue", "--dir", dir, "--name", "web-2", "--server"}, // no host
		{"pki", "issue", "--dir", dir, "--name", "bob", "--client", "--host", "10.0.0.1"},
		{"pki", "issue", "--dir", dir, "--name", "../bob", "--client"},                       // bad name
		{"pki", "issue", "--dir", filepath.Join(c.dir, "nope"), "--name", "bob", "--client"}, // no CA
		{"pki", "issue", "--dir", dir, "--name", "bob", "--client", "extra"},
	} {
		if _, errOut, code := c.run(args...); code != exitUsage {
			t.Errorf("%v: exit %d (%s), want %d", args, code, errOut, exitUsage)
		}
	}
	if _, errOut, _ := c.run("pki", "issue", "--dir", filepath.Join(c.dir, "nope"), "--name", "bob", "--client"); !strings.Contains(errOut, "firebreak pki init") {
		t.Errorf("no CA: the error does not say how to create one: %s", errOut)
	}

	// The agent refuses to start without mutual TLS or with bad flags.
	crt, key, ca := filepath.Join(dir, "web-1.crt"), filepath.Join(dir, "web-1.key"), filepath.Join(dir, "ca.crt")
	for _, args := range [][]string{
		{"agent"},
		{"agent", "--cert", crt, "--key", key},
		{"agent", "--cert", crt, "--key", key, "--ca", ca, "--listen", "7443"},
		{"agent", "--cert", filepath.Join(dir, "alice.crt"), "--key", filepath.Join(dir, "alice.key"), "--ca", ca}, // a client certificate
		{"agent", "--cert", crt, "--key", key, "--ca", filepath.Join(dir, "missing.crt")},
		{"agent", "--cert", crt, "--key", key, "--ca", ca, "--netns", "a/b"},
	} {
		if _, errOut, code := c.run(args...); code != exitUsage {
			t.Errorf("%v: exit %d (%s), want %d", args, code, errOut, exitUsage)
		}
	}

	// The responder's side: flags win over the environment, all three or
	// none.
	tlsFor := func(args ...string) error {
		cmd := &cobra.Command{}
		addAgentClientFlags(cmd.Flags())
		if err := cmd.Flags().Parse(args); err != nil {
			t.Fatal(err)
		}
		cfg, err := agentClientTLS(cmd)
		if err == nil && len(args)+len(os.Getenv(envAgentCert)) > 0 && (cfg == nil || len(cfg.Certificates) != 1) {
			t.Errorf("%v: no client certificate loaded", args)
		}
		return err
	}
	if err := tlsFor(); err != nil {
		t.Errorf("nothing set: %v", err)
	}
	if err := tlsFor("--agent-cert", filepath.Join(dir, "alice.crt"), "--agent-key", filepath.Join(dir, "alice.key"), "--agent-ca", ca); err != nil {
		t.Errorf("flags: %v", err)
	}
	if err := tlsFor("--agent-cert", filepath.Join(dir, "alice.crt")); exitCode(err) != exitUsage {
		t.Errorf("one flag of three: %v", err)
	}
	t.Setenv(envAgentCert, filepath.Join(dir, "alice.crt"))
	t.Setenv(envAgentKey, filepath.Join(dir, "alice.key"))
	t.Setenv(envAgentCA, ca)
	if err := tlsFor(); err != nil {
		t.Errorf("environment: %v", err)
	}
	if err := tlsFor("--agent-cert", crt, "--agent-key", key); exitCode(err) != exitUsage {
		t.Errorf("a server certificate as the client's: %v", err)
	}
}
