package contain

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/firebreak/firebreak/graph"
)

// Containment state lives in the workspace beside the topology: every action
// with its lifecycle, and per host the generation and the ruleset last
// applied. It is what `contain status` compares with the live hosts.

// Sentinel errors of the state store.
var (
	// ErrNoAction means no action has that id.
	ErrNoAction = errors.New("no such action")
	// ErrFinished refuses to confirm or release an action that has already
	// reverted, been released or failed.
	ErrFinished = errors.New("action is no longer active")
)

// State is an action's lifecycle state as stored; Reverted is derived from
// a provisional action whose deadline has passed.
type State string

// Action states.
const (
	StateProvisional State = "provisional" // applied, reverts at its deadline unless confirmed
	StateConfirmed   State = "confirmed"   // applied, stays until released
	StateReverted    State = "reverted"    // provisional and past its deadline: the kernel removed it
	StateReleased    State = "released"    // removed on request
	StateFailed      State = "failed"      // never applied (or rolled back)
)

// ActionRecord is a stored action with its lifecycle.
type ActionRecord struct {
	Action
	Incident  string
	Reason    string
	Who       string
	Created   time.Time
	Updated   time.Time
	Stored    State    // as stored; see StateAt
	Hosts     []string // hosts it was applied to
	Error     string   // why it failed
	Revision  int64    // workspace revision it was planned against
	Remaining time.Duration
}

// StateAt is the action's state at now: a provisional action whose deadline
// has passed has reverted.
func (r ActionRecord) StateAt(now time.Time) State {
	if r.Stored == StateProvisional && !now.Before(r.Deadline) {
		return StateReverted
	}
	return r.Stored
}

// Active reports whether the action still shapes the hosts' tables at now.
func (r ActionRecord) Active(now time.Time) bool {
	s := r.StateAt(now)
	return s == StateProvisional || s == StateConfirmed
}

// HostRecord is the last ruleset firebreak applied to a host.
type HostRecord struct {
	Host       string
	Target     string
	Generation int64
	Applied    time.Time
	Desired    Ruleset
}

var stateMigrations = []graph.Migration{
	{Name: "actions and hosts", SQL: `
CREATE TABLE contain_actions (
	id         INTEGER PRIMARY KEY,
	kind       TEXT NOT NULL,
	node       TEXT NOT NULL,
	src        TEXT NOT NULL,
	dst        TEXT NOT NULL,
	ports      TEXT NOT NULL,
	keep       TEXT NOT NULL,
	incident   TEXT NOT NULL,
	reason     TEXT NOT NULL,
	who        TEXT NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	deadline   TEXT NOT NULL,   -- empty when confirmed
	state      TEXT NOT NULL,
	hosts      TEXT NOT NULL,
	error      TEXT NOT NULL,
	rev        INTEGER NOT NULL
);
CREATE TABLE contain_hosts (
	host       TEXT PRIMARY KEY,
	target     TEXT NOT NULL,
	generation INTEGER NOT NULL,
	applied_at TEXT NOT NULL,
	desired    TEXT NOT NULL
);
`},
}

// Store reads and writes containment state in a workspace. Methods take the
// querier to use: the database, or the transaction a change runs in (the
// workspace has a single connection, so reads inside a change must go
// through its transaction).
type Store struct {
	db    *sql.DB
	empty bool // read-only view of a workspace that never had containment tables
}

// Querier is what Store methods read and write through: *sql.DB or *sql.Tx.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// DB returns the store's database, the querier outside a change.
func (s *Store) DB() Querier { return s.db }

// OpenStore prepares the workspace's containment tables.
func OpenStore(ctx context.Context, ws *graph.Workspace) (*Store, error) {
	if err := graph.Migrate(ctx, ws.DB(), "contain.state", stateMigrations); err != nil {
		return nil, err
	}
	return &Store{db: ws.DB()}, nil
}

// ReadStore opens the containment state without writing anything: a
// workspace that never had containment simply has no actions. Dry-runs use
// it, so that they leave the workspace untouched.
func ReadStore(ctx context.Context, ws *graph.Workspace) (*Store, error) {
	var n int
	err := ws.DB().QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'contain_actions'`).Scan(&n)
	if err != nil {
		return nil, err
	}
	return &Store{db: ws.DB(), empty: n == 0}, nil
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// NextID is the id the next inserted action will get.
func (s *Store) NextID(ctx context.Context, q Querier) (int64, error) {
	if s.empty {
		return 1, nil
	}
	var id sql.NullInt64
	if err := q.QueryRowContext(ctx, `SELECT max(id) FROM contain_actions`).Scan(&id); err != nil {
		return 0, err
	}
	return id.Int64 + 1, nil
}

// Insert stores a new action; its id is assigned here.
func (s *Store) Insert(ctx context.Context, tx Querier, r *ActionRecord) error {
	ports, _ := json.Marshal(portStrings(r.Ports))
	keep, _ := json.Marshal(prefixStrings(r.Keep))
	hosts, _ := json.Marshal(nonNilStrings(r.Hosts))
	res, err := tx.ExecContext(ctx, `INSERT INTO contain_actions
		(kind, node, src, dst, ports, keep, incident, reason, who, created_at, updated_at, deadline, state, hosts, error, rev)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		r.Kind.String(), r.Node, r.From, r.To, string(ports), string(keep), r.Incident, r.Reason, r.Who,
		fmtTime(r.Created), fmtTime(r.Updated), fmtTime(r.Deadline), string(r.Stored), string(hosts), r.Error, r.Revision)
	if err != nil {
		return fmt.Errorf("store action: %w", err)
	}
	r.ID, err = res.LastInsertId()
	return err
}

