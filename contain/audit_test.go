package contain_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/firebreak/firebreak/contain"
	"github.com/firebreak/firebreak/graph"
)

// fixedClock starts at a time with nanoseconds (to exercise RFC3339Nano) and
// advances 1.5s per call.
func fixedClock() func() time.Time {
	t := time.Date(2026, 11, 22, 12, 0, 0, 123456789, time.UTC)
	return func() time.Time {
		t = t.Add(1500 * time.Millisecond)
		return t
	}
}

// auditEntries is an incident's worth of steps: seq 1..5.
var auditEntries = []contain.Entry{
	{Incident: "INC-7", Action: "simulate", Target: "laptop-1", Detail: json.RawMessage(`{"compromise": ["laptop-1"], "reached": 12}`), Reason: "phishing report", Who: "alice"},
	{Incident: "INC-7", Action: "contain.quarantine", Target: "laptop-1", Detail: json.RawMessage(`{"ttl":"15m","hosts":["laptop-1"]}`), Reason: "beaconing to C2", Who: "alice"},
	{Incident: "INC-8", Action: "contain.block", Target: "web-1:db-1", Detail: json.RawMessage(`{"ports":["5432"]}`), Reason: "sqli", Who: "bob via SSH from 203.0.113.7"},
	{Incident: "INC-7", Action: "contain.confirm", Target: "laptop-1", Reason: "still beaconing", Who: "alice"},
	{Incident: "INC-7", Action: "contain.release", Target: "laptop-1", Detail: json.RawMessage(`{"action":2}`), Reason: "reimaged", Who: "carol"},
}

