package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/firebreak/firebreak/graph"
	importer "github.com/firebreak/firebreak/import"
)

func (a *app) importCmd() *cobra.Command {
	var (
		note, format          string
		merge, dryRun, strict bool
	)
	cmd := &cobra.Command{
		Use:   "import FILE...",
		Short: "Import topology, journeys, flow logs, manifests, traces, scans… as a new revision",
		Long: `Import reads every FILE, detects its format from its content (--format overrides),
merges everything into one model with provenance on every node and edge, and stores it
as a new workspace revision in a single transaction. Flow logs are resolved against the
nodes the other files (and, with --merge, the current revision) declare.

Formats: native firebreak YAML/JSON, AWS VPC flow logs, Zeek conn.log, conntrack,
nfdump CSV, Kubernetes manifests, Backstage catalogs, Graphviz DOT, Nmap XML,
Jaeger dependencies, OpenTelemetry servicegraph metrics.

If any file is bad, nothing is written: the workspace stays exactly as it was (and is
not created). --dry-run prints what would change against the current revision.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, paths []string) error {
			ctx := cmd.Context()
			var files []importer.File
			for _, p := range paths {
				f, err := importer.Open(p, format)
				if err != nil {
					return err
				}
				files = append(files, f)
			}
			current, err := a.currentModel(cmd)
			if err != nil {
				return err
			}
			var base *graph.Model
			if merge {
				base = current
			}
			frags, err := importer.ParseAll(ctx, files, base, strict)
			if err != nil {
				return err
			}
			if err := importer.CheckNative(frags); err != nil {
				return err
			}
			m, rep, err := importer.Merge(base, frags)
			if err != nil {
				return err
			}
			if err := graph.Validate(m); err != nil {
				return err
			}
			ix, err := graph.Compile(m)
			if err != nil {
				return err
			}
			writeImportReport(a.stdout, frags, rep)
			if dryRun {
				fmt.Fprintln(a.stdout, "\ndry run: nothing written. Against the current revision:")
				return graph.Compare(current, m).WriteText(a.stdout)
			}
			ws, err := graph.Open(a.cfg.Workspace)
			if err != nil {
				return err
			}
			defer ws.Close()
			rev, err := ws.Import(ctx, m, ix, graph.RevisionMeta{CreatedBy: operator(), Note: note, Sources: paths})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "imported revision %d into %s: %d nodes, %d edges, %d journeys\n",
				rev, a.cfg.Workspace, len(m.Nodes), len(m.Edges), len(m.Journeys))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&note, "note", "", "a note stored with the revision")
	f.StringVar(&format, "format", "", "read every FILE as this format instead of detecting it")
	f.BoolVar(&merge, "merge", false, "start from the current revision instead of an empty model")
	f.BoolVar(&dryRun, "dry-run", false, "show what would change against the current revision; write nothing")
	f.BoolVar(&strict, "strict", false, "make a malformed flow record an error instead of a counted skip")
	return cmd
}

// currentModel returns the newest revision's model, or nil when there is no
// workspace or no revision yet. It never creates the workspace.
func (a *app) currentModel(cmd *cobra.Command) (*graph.Model, error) {
	ws, err := graph.OpenExisting(a.cfg.Workspace)
	if errors.Is(err, graph.ErrNoRevision) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer ws.Close()
	rev, err := ws.Latest(cmd.Context())
	if errors.Is(err, graph.ErrNoRevision) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return ws.Load(cmd.Context(), rev)
}

// writeImportReport says, per file, what was read and what was left out, and
// lists the disagreements between sources.
func writeImportReport(w io.Writer, frags []*importer.Fragment, rep importer.MergeReport) {
	if len(frags) == 1 && frags[0].Format == "native" {
		return // nothing to say beyond the summary line
	}
	for _, f := range frags {
		r := f.Report
		fmt.Fprintf(w, "%s (%s): %d nodes, %d edges", filepath.Base(f.File), f.Format, len(f.Nodes), len(f.Edges))
		if len(f.Journeys) > 0 {
			fmt.Fprintf(w, ", %d journeys", len(f.Journeys))
		}
		fmt.Fprintf(w, " from %d records", r.Records)
		if r.Skipped > 0 {
			fmt.Fprintf(w, ", %d skipped", r.Skipped)
		}
		fmt.Fprintln(w)
		for _, ex := range r.Examples {
			fmt.Fprintf(w, "  skipped %s\n", ex)
		}
		if n := len(r.Attempts); n > 0 {
			fmt.Fprintf(w, "  %d rejected or unanswered connection attempts, kept apart from dependencies:\n", n)
			for i, at := range r.Attempts {
				if i == 5 {
					fmt.Fprintf(w, "    … and %d more\n", n-5)
					break
				}
				fmt.Fprintf(w, "    %s\n", at)
			}
		}
		for _, u := range r.Unresolved {
			fmt.Fprintf(w, "  unresolved: %s\n", u)
		}
		for _, n := range r.Notes {
			fmt.Fprintf(w, "  note: %s\n", n)
		}
	}
	if len(rep.Conflicts) > 0 {
		fmt.Fprintf(w, "%d conflicts between sources:\n", len(rep.Conflicts))
		for _, c := range rep.Conflicts {
			fmt.Fprintf(w, "  %s\n", c)
		}
	}
}

func (a *app) diffCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "diff REV REV",
		Short: "What changed between two stored revisions: nodes, edges and journeys added, removed, changed",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ws, err := a.workspace()
			if err != nil {
				return err
			}
			defer ws.Close()
			var models [2]*graph.Model
			for i, s := range args {
				var rev int64
				if _, err := fmt.Sscan(s, &rev); err != nil || rev <= 0 {
					return usagef("%q is not a revision number (see firebreak revisions)", s)
				}
				if models[i], err = ws.Load(cmd.Context(), rev); err != nil {
					if errors.Is(err, graph.ErrNotFound) {
						return usagef("revision %d: not in workspace %s", rev, a.cfg.Workspace)
					}
					return err
				}
			}
			d := graph.Compare(models[0], models[1])
			if asJSON {
				return graph.WriteJSON(a.stdout, d)
			}
			return d.WriteText(a.stdout)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "write the diff as JSON")
	return cmd
}
