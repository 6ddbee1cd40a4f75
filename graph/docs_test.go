package graph_test

import (
	"os"
	"strings"
	"testing"

	"github.com/firebreak/firebreak/graph"
)

// The examples in docs/formats.md must be valid: they are imported together
// here, as a user would copy them.
func TestFormatsDocExamplesAreValid(t *testing.T) {
	doc, err := os.ReadFile("../docs/formats.md")
	if err != nil {
		t.Fatal(err)
	}
	var docs []*graph.Document
	parts := strings.Split(string(doc), "```yaml\n")
	for i, p := range parts[1:] {
		block, _, _ := strings.Cut(p, "```")
		if !strings.Contains(block, "apiVersion: firebreak/v1") {
			continue // the config example: cmd/firebreak tests it
		}
		d, err := graph.ParseNative("formats.md#"+string(rune('a'+i)), []byte(block))
		if err != nil {
			t.Fatalf("example %d: %v", i+1, err)
		}
		docs = append(docs, d)
	}
	if len(docs) < 2 {
		t.Fatalf("found %d YAML examples", len(docs))
	}
	if _, err := graph.Build(docs...); err != nil {
		t.Fatal(err)
	}
}
