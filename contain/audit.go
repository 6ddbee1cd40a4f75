package contain

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak/firebreak/graph"
)

// ErrTampered marks an audit log whose rows no longer form the hash chain
// that firebreak wrote: a row was edited, deleted, reordered or added behind
// its back. Verify returns it wrapped in a *TamperError.
var ErrTampered = errors.New("audit log tampered")

// GenesisHash is the prev_hash of the first record of every audit log.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// auditMigrations are the audit log's schema steps (owner "contain.audit").
// The head row is updated in the same transaction as every append, so rows
// deleted from the end of the log are detected too.
var auditMigrations = []graph.Migration{
	{Name: "audit log and chain head", SQL: `
CREATE TABLE audit_log (
	seq       INTEGER PRIMARY KEY,
	at        TEXT NOT NULL,
	who       TEXT NOT NULL,
	incident  TEXT NOT NULL,
	action    TEXT NOT NULL,
	target    TEXT NOT NULL,
	detail    TEXT NOT NULL,
	reason    TEXT NOT NULL,
	prev_hash TEXT NOT NULL,
	hash      TEXT NOT NULL
);
CREATE INDEX audit_log_incident ON audit_log(incident, seq);
CREATE TABLE audit_head (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	seq  INTEGER NOT NULL,
	hash TEXT NOT NULL
);
INSERT INTO audit_head(id, seq, hash) VALUES (1, 0, '` + GenesisHash + `');
`},
}

// Entry is what one audited step says: who did what to which target on
// which incident, and why.
type Entry struct {
	Incident string `json:"incident"`
	// Action names the step, e.g. "contain.quarantine", "contain.confirm",
	// "simulate".
	Action string `json:"action"`
	// Target is the node, edge ("from:to") or host acted on; empty if none.
	Target string `json:"target"`
	// Detail is what was done: the parameters and the outcome, as a JSON
	// value. It is stored compacted; empty means {}.
	Detail json.RawMessage `json:"detail"`
	// Reason is why, from --reason.
	Reason string `json:"reason"`
	// Who is the operator; empty means CurrentOperator().
	Who string `json:"who"`
}

// Record is an Entry as stored: its place in the chain, its time, and the
// hashes that link it to the record before.
type Record struct {
	Seq int64     `json:"seq"`
	At  time.Time `json:"at"`
	Entry
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
}

// Head is the end of the chain: the last record's seq and hash (0 and
// GenesisHash for an empty log).
type Head struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

// AuditFilter selects records for List; zero fields select everything.
type AuditFilter struct {
	Incident string
	Since    time.Time // records at or after this instant
}

// TamperError locates the first problem Verify found.
type TamperError struct {
	// Seq is the record the problem is at: the edited, missing or misplaced
	// one. Zero means the chain head itself.
	Seq     int64
	Problem string
}

func (e *TamperError) Error() string {
	if e.Seq == 0 {
		return fmt.Sprintf("%v: chain head: %s", ErrTampered, e.Problem)
	}
	return fmt.Sprintf("%v: seq %d: %s", ErrTampered, e.Seq, e.Problem)
}

// Unwrap makes every TamperError an ErrTampered.
func (e *TamperError) Unwrap() error { return ErrTampered }

// Audit is the hash-chained audit log in a workspace. Every containment
// step and every simulation run on an incident is appended to it.
type Audit struct {
	db *sql.DB
	// Now is the clock; nil means time.Now. Tests fix it.
	Now func() time.Time
}

// OpenAudit returns the audit log of ws, creating its tables if needed.
func OpenAudit(ws *graph.Workspace) (*Audit, error) {
	if err := graph.Migrate(context.Background(), ws.DB(), "contain.audit", auditMigrations); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return &Audit{db: ws.DB()}, nil
}

