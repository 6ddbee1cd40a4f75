package main

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/firebreak/firebreak/contain"
	"github.com/firebreak/firebreak/graph"
)

func (a *app) auditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show and verify the hash-chained audit log of containment and simulation",
		Long: `Every containment step and every simulation run on an incident is appended to a
hash-chained audit log in the workspace: who (OS user, sudo user, SSH origin), when,
what, and why (--reason). Each record's hash covers its content and the hash of the
record before it, and the workspace keeps the chain head, so an edited, deleted or
reordered row breaks the chain.`,
	}
	cmd.AddCommand(a.auditLogCmd(), a.auditVerifyCmd())
	return cmd
}

func (a *app) auditLogCmd() *cobra.Command {
	var (
		incident, since string
		asJSON          bool
	)
	cmd := &cobra.Command{
		Use:   "log",
		Short: "List the audit log, oldest first",
		Long: `List the audit log, oldest first. The listing does not check the chain: run
"firebreak audit verify" for that.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := contain.AuditFilter{Incident: incident}
			if since != "" {
				t, err := parseSince(since, time.Now())
				if err != nil {
					return err
				}
				f.Since = t
			}
			audit, done, err := a.openAudit()
			if err != nil {
				return err
			}
			defer done()
			recs, err := audit.List(cmd.Context(), f)
			if err != nil {
				return err
			}
			if asJSON {
				if recs == nil {
					recs = []contain.Record{}
				}
				return graph.WriteJSON(a.stdout, recs)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SEQ\tWHEN (UTC)\tWHO\tINCIDENT\tACTION\tTARGET\tREASON")
			for _, r := range recs {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Seq, r.At.UTC().Format("2006-01-02 15:04:05"),
					cell(r.Who), cell(r.Incident), cell(r.Action), cell(r.Target), cell(r.Reason))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&incident, "incident", "", "only the records of this incident")
	cmd.Flags().StringVar(&since, "since", "", "only records at or after this time (RFC 3339) or this long ago (e.g. 24h)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "write the records as JSON, with their hashes")
	return cmd
}

func (a *app) auditVerifyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Check that no audit record was edited, deleted or reordered",
		Long: `Walk the whole audit log in order, recompute every record's hash and check
that each links to the one before and that the last matches the chain head.

Exit status: 0 when the log is intact; 1 when it was tampered with (the first bad
record is named on stderr) or could not be read.

The chain has no secret: someone able to rewrite the workspace could rebuild every
hash after the row they edit. To detect that too, note the record count and head
hash this prints somewhere else (the incident ticket), and later check with
"firebreak audit log --json" that the record with that seq still has that hash.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			audit, done, err := a.openAudit()
			if err != nil {
				return err
			}
			defer done()
			head, err := audit.VerifyHead(cmd.Context())
			if err != nil {
				return fmt.Errorf("workspace %s: %w", a.cfg.Workspace, err)
			}
			fmt.Fprintf(a.stdout, "audit log intact: %d records, head %s\n", head.Seq, head.Hash[:min(12, len(head.Hash))])
			return nil
		},
	}
}

// parseSince reads --since: an RFC 3339 time or a duration before now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, usagef("--since %s: want a positive duration", s)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, usagef("--since %q: want an RFC 3339 time (2026-01-02T15:04:05Z) or a duration (24h)", s)
}

// cell makes a stored string safe for one table cell: a dash for empty, and
// tabs, newlines, terminal escapes and other unprintable runes shown escaped rather than interpreted.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsPrint(r) {
			b.WriteRune(r)
		} else {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
	}
	return b.String()
}

// openAudit opens the workspace's audit log; done closes the workspace.
func (a *app) openAudit() (*contain.Audit, func(), error) {
	ws, err := a.workspace()
	if err != nil {
		return nil, nil, err
	}
	audit, err := contain.OpenAudit(ws)
	if err != nil {
		ws.Close()
		return nil, nil, err
	}
	return audit, func() { ws.Close() }, nil
}