// Update writes an action's lifecycle fields.
func (s *Store) Update(ctx context.Context, tx Querier, r ActionRecord) error {
	hosts, _ := json.Marshal(nonNilStrings(r.Hosts))
	_, err := tx.ExecContext(ctx, `UPDATE contain_actions SET deadline = ?, state = ?, hosts = ?, error = ?, updated_at = ? WHERE id = ?`,
		fmtTime(r.Deadline), string(r.Stored), string(hosts), r.Error, fmtTime(r.Updated), r.ID)
	if err != nil {
		return fmt.Errorf("update action %d: %w", r.ID, err)
	}
	return nil
}

// Get reads one action.
func (s *Store) Get(ctx context.Context, q Querier, id int64) (ActionRecord, error) {
	rs, err := s.query(ctx, q, `WHERE id = ?`, id)
	if err != nil {
		return ActionRecord{}, err
	}
	if len(rs) == 0 {
		return ActionRecord{}, fmt.Errorf("action %d: %w", id, ErrNoAction)
	}
	return rs[0], nil
}

// List reads every action, oldest first.
func (s *Store) List(ctx context.Context, q Querier) ([]ActionRecord, error) {
	return s.query(ctx, q, ``)
}

func (s *Store) query(ctx context.Context, q Querier, where string, args ...any) ([]ActionRecord, error) {
	if s.empty {
		return nil, nil
	}
	rows, err := q.QueryContext(ctx, `SELECT id, kind, node, src, dst, ports, keep, incident, reason, who,
		created_at, updated_at, deadline, state, hosts, error, rev FROM contain_actions `+where+` ORDER BY id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ActionRecord
	for rows.Next() {
		var r ActionRecord
		var kind, ports, keep, created, updated, deadline, state, hosts string
		if err := rows.Scan(&r.ID, &kind, &r.Node, &r.From, &r.To, &ports, &keep, &r.Incident, &r.Reason, &r.Who,
			&created, &updated, &deadline, &state, &hosts, &r.Error, &r.Revision); err != nil {
			return nil, err
		}
		switch kind {
		case "quarantine":
			r.Kind = Quarantine
		case "block":
			r.Kind = Block
		}
		var ps, ks []string
		_ = json.Unmarshal([]byte(ports), &ps)
		_ = json.Unmarshal([]byte(keep), &ks)
		_ = json.Unmarshal([]byte(hosts), &r.Hosts)
		for _, p := range ps {
			if pr, err := graph.ParsePortRange(p); err == nil {
				r.Ports = append(r.Ports, pr)
			}
		}
		for _, k := range ks {
			if p, err := netip.ParsePrefix(k); err == nil {
				r.Keep = append(r.Keep, p)
			}
		}
		r.Created, r.Updated, r.Deadline = parseTime(created), parseTime(updated), parseTime(deadline)
		r.Stored = State(state)
		out = append(out, r)
	}
	return out, rows.Err()
}

// Host reads a host's last applied state; ok is false if firebreak never
// applied anything there.
func (s *Store) Host(ctx context.Context, q Querier, host string) (HostRecord, bool, error) {
	var h HostRecord
	var applied, desired string
	err := q.QueryRowContext(ctx, `SELECT host, target, generation, applied_at, desired FROM contain_hosts WHERE host = ?`, host).
		Scan(&h.Host, &h.Target, &h.Generation, &applied, &desired)
	if errors.Is(err, sql.ErrNoRows) {
		return HostRecord{Host: host}, false, nil
	}
	if err != nil {
		return h, false, err
	}
	h.Applied = parseTime(applied)
	if err := json.Unmarshal([]byte(desired), &h.Desired); err != nil {
		return h, false, fmt.Errorf("host %s: stored ruleset: %w", host, err)
	}
	return h, true, nil
}

// Hosts lists every host firebreak has applied to.
func (s *Store) Hosts(ctx context.Context, q Querier) ([]HostRecord, error) {
	if s.empty {
		return nil, nil
	}
	rows, err := q.QueryContext(ctx, `SELECT host FROM contain_hosts ORDER BY host`)
	if err != nil {
		return nil, err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		names = append(names, n)
	}
	rows.Close()
	var out []HostRecord
	for _, n := range names {
		h, _, err := s.Host(ctx, q, n)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// PutHost records a host's new generation and applied ruleset.
func (s *Store) PutHost(ctx context.Context, tx Querier, h HostRecord) error {
	desired, err := json.Marshal(h.Desired)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO contain_hosts(host, target, generation, applied_at, desired) VALUES(?,?,?,?,?)
		ON CONFLICT(host) DO UPDATE SET target = excluded.target, generation = excluded.generation,
		applied_at = excluded.applied_at, desired = excluded.desired`,
		h.Host, h.Target, h.Generation, fmtTime(h.Applied), string(desired))
	if err != nil {
		return fmt.Errorf("store host %s: %w", h.Host, err)
	}
	return nil
}

// Begin starts a write transaction.
func (s *Store) Begin(ctx context.Context) (*sql.Tx, error) { return s.db.BeginTx(ctx, nil) }

func portStrings(ps []graph.PortRange) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.String())
	}
	return out
}

func prefixStrings(ps []netip.Prefix) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.String())
	}
	return out
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
