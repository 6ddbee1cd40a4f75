package importer

import (
	"context"
	"fmt"
	"io"

	"github.com/firebreak/firebreak/graph"
)

// nativeFormat is firebreak's own format, read by the graph package's strict
// parser; the importer only adds provenance.
var nativeFormat = Format{
	Name:   "native",
	Detect: func(_ string, head []byte) bool { return graph.IsNative(head) },
	Parse:  parseNative,
}

func parseNative(_ context.Context, in Input, c *Context) (*Fragment, error) {
	data, err := readAll(in, c.Limits.MaxDoc)
	if err != nil {
		return nil, err
	}
	doc, err := graph.ParseNative(in.Name, data)
	if err != nil {
		return nil, err
	}
	src := Provenance("native", in.Name)
	f := &Fragment{Nodes: doc.Nodes, Edges: doc.Edges, Journeys: doc.Journeys}
	for i := range f.Nodes {
		if len(f.Nodes[i].Sources) == 0 {
			f.Nodes[i].Sources = []string{src}
		}
	}
	for i := range f.Edges {
		if len(f.Edges[i].Sources) == 0 {
			f.Edges[i].Sources = []string{src}
		}
	}
	f.Report.Records = len(doc.Nodes) + len(doc.Edges) + len(doc.Journeys)
	return f, nil
}

// readAll reads a whole-document input, refusing one larger than max.
func readAll(in Input, max int) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(in.R, int64(max)+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", in.Name, err)
	}
	if len(data) > max {
		return nil, fmt.Errorf("%s: %w: larger than %d MiB", in.Name, ErrTooLarge, max>>20)
	}
	return data, nil
}

// never is the detector of a format that is only ever chosen with --format.
func never(string, []byte) bool { return false }

// notYet is the parser of a format that is not available.
func notYet(name string) func(context.Context, Input, *Context) (*Fragment, error) {
	return func(_ context.Context, in Input, _ *Context) (*Fragment, error) {
		return nil, fmt.Errorf("%s: %w: format %s is not available", in.Name, ErrUnknownFormat, name)
	}
}