// Append adds e to the log in a transaction of its own.
func (a *Audit) Append(ctx context.Context, e Entry) (Record, error) {
	tx, err := a.db.BeginTx(ctx, nil)
	if err != nil {
		return Record{}, fmt.Errorf("audit append: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	rec, err := a.AppendTx(ctx, tx, e)
	if err != nil {
		return Record{}, err
	}
	if err := tx.Commit(); err != nil {
		return Record{}, fmt.Errorf("audit append %s: commit: %w", e.Action, err)
	}
	return rec, nil
}

// AppendTx adds e to the log inside tx, a transaction on the same workspace,
// so the audit row lands (or not) together with the caller's own change.
// The record is only durable once the caller commits.
//
// It links to the chain head whatever the rows look like: a tampered log
// does not stop containment from being recorded, and Verify still reports
// the damage.
func (a *Audit) AppendTx(ctx context.Context, tx *sql.Tx, e Entry) (Record, error) {
	if e.Action == "" {
		return Record{}, fmt.Errorf("audit append: action is empty: %w", graph.ErrInvalid)
	}
	detail, err := compactDetail(e.Detail)
	if err != nil {
		return Record{}, fmt.Errorf("audit append %s: detail: %v: %w", e.Action, err, graph.ErrInvalid)
	}
	e.Detail = detail
	if e.Who == "" {
		e.Who = CurrentOperator()
	}
	var head Head
	if err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&head.Seq, &head.Hash); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Record{}, fmt.Errorf("audit append %s: %w", e.Action, &TamperError{Problem: "missing"})
		}
		return Record{}, fmt.Errorf("audit append %s: %w", e.Action, err)
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	at := now().UTC().Format(time.RFC3339Nano)
	rec := Record{Seq: head.Seq + 1, Entry: e, PrevHash: head.Hash}
	rec.At, _ = time.Parse(time.RFC3339Nano, at)
	rec.Hash = chainHash(rec.PrevHash, rec.Seq, at, &e)
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO audit_log(seq, at, who, incident, action, target, detail, reason, prev_hash, hash) VALUES(?,?,?,?,?,?,?,?,?,?)`,
		rec.Seq, at, e.Who, e.Incident, e.Action, e.Target, string(e.Detail), e.Reason, rec.PrevHash, rec.Hash); err != nil {
		return Record{}, fmt.Errorf("audit append %s: seq %d: %w", e.Action, rec.Seq, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`, rec.Seq, rec.Hash); err != nil {
		return Record{}, fmt.Errorf("audit append %s: head: %w", e.Action, err)
	}
	return rec, nil
}

