// Package importer turns what an estate already exports — flow logs,
// Kubernetes manifests, traces, scans, service catalogs, DOT — into graph
// model fragments with provenance, detects each file's format from its
// content, and merges the fragments of one import into one model. One file
// per input format; each parser streams and bounds what it reads.
package importer

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/firebreak/firebreak/graph"
)

// Sentinel errors of the importer. Bad input is also graph.ErrInvalid, so
// the CLI reports it with exit code 2.
var (
	// ErrUnknownFormat means no parser recognises a file's content.
	ErrUnknownFormat = fmt.Errorf("%w: unknown format", graph.ErrInvalid)
	// ErrTooLarge means a line, a document or a nesting level exceeds the
	// importer's bounds.
	ErrTooLarge = fmt.Errorf("%w: input exceeds a bound", graph.ErrInvalid)
)

// Limits bound what a parser reads, so no input can exhaust memory.
type Limits struct {
	MaxLine  int // bytes in one line of a line-oriented format
	MaxDoc   int // bytes of a whole-document format (YAML, JSON, XML, DOT)
	MaxDepth int // nesting of a structured document
}

// DefaultLimits are generous for real exports and still bounded.
var DefaultLimits = Limits{MaxLine: 1 << 20, MaxDoc: 256 << 20, MaxDepth: 64}

// Input is one file to import.
type Input struct {
	Name string    // as the user gave it: used in messages and provenance
	R    io.Reader // the content, read once, streaming
}

// Context is what parsers need from outside the file.
type Context struct {
	// Known holds the nodes declared so far in this import (and the base
	// revision with --merge): flow records map addresses to them, and their
	// Listens tell which side of a flow is the server.
	Known *graph.Model
	// Strict makes a skipped flow record fatal instead of counted.
	Strict bool
	Limits Limits
}

// Fragment is what one file contributes. Nodes and edges carry their
// provenance in Sources; edges may name nodes another fragment defines.
type Fragment struct {
	File     string
	Format   string
	Nodes    []graph.Node
	Edges    []graph.Edge
	Journeys []graph.Journey
	Report   Report
}

// Report is what a parser has to say about a file besides the graph.
type Report struct {
	Records  int      // records (lines, objects, hosts…) read
	Skipped  int      // records skipped as malformed or over a bound (--strict makes these fatal)
	Examples []string // the first few skipped records: file:line and why
	// Attempts are rejected or unanswered connection attempts, kept apart
	// from dependencies: "from -> to port/proto (n attempts)".
	Attempts []string
	// Unresolved lists references that name nothing (a Service that does
	// not exist, a selector that matches no workload): reported, not invented.
	Unresolved []string
	Notes      []string
}

// maxExamples is how many skipped records a report quotes.
const maxExamples = 5

// Skip counts a skipped record and keeps the first few as examples.
func (r *Report) Skip(file string, line int, why string) {
	r.Skipped++
	if len(r.Examples) < maxExamples {
		r.Examples = append(r.Examples, fmt.Sprintf("%s:%d: %s", file, line, why))
	}
}

// Format is one input format: how to recognise it and how to read it.
type Format struct {
	Name string
	// Detect reports whether head (the first few KiB) looks like this
	// format; name is the file name, a hint only.
	Detect func(name string, head []byte) bool
	// Parse reads the whole input into a fragment.
	Parse func(ctx context.Context, in Input, c *Context) (*Fragment, error)
	// ParseMany, when set, reads every file of this format in one import
	// together, for formats whose references cross files (a Service in one
	// manifest, the Deployment that calls it in another). It returns one
	// fragment; positions and provenance still name each element's own file.
	ParseMany func(ctx context.Context, ins []Input, c *Context) (*Fragment, error)
	// Flow formats need the other formats' nodes to resolve addresses, so
	// they are parsed after everything else.
	Flow bool
}

// headSize is how much of a file detection looks at.
const headSize = 16 << 10

// Detect picks the format of a file from its first bytes. The order of
// Formats matters: more specific formats come first.
func Detect(name string, head []byte) (Format, error) {
	for _, f := range Formats() {
		if f.Detect(name, head) {
			return f, nil
		}
	}
	return Format{}, fmt.Errorf("%s: %w (use --format; known: %s)", name, ErrUnknownFormat, strings.Join(FormatNames(), ", "))
}

// Lookup finds a format by name.
func Lookup(name string) (Format, error) {
	for _, f := range Formats() {
		if f.Name == name {
			return f, nil
		}
	}
	return Format{}, fmt.Errorf("%w %q (known: %s)", ErrUnknownFormat, name, strings.Join(FormatNames(), ", "))
}

// FormatNames lists the known formats.
func FormatNames() []string {
	var out []string
	for _, f := range Formats() {
		out = append(out, f.Name)
	}
	return out
}

// File is a file to import with its (detected or forced) format.
type File struct {
	Path   string
	Format Format
}

