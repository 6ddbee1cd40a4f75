package graph

import (
	"context"
	"database/sql"
	"fmt"
)

// Migration is one step of a schema's history. Steps are applied in order,
// each in its own transaction, and never edited once released: a change to
// the schema is a new step.
type Migration struct {
	Name string
	SQL  string
}

// graphMigrations are the graph package's schema steps. Other packages keep
// their own tables with their own step lists (see Migrate).
var graphMigrations = []Migration{
	{"revisions, nodes, edges, journeys", `
CREATE TABLE revisions (
	id         INTEGER PRIMARY KEY,
	created_at TEXT NOT NULL,
	created_by TEXT NOT NULL,
	note       TEXT NOT NULL,
	sources    TEXT NOT NULL,
	nodes      INTEGER NOT NULL,
	edges      INTEGER NOT NULL,
	journeys   INTEGER NOT NULL
);
-- Nodes, edges and journeys are stored as chunks of JSON lines (the native
-- wire shapes, in canonical order), not one row each: a million-node estate is
-- a few hundred rows to write and read, not millions.
CREATE TABLE nodes (
	rev   INTEGER NOT NULL REFERENCES revisions(id),
	chunk INTEGER NOT NULL,
	data  BLOB NOT NULL,
	PRIMARY KEY (rev, chunk)
) WITHOUT ROWID;
CREATE TABLE edges (
	rev   INTEGER NOT NULL REFERENCES revisions(id),
	chunk INTEGER NOT NULL,
	data  BLOB NOT NULL,
	PRIMARY KEY (rev, chunk)
) WITHOUT ROWID;
CREATE TABLE journeys (
	rev   INTEGER NOT NULL REFERENCES revisions(id),
	chunk INTEGER NOT NULL,
	data  BLOB NOT NULL,
	PRIMARY KEY (rev, chunk)
) WITHOUT ROWID;
-- The compiled index of each revision, so opening needs one blob read.
CREATE TABLE index_cache (
	rev     INTEGER PRIMARY KEY REFERENCES revisions(id),
	version INTEGER NOT NULL,
	data    BLOB NOT NULL
);
`},
}

func (w *Workspace) migrate(ctx context.Context) error {
	return Migrate(ctx, w.db, "graph", graphMigrations)
}

// Migrate applies the pending steps of one owner's schema. Versions are kept
// per owner in schema_versions, so packages evolve their tables independently.
func Migrate(ctx context.Context, db *sql.DB, owner string, steps []Migration) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_versions (owner TEXT PRIMARY KEY, version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate %s: %w", owner, err)
	}
	var have int
	err := db.QueryRowContext(ctx, `SELECT version FROM schema_versions WHERE owner = ?`, owner).Scan(&have)
	if err != nil && err != sql.ErrNoRows {
		return fmt.Errorf("migrate %s: %w", owner, err)
	}
	if have > len(steps) {
		return fmt.Errorf("migrate %s: workspace schema version %d is newer than this firebreak knows (%d): upgrade firebreak", owner, have, len(steps))
	}
	for v := have; v < len(steps); v++ {
		if err := applyStep(ctx, db, owner, v+1, steps[v]); err != nil {
			return err
		}
	}
	return nil
}

func applyStep(ctx context.Context, db *sql.DB, owner string, version int, m Migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("migrate %s step %d (%s): %w", owner, version, m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_versions(owner, version) VALUES(?, ?)
		ON CONFLICT(owner) DO UPDATE SET version = excluded.version`, owner, version); err != nil {
		return fmt.Errorf("migrate %s step %d: %w", owner, version, err)
	}
	return tx.Commit()
}
