package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/firebreak/firebreak/graph"
)

// listCmd builds a read command over the loaded revision: --json writes the
// native format's field names, otherwise an aligned table.
func (a *app) listCmd(use, short string, json func(*graph.Model) any, table func(*tabwriter.Writer, *graph.Model)) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.load(cmd.Context(), cmd, needModel)
			if err != nil {
				return err
			}
			if asJSON {
				return graph.WriteJSON(a.stdout, json(s.model))
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			table(tw, s.model)
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "write JSON with the native format's field names")
	return cmd
}

func (a *app) nodesCmd() *cobra.Command {
	return a.listCmd("nodes", "List the nodes of the workspace",
		func(m *graph.Model) any {
			out := make([]graph.NodeDoc, 0, len(m.Nodes))
			for _, n := range m.Nodes {
				out = append(out, n.Doc())
			}
			return out
		},
		func(tw *tabwriter.Writer, m *graph.Model) {
			fmt.Fprintln(tw, "ID\tKIND\tADDRESSES\tRUNS ON\tFLAGS")
			for _, n := range m.Nodes {
				d := n.Doc()
				var flags []string
				if n.CrownJewel {
					flags = append(flags, "crown-jewel")
				}
				if n.Sensitivity != "" {
					flags = append(flags, string(n.Sensitivity))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", n.ID, n.Kind, dash(strings.Join(d.Addresses, ",")), dash(n.RunsOn), dash(strings.Join(flags, ",")))
			}
		})
}

func (a *app) edgesCmd() *cobra.Command {
	return a.listCmd("edges", "List the edges of the workspace",
		func(m *graph.Model) any {
			out := make([]graph.EdgeDoc, 0, len(m.Edges))
			for _, e := range m.Edges {
				out = append(out, e.Doc())
			}
			return out
		},
		func(tw *tabwriter.Writer, m *graph.Model) {
			fmt.Fprintln(tw, "FROM\tTO\tPORTS\tDEPENDENCY\tGROUP")
			for _, e := range m.Edges {
				d := e.Doc()
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.From, e.To, dash(strings.Join(d.Ports, ",")), d.Dependency, dash(e.Group))
			}
		})
}

func (a *app) journeysCmd() *cobra.Command {
	return a.listCmd("journeys", "List the customer journeys of the workspace",
		func(m *graph.Model) any {
			out := make([]graph.JourneyDoc, 0, len(m.Journeys))
			for _, j := range m.Journeys {
				out = append(out, j.Doc())
			}
			return out
		},
		func(tw *tabwriter.Writer, m *graph.Model) {
			fmt.Fprintln(tw, "ID\tTIER\tCUSTOMERS/H\tREVENUE/H\tSTEPS\tNAME")
			for _, j := range m.Journeys {
				fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.0f\t%d\t%s\n", j.ID, dash(j.Tier), j.CustomersPerHour, j.RevenuePerHour, len(j.Steps), j.Name)
			}
		})
}

func (a *app) revisionsCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "revisions",
		Short: "List the workspace's revisions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ws, err := a.workspace()
			if err != nil {
				return err
			}
			defer ws.Close()
			revs, err := ws.Revisions(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				if revs == nil {
					revs = []graph.Revision{}
				}
				return graph.WriteJSON(a.stdout, revs)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "REV\tCREATED\tBY\tNODES\tEDGES\tJOURNEYS\tSOURCES\tNOTE")
			for _, r := range revs {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", r.ID, r.CreatedAt.Format("2006-01-02 15:04:05Z07:00"),
					r.CreatedBy, r.Nodes, r.Edges, r.Journeys, strings.Join(r.Sources, ","), r.Note)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "write JSON")
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
