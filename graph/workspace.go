package graph

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/mattn/go-sqlite3"
)

// Workspace is the SQLite file that holds every imported revision of the
// topology and journeys, and (in later migrations) containment state and the
// audit log. Each revision is a full snapshot, written in one transaction.
type Workspace struct {
	db   *sql.DB
	path string
}

// Revision describes one stored revision.
type Revision struct {
	ID        int64     `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	Note      string    `json:"note"`
	Sources   []string  `json:"sources"`
	Nodes     int       `json:"nodes"`
	Edges     int       `json:"edges"`
	Journeys  int       `json:"journeys"`
}

// RevisionMeta is what an import says about itself.
type RevisionMeta struct {
	CreatedBy string
	Note      string
	Sources   []string
	Now       time.Time // zero means time.Now()
}

// Open opens (creating if needed) the workspace at path and applies pending
// schema migrations.
func Open(path string) (*Workspace, error) {
	// The rollback journal (not WAL) keeps the workspace one self-contained
	// file; immediate transactions take the write lock up front.
	dsn := "file:" + path + "?_foreign_keys=on&_busy_timeout=5000&_txlock=immediate&_journal_mode=DELETE"
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("open workspace %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	w := &Workspace{db: db, path: path}
	if err := w.migrate(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("workspace %s: %w", path, err)
	}
	return w, nil
}

// OpenExisting opens a workspace that must already exist.
func OpenExisting(path string) (*Workspace, error) {
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("workspace %s: %w", path, ErrNoRevision)
		}
		return nil, fmt.Errorf("workspace %s: %w", path, err)
	}
	return Open(path)
}

// Close closes the database.
func (w *Workspace) Close() error { return w.db.Close() }

// Path returns the workspace file's path.
func (w *Workspace) Path() string { return w.path }

// DB exposes the database to packages that own tables of their own in the
// workspace (containment state, audit). They must use their own migrations.
func (w *Workspace) DB() *sql.DB { return w.db }

// wrapDB translates driver errors once, so callers can use errors.Is.
func wrapDB(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	var se sqlite3.Error
	if errors.As(err, &se) && se.Code == sqlite3.ErrConstraint {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return err
}

// Import stores m as a new revision, with its compiled index ix (compiled here
// when nil), in one transaction: either the whole revision lands or the file
// is left exactly as it was. Callers that compile first can report a bad model
// before the workspace is even opened.
func (w *Workspace) Import(ctx context.Context, m *Model, ix *Index, meta RevisionMeta) (int64, error) {
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("import: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	rev, err := insertRevision(ctx, tx, m, meta)
	if err != nil {
		return 0, fmt.Errorf("import: %w", wrapDB(err))
	}
	if ix == nil {
		if ix, err = Compile(m); err != nil {
			return 0, fmt.Errorf("import: %w", err)
		}
	}
	if err := storeIndex(ctx, tx, rev, ix); err != nil {
		return 0, fmt.Errorf("import: index: %w", wrapDB(err))
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("import: commit: %w", err)
	}
	return rev, nil
}

// chunkSize is how many elements one stored chunk holds.
const chunkSize = 4096

func insertRevision(ctx context.Context, tx *sql.Tx, m *Model, meta RevisionMeta) (int64, error) {
	if err := checkSorted(m); err != nil {
		return 0, err
	}
	now := meta.Now
	if now.IsZero() {
		now = time.Now()
	}
	sources, _ := json.Marshal(nonNil(meta.Sources))
	res, err := tx.ExecContext(ctx,
		`INSERT INTO revisions(created_at, created_by, note, sources, nodes, edges, journeys) VALUES(?,?,?,?,?,?,?)`,
		now.UTC().Format(time.RFC3339Nano), meta.CreatedBy, meta.Note, string(sources), len(m.Nodes), len(m.Edges), len(m.Journeys))
	if err != nil {
		return 0, err
	}
	rev, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	if err := insertChunks(ctx, tx, "nodes", rev, len(m.Nodes), func(i int) any { return m.Nodes[i].Doc() }); err != nil {
		return 0, err
	}
	if err := insertChunks(ctx, tx, "edges", rev, len(m.Edges), func(i int) any { return m.Edges[i].Doc() }); err != nil {
		return 0, err
	}
	if err := insertChunks(ctx, tx, "journeys", rev, len(m.Journeys), func(i int) any { return m.Journeys[i].Doc() }); err != nil {
		return 0, err
	}
	return rev, nil
}

// checkSorted refuses a model whose elements are out of canonical order or
// duplicated: what is stored must read back identically and index cleanly.
func checkSorted(m *Model) error {
	for i := 1; i < len(m.Nodes); i++ {
		if m.Nodes[i-1].ID >= m.Nodes[i].ID {
			return fmt.Errorf("%w: nodes: %q duplicated or out of order", ErrInvalid, m.Nodes[i].ID)
		}
	}
	for i := 1; i < len(m.Edges); i++ {
		a, b := m.Edges[i-1], m.Edges[i]
		if a.From > b.From || (a.From == b.From && a.To >= b.To) {
			return fmt.Errorf("%w: edges: %s duplicated or out of order", ErrInvalid, b.Key())
		}
	}
	for i := 1; i < len(m.Journeys); i++ {
		if m.Journeys[i-1].ID >= m.Journeys[i].ID {
			return fmt.Errorf("%w: journeys: %q duplicated or out of order", ErrInvalid, m.Journeys[i].ID)
		}
	}
	return nil
}

func insertChunks(ctx context.Context, tx *sql.Tx, table string, rev int64, n int, doc func(i int) any) error {
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO `+table+`(rev, chunk, data) VALUES(?,?,?)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for start, chunk := 0, 0; start < n; start, chunk = start+chunkSize, chunk+1 {
		buf.Reset()
		for i := start; i < n && i < start+chunkSize; i++ {
			if err := enc.Encode(doc(i)); err != nil {
				return fmt.Errorf("%s %d: %w", table, i, err)
			}
		}
		if _, err := stmt.ExecContext(ctx, rev, chunk, buf.Bytes()); err != nil {
			return fmt.Errorf("%s chunk %d: %w", table, chunk, err)
		}
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Latest returns the newest revision id, or ErrNoRevision.
func (w *Workspace) Latest(ctx context.Context) (int64, error) {
	var rev sql.NullInt64
	if err := w.db.QueryRowContext(ctx, `SELECT max(id) FROM revisions`).Scan(&rev); err != nil {
		return 0, wrapDB(err)
	}
	if !rev.Valid {
		return 0, ErrNoRevision
	}
	return rev.Int64, nil
}

// Revisions lists every revision, oldest first.
func (w *Workspace) Revisions(ctx context.Context) ([]Revision, error) {
	rows, err := w.db.QueryContext(ctx, `SELECT id, created_at, created_by, note, sources, nodes, edges, journeys FROM revisions ORDER BY id`)
	if err != nil {
		return nil, wrapDB(err)
	}
	defer rows.Close()
	var out []Revision
	for rows.Next() {
		var r Revision
		var at, sources string
		if err := rows.Scan(&r.ID, &at, &r.CreatedBy, &r.Note, &sources, &r.Nodes, &r.Edges, &r.Journeys); err != nil {
			return nil, err
		}
		r.CreatedAt, _ = time.Parse(time.RFC3339Nano, at)
		_ = json.Unmarshal([]byte(sources), &r.Sources)
		out = append(out, r)
	}
	return out, rows.Err()
}

// Revision returns one revision's metadata.
func (w *Workspace) Revision(ctx context.Context, rev int64) (Revision, error) {
	all, err := w.Revisions(ctx)
	if err != nil {
		return Revision{}, err
	}
	for _, r := range all {
		if r.ID == rev {
			return r, nil
		}
	}
	return Revision{}, fmt.Errorf("revision %d: %w", rev, ErrNotFound)
}

// Load reads revision rev back into a model.
func (w *Workspace) Load(ctx context.Context, rev int64) (*Model, error) {
	info, err := w.Revision(ctx, rev)
	if err != nil {
		return nil, err
	}
	m := &Model{
		Nodes:    make([]Node, 0, info.Nodes),
		Edges:    make([]Edge, 0, info.Edges),
		Journeys: make([]Journey, 0, info.Journeys),
	}
	err = w.scanChunks(ctx, "nodes", rev, func(b []byte) error {
		var d NodeDoc
		if err := json.Unmarshal(b, &d); err != nil {
			return err
		}
		n, err := d.Model()
		m.Nodes = append(m.Nodes, n)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("revision %d nodes: %w", rev, err)
	}
	err = w.scanChunks(ctx, "edges", rev, func(b []byte) error {
		var d EdgeDoc
		if err := json.Unmarshal(b, &d); err != nil {
			return err
		}
		e, err := d.Model()
		m.Edges = append(m.Edges, e)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("revision %d edges: %w", rev, err)
	}
	err = w.scanChunks(ctx, "journeys", rev, func(b []byte) error {
		var d JourneyDoc
		if err := json.Unmarshal(b, &d); err != nil {
			return err
		}
		m.Journeys = append(m.Journeys, d.Model())
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("revision %d journeys: %w", rev, err)
	}
	return m, nil
}

// scanChunks calls fn for every JSON line of every chunk of table, in order.
func (w *Workspace) scanChunks(ctx context.Context, table string, rev int64, fn func([]byte) error) error {
	rows, err := w.db.QueryContext(ctx, `SELECT data FROM `+table+` WHERE rev = ? ORDER BY chunk`, rev)
	if err != nil {
		return wrapDB(err)
	}
	defer rows.Close()
	var b sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&b); err != nil {
			return err
		}
		for len(b) > 0 {
			line := b
			if i := bytes.IndexByte(b, '\n'); i >= 0 {
				line, b = b[:i], b[i+1:]
			} else {
				b = nil
			}
			if len(line) == 0 {
				continue
			}
			if err := fn(line); err != nil {
				return err
			}
		}
	}
	return rows.Err()
}

// Index returns the compiled index of revision rev: the cached blob when it
// is there and readable, else compiled from the stored model and cached.
func (w *Workspace) Index(ctx context.Context, rev int64) (*Index, error) {
	var data []byte
	err := w.db.QueryRowContext(ctx, `SELECT data FROM index_cache WHERE rev = ? AND version = ?`, rev, indexVersion).Scan(&data)
	if err == nil {
		ix, err := UnmarshalIndex(data)
		if err == nil {
			return ix, nil
		}
		if !errors.Is(err, ErrIndexFormat) {
			return nil, err
		}
	} else if !errors.Is(err, sql.ErrNoRows) {
		return nil, wrapDB(err)
	}
	m, err := w.Load(ctx, rev)
	if err != nil {
		return nil, err
	}
	ix, err := Compile(m)
	if err != nil {
		return nil, fmt.Errorf("revision %d: %w", rev, err)
	}
	if blob, err := ix.MarshalBinary(); err == nil {
		// Caching is an optimisation: a read-only workspace still works.
		_, _ = w.db.ExecContext(ctx, `INSERT OR REPLACE INTO index_cache(rev, version, data) VALUES(?,?,?)`, rev, indexVersion, blob)
	}
	return ix, nil
}

// storeIndex caches ix for rev inside an import's transaction.
func storeIndex(ctx context.Context, tx *sql.Tx, rev int64, ix *Index) error {
	blob, err := ix.MarshalBinary()
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO index_cache(rev, version, data) VALUES(?,?,?)`, rev, indexVersion, blob)
	return err
}