func openWS(t *testing.T) *graph.Workspace {
	t.Helper()
	ws, err := graph.Open(filepath.Join(t.TempDir(), "firebreak.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

// newAudit returns a fresh workspace's audit log holding auditEntries.
func newAudit(t *testing.T) (*graph.Workspace, *contain.Audit, []contain.Record) {
	t.Helper()
	ws := openWS(t)
	a, err := contain.OpenAudit(ws)
	if err != nil {
		t.Fatal(err)
	}
	a.Now = fixedClock()
	var recs []contain.Record
	for _, e := range auditEntries {
		r, err := a.Append(context.Background(), e)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	return ws, a, recs
}

// specHash is the chain hash as documented, written independently of the
// package: sha256 over prev_hash, seq, at, who, incident, action, target,
// detail, reason, each prefixed by its length as 8 big-endian bytes.
func specHash(prev string, seq int64, at, who, incident, action, target, detail, reason string) string {
	h := sha256.New()
	for _, f := range []string{prev, strconv.FormatInt(seq, 10), at, who, incident, action, target, detail, reason} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestAuditAppendListVerify(t *testing.T) {
	ctx := context.Background()
	_, a, recs := newAudit(t)
	if err := a.Verify(ctx); err != nil {
		t.Fatalf("intact log: %v", err)
	}
	prev := contain.GenesisHash
	for i, r := range recs {
		if r.Seq != int64(i+1) || r.PrevHash != prev || len(r.Hash) != 64 {
			t.Errorf("record %d: seq %d prev %.12s hash %q", i, r.Seq, r.PrevHash, r.Hash)
		}
		prev = r.Hash
	}
	if got := string(recs[0].Detail); got != `{"compromise":["laptop-1"],"reached":12}` {
		t.Errorf("detail stored as %s, want compacted", got)
	}
	if got := string(recs[3].Detail); got != `{}` {
		t.Errorf("empty detail stored as %s, want {}", got)
	}
	if want := time.Date(2026, 11, 22, 12, 0, 1, 623456789, time.UTC); !recs[0].At.Equal(want) || recs[0].At.Location() != time.UTC {
		t.Errorf("at %v, want %v", recs[0].At, want)
	}

	all, err := a.List(ctx, contain.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(recs) {
		t.Fatalf("List: %d records, want %d", len(all), len(recs))
	}
	for i := range all {
		if got, want := mustJSON(t, all[i]), mustJSON(t, recs[i]); got != want {
			t.Errorf("List[%d] = %s\nAppend returned %s", i, got, want)
		}
	}

	inc7, err := a.List(ctx, contain.AuditFilter{Incident: "INC-7"})
	if err != nil || len(inc7) != 4 || inc7[2].Seq != 4 {
		t.Errorf("INC-7: %d records (%v)", len(inc7), err)
	}
	// recs[2] is at ...:05.623456789; Since is inclusive and compares
	// instants, not strings.
	late, err := a.List(ctx, contain.AuditFilter{Since: recs[2].At})
	if err != nil || len(late) != 3 || late[0].Seq != 3 {
		t.Errorf("since %v: %d records (%v)", recs[2].At, len(late), err)
	}
	head, err := a.VerifyHead(ctx)
	if err != nil || head.Seq != 5 || head.Hash != recs[4].Hash {
		t.Errorf("head %+v (%v), want seq 5 hash %.12s", head, err, recs[4].Hash)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAuditEmptyLogVerifies(t *testing.T) {
	a, err := contain.OpenAudit(openWS(t))
	if err != nil {
		t.Fatal(err)
	}
	head, err := a.VerifyHead(context.Background())
	if err != nil || head.Seq != 0 || head.Hash != contain.GenesisHash {
		t.Errorf("empty log: head %+v, %v", head, err)
	}
	recs, err := a.List(context.Background(), contain.AuditFilter{})
	if err != nil || len(recs) != 0 {
		t.Errorf("empty log: %v, %v", recs, err)
	}
}

// The same entries under the same clock hash the same in any workspace, and
// the hash is the documented one.
func TestAuditHashesAreDeterministic(t *testing.T) {
	_, _, one := newAudit(t)
	_, _, two := newAudit(t)
	for i := range one {
		if one[i].Hash != two[i].Hash {
			t.Errorf("seq %d: %s in one workspace, %s in another", one[i].Seq, one[i].Hash, two[i].Hash)
		}
		r := one[i]
		want := specHash(r.PrevHash, r.Seq, r.At.Format(time.RFC3339Nano), r.Who, r.Incident, r.Action, r.Target, string(r.Detail), r.Reason)
		if r.Hash != want {
			t.Errorf("seq %d: hash %s, the documented encoding gives %s", r.Seq, r.Hash, want)
		}
	}
}

// Moving bytes from one field to its neighbour changes the hash.
func TestAuditFieldsCannotShift(t *testing.T) {
	hashOf := func(e contain.Entry) string {
		a, err := contain.OpenAudit(openWS(t))
		if err != nil {
			t.Fatal(err)
		}
		a.Now = fixedClock()
		r, err := a.Append(context.Background(), e)
		if err != nil {
			t.Fatal(err)
		}
		return r.Hash
	}
	base := contain.Entry{Who: "al", Incident: "ice", Action: "simulate", Target: "web-1", Reason: "why"}
	shifted := []contain.Entry{
		{Who: "a", Incident: "lice", Action: "simulate", Target: "web-1", Reason: "why"},
		{Who: "al", Incident: "ices", Action: "imulate", Target: "web-1", Reason: "why"},
		{Who: "al", Incident: "ice", Action: "simulateweb", Target: "-1", Reason: "why"},
	}
	h := hashOf(base)
	for _, e := range shifted {
		if hashOf(e) == h {
			t.Errorf("%+v hashes like %+v", e, base)
		}
	}
}

// rehash recomputes the stored hash of row seq from its stored content, as
// an attacker covering an edit would.
func rehash(t *testing.T, db *sql.DB, seq int64) {
	t.Helper()
	var at, who, incident, action, target, detail, reason, prev string
	err := db.QueryRow(`SELECT at, who, incident, action, target, detail, reason, prev_hash FROM audit_log WHERE seq = ?`, seq).
		Scan(&at, &who, &incident, &action, &target, &detail, &reason, &prev)
	if err != nil {
		t.Fatal(err)
	}
	h := specHash(prev, seq, at, who, incident, action, target, detail, reason)
	if _, err := db.Exec(`UPDATE audit_log SET hash = ? WHERE seq = ?`, h, seq); err != nil {
		t.Fatal(err)
	}
}

func TestAuditVerifyDetectsTampering(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sql     string
		rehash  []int64 // rows whose hash is recomputed after the SQL
		seq     int64   // the record Verify must name
		problem string
	}{
		{name: "edit reason", sql: `UPDATE audit_log SET reason = 'routine' WHERE seq = 3`, seq: 3, problem: "row edited"},
		{name: "edit who", sql: `UPDATE audit_log SET who = 'mallory' WHERE seq = 2`, seq: 2, problem: "row edited"},
		{name: "edit detail", sql: `UPDATE audit_log SET detail = '{"ttl":"15h","hosts":["laptop-1"]}' WHERE seq = 2`, seq: 2, problem: "row edited"},
		{name: "edit time", sql: `UPDATE audit_log SET at = '2026-11-22T11:00:00Z' WHERE seq = 4`, seq: 4, problem: "row edited"},
		{name: "edit hash only", sql: `UPDATE audit_log SET hash = prev_hash WHERE seq = 3`, seq: 3, problem: "row edited"},
		{name: "edit and rehash middle", sql: `UPDATE audit_log SET target = 'laptop-2' WHERE seq = 3`, rehash: []int64{3}, seq: 3, problem: "edited and rehashed"},
		{name: "edit and rehash first", sql: `UPDATE audit_log SET reason = 'drill' WHERE seq = 1`, rehash: []int64{1}, seq: 1, problem: "edited and rehashed"},
		{name: "edit and rehash last", sql: `UPDATE audit_log SET reason = 'drill' WHERE seq = 5`, rehash: []int64{5}, seq: 5, problem: "does not match the chain head"},
		{name: "delete middle", sql: `DELETE FROM audit_log WHERE seq = 3`, seq: 3, problem: "row deleted"},
		{name: "delete first", sql: `DELETE FROM audit_log WHERE seq = 1`, seq: 1, problem: "row deleted"},
		{name: "delete last", sql: `DELETE FROM audit_log WHERE seq = 5`, seq: 5, problem: "deleted from the end"},
		{name: "delete last two", sql: `DELETE FROM audit_log WHERE seq >= 4`, seq: 4, problem: "deleted from the end"},
		{name: "delete everything", sql: `DELETE FROM audit_log`, seq: 1, problem: "deleted from the end"},
		{
			name: "delete middle and renumber",
			sql:  `DELETE FROM audit_log WHERE seq = 3; UPDATE audit_log SET seq = seq - 1 WHERE seq > 3`,
			seq:  3, problem: "moved, replaced or renumbered",
		},
		{
			name: "delete middle, renumber and rehash",
			sql:  `DELETE FROM audit_log WHERE seq = 3; UPDATE audit_log SET seq = seq - 1 WHERE seq > 3`,
			// Row 3 (was 4) still names the deleted row's hash as its prev.
			rehash: []int64{3, 4}, seq: 2, problem: "prev_hash recorded by seq 3",
		},
		{
			name: "swap two rows",
			sql:  `UPDATE audit_log SET seq = -1 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 3; UPDATE audit_log SET seq = 3 WHERE seq = -1`,
			seq:  2, problem: "prev_hash is the hash of seq 3, not of seq 1 (rows reordered)",
		},
		{
			name: "swap two rows and rehash",
			sql:  `UPDATE audit_log SET seq = -1 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 3; UPDATE audit_log SET seq = 3 WHERE seq = -1`,
			// Both rows rehashed: indistinguishable from seq 1 rewritten or
			// seq 2 replaced, and the message says so.
			rehash: []int64{2, 3}, seq: 1, problem: "prev_hash recorded by seq 2 (row edited and rehashed, or seq 2 replaced or moved)",
		},
		{
			name: "move the first row to the end",
			sql:  `UPDATE audit_log SET seq = 6 WHERE seq = 1; UPDATE audit_log SET seq = seq - 1`,
			seq:  1, problem: "prev_hash is the hash of seq 5, not of seq 0 (rows reordered)",
		},
		{
			name: "row added past the head",
			sql: `INSERT INTO audit_log(seq, at, who, incident, action, target, detail, reason, prev_hash, hash)
				SELECT 6, at, who, incident, action, target, detail, reason, hash, '' FROM audit_log WHERE seq = 5`,
			rehash: []int64{6}, seq: 6, problem: "not covered by the chain head",
		},
		{name: "head deleted", sql: `DELETE FROM audit_head`, seq: 0, problem: "chain head: missing"},
		{name: "head rewound", sql: `UPDATE audit_head SET seq = 3, hash = (SELECT hash FROM audit_log WHERE seq = 3)`, seq: 4, problem: "not covered by the chain head"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws, a, _ := newAudit(t)
			if _, err := ws.DB().Exec(tc.sql); err != nil {
				t.Fatal(err)
			}
			for _, seq := range tc.rehash {
				rehash(t, ws.DB(), seq)
			}
			err := a.Verify(context.Background())
			if !errors.Is(err, contain.ErrTampered) {
				t.Fatalf("Verify = %v, want ErrTampered", err)
			}
			var te *contain.TamperError
			if !errors.As(err, &te) || te.Seq != tc.seq {
				t.Errorf("Verify = %v, want it to name seq %d", err, tc.seq)
			}
			if !strings.Contains(err.Error(), tc.problem) {
				t.Errorf("Verify = %q, want it to say %q", err, tc.problem)
			}
		})
	}
}

// A tampered log does not stop containment from being recorded, and the
// damage stays visible.
func TestAuditAppendAfterTampering(t *testing.T) {
	ctx := context.Background()
	ws, a, _ := newAudit(t)
	if _, err := ws.DB().Exec(`DELETE FROM audit_log WHERE seq = 5`); err != nil {
		t.Fatal(err)
	}
	r, err := a.Append(ctx, contain.Entry{Incident: "INC-7", Action: "contain.quarantine", Target: "laptop-1", Who: "alice"})
	if err != nil || r.Seq != 6 {
		t.Fatalf("append after tampering: seq %d, %v", r.Seq, err)
	}
	var te *contain.TamperError
	if err := a.Verify(ctx); !errors.As(err, &te) || te.Seq != 5 {
		t.Errorf("Verify = %v, want seq 5 missing", err)
	}
}

// AppendTx writes inside the caller's transaction: a rollback leaves neither
// the row nor the head behind.
func TestAuditAppendTx(t *testing.T) {
	ctx := context.Background()
	ws := openWS(t)
	a, err := contain.OpenAudit(ws)
	if err != nil {
		t.Fatal(err)
	}
	a.Now = fixedClock()
	e := contain.Entry{Incident: "INC-1", Action: "contain.quarantine", Target: "web-1", Who: "alice"}
	for _, commit := range []bool{false, true} {
		tx, err := ws.DB().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r, err := a.AppendTx(ctx, tx, e); err != nil || r.Seq != 1 {
			t.Fatalf("AppendTx: seq %d, %v", r.Seq, err)
		}
		if commit {
			err = tx.Commit()
		} else {
			err = tx.Rollback()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	head, err := a.VerifyHead(ctx)
	if err != nil || head.Seq != 1 {
		t.Errorf("after one rollback and one commit: head %+v, %v", head, err)
	}
}

func TestAuditRejectsBadEntries(t *testing.T) {
	a, err := contain.OpenAudit(openWS(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []contain.Entry{
		{Incident: "INC-1", Who: "alice"},
		{Action: "simulate", Detail: json.RawMessage(`{"a":`), Who: "alice"},
		{Action: "simulate", Detail: json.RawMessage(`{} {}`), Who: "alice"},
	} {
		if _, err := a.Append(context.Background(), e); !errors.Is(err, graph.ErrInvalid) {
			t.Errorf("Append(%+v) = %v, want ErrInvalid", e, err)
		}
	}
	if err := a.Verify(context.Background()); err != nil {
		t.Errorf("rejected entries left the log broken: %v", err)
	}
}

// The log survives closing and reopening the workspace, and reopening does
// not re-run the migration.
func TestAuditReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "firebreak.db")
	for i := range 2 {
		ws, err := graph.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		a, err := contain.OpenAudit(ws)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Append(ctx, contain.Entry{Action: "simulate", Who: "alice"}); err != nil {
			t.Fatal(err)
		}
		head, err := a.VerifyHead(ctx)
		if err != nil || head.Seq != int64(i+1) {
			t.Errorf("open %d: head %+v, %v", i+1, head, err)
		}
		ws.Close()
	}
}

func TestCurrentOperator(t *testing.T) {
	t.Setenv("SUDO_USER", "")
	t.Setenv("SSH_CONNECTION", "")
	plain := contain.CurrentOperator()
	if plain == "" || strings.Contains(plain, "via SSH") {
		t.Fatalf("without SSH: %q", plain)
	}
	t.Setenv("SSH_CONNECTION", "203.0.113.7 52144 10.0.0.2 22")
	if got, want := contain.CurrentOperator(), plain+" via SSH from 203.0.113.7"; got != want {
		t.Errorf("over SSH: %q, want %q", got, want)
	}
	t.Setenv("SUDO_USER", "someone-else")
	if got, want := contain.CurrentOperator(), plain+" (sudo by someone-else) via SSH from 203.0.113.7"; got != want {
		t.Errorf("under sudo over SSH: %q, want %q", got, want)
	}

	// An entry without Who is attributed to the current operator.
	t.Setenv("SUDO_USER", "")
	t.Setenv("SSH_CONNECTION", "")
	a, err := contain.OpenAudit(openWS(t))
	if err != nil {
		t.Fatal(err)
	}
	r, err := a.Append(context.Background(), contain.Entry{Action: "simulate"})
	if err != nil || r.Who != plain {
		t.Errorf("default who %q (%v), want %q", r.Who, err, plain)
	}
}
