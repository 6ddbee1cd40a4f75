package contain

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/firebreak/firebreak/graph"
)

// The state file: the state and the lab model, in one JSON document.
type labFile struct {
	*LabState
	Topology graph.TopologyFile `json:"topology"`
	Journeys graph.JourneysFile `json:"journeys"`
}

// LabStatePath is where lab name's state file lives under dir.
func LabStatePath(dir, name string) string { return filepath.Join(dir, name+".json") }

// SaveLab writes the state and the lab model atomically.
func SaveLab(dir string, st *LabState, lm *graph.Model) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("lab %s: %w", st.Name, err)
	}
	f := labFile{
		LabState: st,
		Topology: lm.TopologyDoc("lab " + st.Name),
		Journeys: lm.JourneysDoc("lab " + st.Name),
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("lab %s: %w", st.Name, err)
	}
	tmp, err := os.CreateTemp(dir, "."+st.Name+".*.tmp")
	if err != nil {
		return fmt.Errorf("lab %s: %w", st.Name, err)
	}
	_, werr := tmp.Write(append(data, '\n'))
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("lab %s: write state: %w", st.Name, err)
	}
	if err := os.Rename(tmp.Name(), LabStatePath(dir, st.Name)); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("lab %s: write state: %w", st.Name, err)
	}
	return nil
}

// LoadLab reads a lab's state and lab model. A missing file is ErrNoLab.
func LoadLab(dir, name string) (*LabState, *graph.Model, error) {
	path := LabStatePath(dir, name)
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("lab %q: %w (no %s)", name, ErrNoLab, path)
		}
		return nil, nil, fmt.Errorf("lab %q: %w", name, err)
	}
	var f labFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, nil, fmt.Errorf("lab %q: %s: %w", name, path, err)
	}
	if f.LabState == nil || f.Name != name {
		return nil, nil, fmt.Errorf("lab %q: %s: not this lab's state", name, path)
	}
	var docs []*graph.Document
	for _, part := range []struct {
		name string
		v    any
	}{{"topology", f.Topology}, {"journeys", f.Journeys}} {
		raw, err := json.Marshal(part.v)
		if err != nil {
			return nil, nil, err
		}
		d, err := graph.ParseNative(path+"#"+part.name, raw)
		if err != nil {
			return nil, nil, fmt.Errorf("lab %q: %w", name, err)
		}
		docs = append(docs, d)
	}
	lm, err := graph.Build(docs...)
	if err != nil {
		return nil, nil, fmt.Errorf("lab %q: %w", name, err)
	}
	return f.LabState, lm, nil
}
