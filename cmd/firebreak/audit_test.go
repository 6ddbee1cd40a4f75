package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/firebreak/firebreak/contain"
	"github.com/firebreak/firebreak/graph"
)

// seedAudit appends entries through the package API into the workspace the
// CLI uses, and returns the records.
func (c *cli) seedAudit(entries ...contain.Entry) []contain.Record {
	c.t.Helper()
	ws, err := graph.Open(c.ws)
	if err != nil {
		c.t.Fatal(err)
	}
	defer ws.Close()
	a, err := contain.OpenAudit(ws)
	if err != nil {
		c.t.Fatal(err)
	}
	at := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	a.Now = func() time.Time { at = at.Add(time.Minute); return at }
	var recs []contain.Record
	for _, e := range entries {
		r, err := a.Append(context.Background(), e)
		if err != nil {
			c.t.Fatal(err)
		}
		recs = append(recs, r)
	}
	return recs
}

// tamper runs SQL against the CLI's workspace behind firebreak's back.
func (c *cli) tamper(sql string) {
	c.t.Helper()
	ws, err := graph.Open(c.ws)
	if err != nil {
		c.t.Fatal(err)
	}
	defer ws.Close()
	if _, err := ws.DB().Exec(sql); err != nil {
		c.t.Fatal(err)
	}
}

var cliAuditEntries = []contain.Entry{
	{Incident: "INC-7", Action: "simulate", Target: "laptop-1", Reason: "phishing report", Who: "alice"},
	{Incident: "INC-7", Action: "contain.quarantine", Target: "laptop-1", Detail: json.RawMessage(`{"ttl":"15m"}`), Reason: "beaconing", Who: "alice"},
	{Incident: "INC-8", Action: "contain.block", Target: "web-1:db-1", Reason: "sqli\x1b[2J", Who: "bob via SSH from 203.0.113.7"},
}

func TestAuditLogAndVerify(t *testing.T) {
	c := newCLI(t)
	recs := c.seedAudit(cliAuditEntries...)

	out := c.must("audit", "log")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "SEQ") || !strings.Contains(lines[0], "WHEN (UTC)") {
		t.Fatalf("audit log:\n%s", out)
	}
	for _, want := range []string{"2026-11-22 12:01:00", "alice", "contain.quarantine", "web-1:db-1", "bob via SSH from 203.0.113.7"} {
		if !strings.Contains(out, want) {
			t.Errorf("audit log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") || !strings.Contains(out, `sqli\x1b[2J`) {
		t.Errorf("a terminal escape in a reason reached the terminal:\n%q", out)
	}

	out = c.must("audit", "log", "--incident", "INC-7", "--json")
	var got []contain.Record
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1].Hash != recs[1].Hash || !strings.Contains(string(got[1].Detail), `"ttl": "15m"`) {
		t.Errorf("audit log --incident INC-7 --json:\n%s", out)
	}
	if out := c.must("audit", "log", "--incident", "nope", "--json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("no records: %q, want []", out)
	}
	if out := c.must("audit", "log", "--since", "2026-11-22T12:02:00Z"); strings.Count(out, "\n") != 3 {
		t.Errorf("--since: want header and 2 records:\n%s", out)
	}
	if _, errOut, code := c.run("audit", "log", "--since", "yesterday"); code != 2 {
		t.Errorf("bad --since: exit %d (%s), want 2", code, errOut)
	}

	out = c.must("audit", "verify")
	if want := "audit log intact: 3 records, head " + recs[2].Hash[:12] + "\n"; out != want {
		t.Errorf("audit verify = %q, want %q", out, want)
	}
}

func TestAuditVerifyTamperedExitsOne(t *testing.T) {
	for _, tc := range []struct{ name, sql, want string }{
		{"edited", `UPDATE audit_log SET reason = 'routine' WHERE seq = 2`, "audit log tampered: seq 2: its content does not match its hash (row edited)"},
		{"deleted last", `DELETE FROM audit_log WHERE seq = 3`, "audit log tampered: seq 3: missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCLI(t)
			c.seedAudit(cliAuditEntries...)
			c.tamper(tc.sql)
			out, errOut, code := c.run("audit", "verify")
			if code != 1 || out != "" || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and %q", code, out, errOut, tc.want)
			}
			// The log still lists, so the responder can see what is left.
			if out := c.must("audit", "log"); !strings.Contains(out, "INC-7") {
				t.Errorf("audit log after tampering:\n%s", out)
			}
		})
	}
}

func TestAuditEmptyAndMissingWorkspace(t *testing.T) {
	c := newCLI(t)
	if _, errOut, code := c.run("audit", "verify"); code != 1 || !strings.Contains(errOut, "firebreak import") {
		t.Errorf("no workspace: exit %d: %s", code, errOut)
	}
	c.seedAudit()
	if out := c.must("audit", "verify"); out != "audit log intact: 0 records, head 000000000000\n" {
		t.Errorf("empty log: %q", out)
	}
	if out := c.must("audit", "log"); strings.Count(out, "\n") != 1 {
		t.Errorf("empty log: %q", out)
	}
}
