// Package demo embeds the demo workspace: Fernhollow Outfitters, a fictional
// mid-size online retailer, written in firebreak's native format. It backs
// `firebreak demo` and gives tests and the TUI a realistic estate to work on:
// a web tier behind a CDN and load balancers, a dozen services, two crown
// jewels (the customer-PII database and the payment token vault), an
// omnichannel support inbox, CI, monitoring, a bastion and employee laptops.
package demo

import (
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/firebreak/firebreak/graph"
)

// Title names the demo company, for window titles and the README tour.
const Title = "Fernhollow Outfitters"

//go:embed topology.yaml
var topology string

//go:embed journeys.yaml
var journeys string

// File is one native file of the demo.
type File struct {
	Name string
	Data []byte
}

// Files returns the demo's native files by name (topology.yaml,
// journeys.yaml), in a stable order. Each call returns fresh copies.
func Files() []File {
	return []File{
		{Name: "topology.yaml", Data: []byte(topology)},
		{Name: "journeys.yaml", Data: []byte(journeys)},
	}
}

// Model parses and validates the demo into a graph.Model.
func Model() (*graph.Model, error) {
	var docs []*graph.Document
	for _, f := range Files() {
		d, err := graph.ParseNative(f.Name, f.Data)
		if err != nil {
			return nil, fmt.Errorf("demo %s: %w", f.Name, err)
		}
		docs = append(docs, d)
	}
	m, err := graph.Build(docs...)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	// Provenance as an import of the written-out files would record it, so
	// the TUI's details show where each node and edge came from.
	for i := range m.Nodes {
		m.Nodes[i].Sources = []string{"native:demo/topology.yaml"}
	}
	for i := range m.Edges {
		m.Edges[i].Sources = []string{"native:demo/topology.yaml"}
	}
	return m, nil
}

// Write writes the native files into dir, creating it if needed. It refuses
// to overwrite: if any of the files already exists it writes nothing and
// returns an error naming that file (matching fs.ErrExist).
func Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	files := Files()
	for _, f := range files {
		p := filepath.Join(dir, f.Name)
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("demo: %s already exists; refusing to overwrite it: %w", p, fs.ErrExist)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("demo: %w", err)
		}
	}
	for _, f := range files {
		if err := writeNew(filepath.Join(dir, f.Name), f.Data); err != nil {
			return err
		}
	}
	return nil
}

// writeNew creates path exclusively, so a file that appeared since the check
// in Write is still not overwritten.
func writeNew(path string, data []byte) error {
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("demo: %s already exists; refusing to overwrite it: %w", path, fs.ErrExist)
		}
		return fmt.Errorf("demo: %w", err)
	}
	if _, err := fh.Write(data); err != nil {
		fh.Close()
		return fmt.Errorf("demo: write %s: %w", path, err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("demo: write %s: %w", path, err)
	}
	return nil
}