func compactDetail(d json.RawMessage) (json.RawMessage, error) {
	if len(bytes.TrimSpace(d)) == 0 {
		return json.RawMessage(`{}`), nil
	}
	if !json.Valid(d) {
		return nil, errors.New("not one JSON value")
	}
	var b bytes.Buffer
	if err := json.Compact(&b, d); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// chainHash is hex(sha256(prevHash, seq, at, who, incident, action, target,
// detail, reason)), each field length-prefixed so that no byte can move from
// one field to its neighbour without changing the hash. at is the stored
// RFC 3339 text, so verification never depends on re-formatting a time.
func chainHash(prev string, seq int64, at string, e *Entry) string {
	h := sha256.New()
	for _, f := range []string{prev, strconv.FormatInt(seq, 10), at, e.Who, e.Incident, e.Action, e.Target, string(e.Detail), e.Reason} {
		writeField(h, f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func writeField(h hash.Hash, s string) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(s)))
	h.Write(n[:])
	h.Write([]byte(s))
}

// row is one stored record before its time is parsed.
type row struct {
	rec Record
	at  string
}

const selectRows = `SELECT seq, at, who, incident, action, target, detail, reason, prev_hash, hash FROM audit_log`

func scanRow(rows *sql.Rows) (row, error) {
	var r row
	var detail string
	err := rows.Scan(&r.rec.Seq, &r.at, &r.rec.Who, &r.rec.Incident, &r.rec.Action, &r.rec.Target, &detail, &r.rec.Reason, &r.rec.PrevHash, &r.rec.Hash)
	r.rec.Detail = json.RawMessage(detail)
	r.rec.At, _ = time.Parse(time.RFC3339Nano, r.at)
	return r, err
}

// List returns the records that f selects, in seq order. It does not
// verify the chain.
func (a *Audit) List(ctx context.Context, f AuditFilter) ([]Record, error) {
	q, args := selectRows, []any{}
	if f.Incident != "" {
		q += ` WHERE incident = ?`
		args = append(args, f.Incident)
	}
	rows, err := a.db.QueryContext(ctx, q+` ORDER BY seq`, args...)
	if err != nil {
		return nil, fmt.Errorf("audit list: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		r, err := scanRow(rows)
		if err != nil {
			return nil, fmt.Errorf("audit list: %w", err)
		}
		// Times are compared parsed: RFC 3339 text with trimmed fractions
		// does not sort as a string.
		if !f.Since.IsZero() && r.rec.At.Before(f.Since) {
			continue
		}
		if !json.Valid(r.rec.Detail) {
			r.rec.Detail = nil // a damaged row must not break JSON output
		}
		out = append(out, r.rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit list: %w", err)
	}
	return out, nil
}

// Verify walks the whole log in seq order and returns a *TamperError
// (errors.Is ErrTampered) for the first record that is edited, missing,
// reordered or not covered by the chain head.
func (a *Audit) Verify(ctx context.Context) error {
	_, err := a.VerifyHead(ctx)
	return err
}

// VerifyHead is Verify that also returns the head the intact chain ends at.
// It reads the log in one transaction, so appends running at the same time
// cannot make a sound log look broken.
func (a *Audit) VerifyHead(ctx context.Context) (Head, error) {
	tx, err := a.db.BeginTx(ctx, nil)
	if err != nil {
		return Head{}, fmt.Errorf("audit verify: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read only
	var head Head
	if err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&head.Seq, &head.Hash); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Head{}, &TamperError{Problem: "missing"}
		}
		return Head{}, fmt.Errorf("audit verify: %w", err)
	}
	rows, err := tx.QueryContext(ctx, selectRows+` ORDER BY seq`)
	if err != nil {
		return Head{}, fmt.Errorf("audit verify: %w", err)
	}
	defer rows.Close()
	last := Head{Seq: 0, Hash: GenesisHash}
	for rows.Next() {
		if err := ctx.Err(); err != nil {
			return Head{}, err
		}
		r, err := scanRow(rows)
		if err != nil {
			return Head{}, fmt.Errorf("audit verify: seq %d: %w", last.Seq+1, err)
		}
		if te := checkLink(last, r); te != nil {
			rows.Close()
			return Head{}, explainLink(ctx, tx, last, r, te)
		}
		last = Head{Seq: r.rec.Seq, Hash: r.rec.Hash}
	}
	if err := rows.Err(); err != nil {
		return Head{}, fmt.Errorf("audit verify: %w", err)
	}
	switch {
	case head.Seq > last.Seq:
		return Head{}, &TamperError{Seq: last.Seq + 1, Problem: fmt.Sprintf("missing: the chain head records %d rows, the log ends at %d (rows deleted from the end)", head.Seq, last.Seq)}
	case head.Seq < last.Seq:
		return Head{}, &TamperError{Seq: head.Seq + 1, Problem: fmt.Sprintf("not covered by the chain head, which ends at seq %d (rows added outside firebreak)", head.Seq)}
	case head.Hash != last.Hash:
		if last.Seq == 0 {
			return Head{}, &TamperError{Problem: "the log is empty but the head hash is not the genesis hash"}
		}
		return Head{}, &TamperError{Seq: last.Seq, Problem: "its hash does not match the chain head (row edited and rehashed)"}
	}
	return head, nil
}

// checkLink checks record r against the record before it (prev). A row
// whose own hash is right but whose prev_hash does not match most likely
// means the row before was rewritten with a recomputed hash, so that one is
// named; the chain alone cannot tell that from r itself being replaced by a
// rehashed row, so the message says both.
func checkLink(prev Head, r row) *TamperError {
	want := prev.Seq + 1
	switch {
	case r.rec.Seq > want:
		return &TamperError{Seq: want, Problem: fmt.Sprintf("missing: the log goes from seq %d to %d (row deleted)", prev.Seq, r.rec.Seq)}
	case r.rec.Seq < want:
		return &TamperError{Seq: r.rec.Seq, Problem: "seq out of range (row renumbered)"}
	}
	selfOK := chainHash(r.rec.PrevHash, r.rec.Seq, r.at, &r.rec.Entry) == r.rec.Hash
	linkOK := r.rec.PrevHash == prev.Hash
	switch {
	case selfOK && linkOK:
		return nil
	case !linkOK && !selfOK:
		return &TamperError{Seq: r.rec.Seq, Problem: "neither its prev_hash nor its hash match (row moved, replaced or renumbered)"}
	case !selfOK:
		return &TamperError{Seq: r.rec.Seq, Problem: "its content does not match its hash (row edited)"}
	case prev.Seq == 0:
		return &TamperError{Seq: r.rec.Seq, Problem: "the chain does not start at the genesis hash (earlier rows deleted and the rest renumbered)"}
	default:
		return &TamperError{Seq: prev.Seq, Problem: fmt.Sprintf("its hash does not match the prev_hash recorded by seq %d (row edited and rehashed, or seq %d replaced or moved)", r.rec.Seq, r.rec.Seq)}
	}
}

// explainLink refines a broken link: when r's prev_hash is the hash of
// another row of the log, the rows were reordered, and r is where the order
// first goes wrong.
func explainLink(ctx context.Context, tx *sql.Tx, prev Head, r row, te *TamperError) error {
	if r.rec.PrevHash == prev.Hash || r.rec.Seq != prev.Seq+1 {
		return te
	}
	var k int64
	err := tx.QueryRowContext(ctx, `SELECT seq FROM audit_log WHERE hash = ? AND seq <> ? ORDER BY seq LIMIT 1`, r.rec.PrevHash, prev.Seq).Scan(&k)
	if err != nil {
		return te // no row to point at (or unreadable): keep the plain finding
	}
	return &TamperError{Seq: r.rec.Seq, Problem: fmt.Sprintf("its prev_hash is the hash of seq %d, not of seq %d (rows reordered)", k, prev.Seq)}
}

// CurrentOperator names who is acting, for Entry.Who: the OS user, the user
// who ran sudo when that differs, and the SSH client address when the
// session came in over SSH, e.g. "root (sudo by alice) via SSH from
// 203.0.113.7".
func CurrentOperator() string {
	who := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		who = u.Username
	}
	if s := os.Getenv("SUDO_USER"); s != "" && s != who {
		who += " (sudo by " + s + ")"
	}
	// SSH_CONNECTION is "client_addr client_port server_addr server_port".
	if f := strings.Fields(os.Getenv("SSH_CONNECTION")); len(f) > 0 {
		who += " via SSH from " + f[0]
	}
	return who
}
