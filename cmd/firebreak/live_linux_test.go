//go:build linux

package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/firebreak/firebreak/contain"
)

// TestMain lets this test binary stand in for the firebreak binary: with
// FIREBREAK_TEST_CLI=1 it runs the command line it was given. The lab's
// detached responder process re-executes it the same way.
func TestMain(m *testing.M) {
	if os.Getenv("FIREBREAK_TEST_CLI") == "1" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// liveLab is a demo lab driven through real firebreak processes.
type liveLab struct {
	t       *testing.T
	ws, dir string
	name    string
	st      *contain.LabState
}

func (l *liveLab) cmd(args ...string) *exec.Cmd {
	c := exec.Command(os.Args[0], append([]string{"--workspace", l.ws, "--mgmt-cidr", "10.20.99.0/24"}, args...)...)
	c.Env = append(os.Environ(), "FIREBREAK_TEST_CLI=1")
	return c
}

func (l *liveLab) must(args ...string) string {
	l.t.Helper()
	out, err := l.cmd(args...).CombinedOutput()
	if err != nil {
		l.t.Fatalf("firebreak %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// reaches reports whether app-3 (a client of the commerce database) gets
// through to db-1 on 5432.
func (l *liveLab) reaches() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	addr := net.JoinHostPort(l.st.Nodes["db-1"].Addr.String(), "5432")
	c, err := contain.DialTCP(ctx, l.st.Nodes["app-3"].NetNS, addr, 300*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(1500 * time.Millisecond))
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "firebreak-lab ")
}

func (l *liveLab) state(id int) string {
	l.t.Helper()
	var st struct {
		Actions []struct {
			ID    int    `json:"id"`
			State string `json:"state"`
		} `json:"actions"`
	}
	if err := json.Unmarshal([]byte(l.must("contain", "status", "--json")), &st); err != nil {
		l.t.Fatal(err)
	}
	for _, a := range st.Actions {
		if a.ID == id {
			return a.State
		}
	}
	return "missing"
}

// An unconfirmed quarantine reverts within its TTL although the firebreak
// process that applied it was killed with SIGKILL; a confirmed one stays
// past its TTL; release restores the host's previous state exactly; a
// foreign nftables table present before is unchanged after all of it.
func TestCommitConfirmedSurvivesSIGKILL(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: builds a network-namespace lab and applies nftables rules")
	}
	newCLI(t) // no FIREBREAK_* from the developer's shell
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	dir := t.TempDir()
	l := &liveLab{t: t, ws: filepath.Join(dir, "ws.db"), dir: filepath.Join(dir, "lab"), name: "lk-" + hex.EncodeToString(b)}
	t.Cleanup(func() {
		if out, err := l.cmd("lab", "down", "--name", l.name, "--state-dir", l.dir).CombinedOutput(); err != nil {
			t.Errorf("lab down: %v\n%s", err, out)
		}
	})
	l.must("lab", "up", "--demo", "--name", l.name, "--state-dir", l.dir)
	st, _, err := contain.LoadLab(l.dir, l.name)
	if err != nil {
		t.Fatal(err)
	}
	l.st = st
	dbNS := st.Nodes["db-1"].NetNS
	nft := func(stdin string, args ...string) string {
		c := exec.Command("nft", args...)
		c.Stdin = strings.NewReader(stdin)
		var out []byte
		err := contain.InNetNS(dbNS, func() error { var err error; out, err = c.CombinedOutput(); return err })
		if err != nil {
			t.Fatalf("nft %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs the nft command to observe the host's ruleset")
	}
	nft("table ip foreign {\n\tchain c {\n\t\ttype filter hook input priority 0; policy accept;\n\t\ttcp dport 9999 accept\n\t}\n}\n", "-f", "-")
	rulesetBefore := nft("", "list", "ruleset")
	if !l.reaches() {
		t.Fatal("app-3 does not reach db-1 before any containment")
	}

	// 1. Provisional, and the process that applied it is killed.
	const ttl = 4 * time.Second
	proc := l.cmd("contain", "quarantine", "db-1", "--ttl", ttl.String(), "--wait", "--reason", "sigkill test")
	out, err := proc.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	proc.Stderr = os.Stderr
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "action 1: quarantine db-1") {
	}
	applied := time.Now()
	if err := proc.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = proc.Wait()
	if l.reaches() {
		t.Fatal("db-1 still reachable: the quarantine did not apply")
	}
	time.Sleep(time.Until(applied.Add(ttl - 1500*time.Millisecond)))
	if l.reaches() {
		t.Fatalf("reverted %v after applying, before its %v TTL", time.Since(applied), ttl)
	}
	// Each attempt is timed from its start: a successful one takes a while
	// longer (the lab's banner waits for the client to stay silent).
	var at time.Duration
	for {
		at = time.Since(applied)
		if l.reaches() {
			break
		}
		if at > ttl+3*time.Second {
			t.Fatalf("still quarantined %v after applying with a %v TTL and no process alive", at, ttl)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if at > ttl+500*time.Millisecond {
		t.Errorf("reverted %v after applying, later than its %v TTL", at, ttl)
	}
	t.Logf("reverted by the kernel %v after applying (TTL %v), the firebreak process long dead", at.Round(10*time.Millisecond), ttl)
	if s := l.state(1); s != "reverted" {
		t.Errorf("status says action 1 is %s, want reverted", s)
	}

	// 2. Confirmed: it stays past its TTL.
	l.must("contain", "quarantine", "db-1", "--ttl", "2s")
	l.must("contain", "confirm", "2", "--reason", "keep it")
	time.Sleep(3 * time.Second)
	if l.reaches() {
		t.Fatal("a confirmed quarantine reverted")
	}
	if s := l.state(2); s != "confirmed" {
		t.Errorf("action 2 is %s, want confirmed", s)
	}
	if st := l.must("contain", "status"); !strings.Contains(st, "in sync") {
		t.Errorf("status shows drift:\n%s", st)
	}

	// 3. Release restores the previous state exactly.
	l.must("contain", "release", "2")
	if !l.reaches() {
		t.Fatal("release did not restore db-1")
	}
	if after := nft("", "list", "ruleset"); after != rulesetBefore {
		t.Errorf("ruleset after release differs from before:\n%s\nbefore:\n%s", after, rulesetBefore)
	}
	audit := l.must("audit", "log")
	for _, want := range []string{"contain.quarantine", "contain.confirm", "contain.release", "sigkill test"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit log lacks %q:\n%s", want, audit)
		}
	}
	l.must("audit", "verify")
}
