package graph

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Callers classify with errors.Is; the CLI maps ErrInvalid to
// exit code 2.
var (
	// ErrInvalid marks bad input: a malformed file, an unknown field, a
	// dangling reference, a bad flag value.
	ErrInvalid = errors.New("invalid input")
	// ErrNotFound marks a missing node, edge, journey or revision.
	ErrNotFound = errors.New("not found")
	// ErrNoRevision means the workspace holds nothing yet.
	ErrNoRevision = errors.New("workspace has no revision yet (run firebreak import)")
)

// InputError locates one problem in an input file: file, line and field.
type InputError struct {
	Pos   Pos
	Field string // dotted path, e.g. nodes[3].runs_on
	Msg   string
}

func (e *InputError) Error() string {
	var b strings.Builder
	if s := e.Pos.String(); s != "" {
		b.WriteString(s)
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap makes every InputError an ErrInvalid.
func (e *InputError) Unwrap() error { return ErrInvalid }

// maxReported bounds how many input errors one failure lists, so a file with a
// systematic mistake does not flood the terminal.
const maxReported = 20

// errList collects input errors and joins them.
type errList struct {
	errs    []error
	dropped int
}

func (l *errList) add(pos Pos, field, format string, args ...any) {
	if len(l.errs) >= maxReported {
		l.dropped++
		return
	}
	l.errs = append(l.errs, &InputError{Pos: pos, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (l *errList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	if l.dropped > 0 {
		l.errs = append(l.errs, fmt.Errorf("%w: and %d more errors", ErrInvalid, l.dropped))
	}
	return errors.Join(l.errs...)
}