// Open detects the format of path (unless format is set) without reading
// more than its head.
func Open(path, format string) (File, error) {
	if format != "" {
		f, err := Lookup(format)
		return File{Path: path, Format: f}, err
	}
	fh, err := os.Open(path)
	if err != nil {
		return File{}, fmt.Errorf("%w: %v", graph.ErrInvalid, err)
	}
	defer fh.Close()
	r, err := decompress(bufio.NewReader(fh))
	if err != nil {
		return File{}, fmt.Errorf("%s: %w", path, err)
	}
	head := make([]byte, headSize)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return File{}, fmt.Errorf("%s: %w", path, err)
	}
	f, err := Detect(filepath.Base(path), head[:n])
	return File{Path: path, Format: f}, err
}

// ParseAll reads every file: declared formats first, then flows, each flow
// file resolved against the nodes all other files declared (and base, the
// current revision, when merging). Files of a format with ParseMany are read
// together as one fragment; every other file gives its own.
func ParseAll(ctx context.Context, files []File, base *graph.Model, strict bool) ([]*Fragment, error) {
	var frags []*Fragment
	var errs []error
	open := func(f File) (Input, func(), error) {
		fh, err := os.Open(f.Path)
		if err != nil {
			return Input{}, nil, fmt.Errorf("%w: %v", graph.ErrInvalid, err)
		}
		r, err := decompress(bufio.NewReaderSize(fh, 1<<20))
		if err != nil {
			fh.Close()
			return Input{}, nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		return Input{Name: f.Path, R: r}, func() { fh.Close() }, nil
	}
	parseGroup := func(group []File, known *graph.Model) {
		c := &Context{Known: known, Strict: strict, Limits: DefaultLimits}
		format := group[0].Format
		if format.ParseMany != nil {
			var ins []Input
			var names []string
			for _, f := range group {
				in, closeFn, err := open(f)
				if err != nil {
					errs = append(errs, err)
					return
				}
				defer closeFn()
				ins = append(ins, in)
				names = append(names, f.Path)
			}
			frag, err := format.ParseMany(ctx, ins, c)
			if err != nil {
				errs = append(errs, err)
				return
			}
			frag.File, frag.Format = strings.Join(names, ", "), format.Name
			frags = append(frags, frag)
			return
		}
		for _, f := range group {
			in, closeFn, err := open(f)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			frag, err := format.Parse(ctx, in, c)
			closeFn()
			if err != nil {
				errs = append(errs, err)
				continue
			}
			frag.File, frag.Format = f.Path, format.Name
			frags = append(frags, frag)
		}
	}
	for _, group := range groupByFormat(files, false) {
		parseGroup(group, base)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	known, _, err := Merge(base, frags)
	if err != nil {
		return nil, err
	}
	for _, group := range groupByFormat(files, true) {
		parseGroup(group, known)
	}
	return frags, errors.Join(errs...)
}

// groupByFormat returns the files of flow or non-flow formats, grouped by
// format in the order formats first appear; files of a format without
// ParseMany still come one by one inside their group.
func groupByFormat(files []File, flow bool) [][]File {
	var order []string
	groups := map[string][]File{}
	for _, f := range files {
		if f.Format.Flow != flow {
			continue
		}
		if _, ok := groups[f.Format.Name]; !ok {
			order = append(order, f.Format.Name)
		}
		groups[f.Format.Name] = append(groups[f.Format.Name], f)
	}
	out := make([][]File, 0, len(order))
	for _, name := range order {
		out = append(out, groups[name])
	}
	return out
}

// Provenance is the source tag importers put on what they produce:
// "format:file".
func Provenance(format, file string) string { return format + ":" + file }

// readHead returns the first n bytes of data, for detectors.
func trimHead(head []byte) []byte { return bytes.TrimLeft(head, " \t\r\n\ufeff") }

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// gzipMagic starts every gzip stream.
var gzipMagic = []byte{0x1f, 0x8b}

// decompress returns r, transparently gunzipped when it starts with the gzip
// magic (rotated logs and S3 exports arrive as .gz). It is the only place
// gzip is handled: Open detects on the decompressed head and ParseAll hands
// parsers the decompressed stream, so no detector or parser sees gzip.
// Decompression is streamed; every parser still applies its own bounds to
// what it reads. A corrupt or truncated stream is an input error.
func decompress(r *bufio.Reader) (io.Reader, error) {
	head, _ := r.Peek(2)
	if !bytes.Equal(head, gzipMagic) {
		return r, nil
	}
	z, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("%w: gzip: %v", graph.ErrInvalid, err)
	}
	return gzipReader{z}, nil
}

// gzipReader marks the errors of a gzip stream (bad checksum, truncation)
// as input errors; the end of the stream stays io.EOF.
type gzipReader struct{ z *gzip.Reader }

func (g gzipReader) Read(p []byte) (int, error) {
	n, err := g.z.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf("%w: gzip: %v", graph.ErrInvalid, err)
	}
	return n, err
}
