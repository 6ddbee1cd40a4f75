package importer

import (
	"bytes"
	"fmt"
)

// dotScan is a lexical pass over a DOT file before gonum parses it. It is
// not a parser: it only tells strings, comments, ids and punctuation apart,
// to
//   - bound subgraph nesting (maxDepth) and the length of edge chains
//     (maxDOTChain): gonum checks both recursively, and an unbounded
//     recursion is a crash no recover can catch;
//   - join "a" + "b" concatenations (Graphviz allows them between quoted
//     strings; gonum does not), keeping line numbers by replacing the joint
//     with backslash-newline continuations.
//
// It also returns the lines of the first -> and the first --, to locate
// gonum's "directed edge in an undirected graph" error, which has none.
func dotScan(file string, data []byte, maxDepth int) ([]byte, dotOps, error) {
	var ops dotOps
	type level struct {
		chain int
		last  byte // 'i' endpoint, 'e' edge operator, 'p' endpoint continues (port, subgraph keyword), 0 other
	}
	type splice struct{ from, to, newlines int } // replace data[from:to+1]
	var splices []splice
	levels := []level{{}}
	line, i, n := 1, 0, len(data)
	lineStart, inAttr := true, false
	lastStrEnd := -1 // index of the closing quote when the last token was a string

	endpoint := func() {
		if inAttr {
			return
		}
		lv := &levels[len(levels)-1]
		if lv.last != 'e' && lv.last != 'p' {
			lv.chain = 0
		}
		lv.last = 'i'
	}
	// scanString returns the index of the closing quote of the string
	// opening at j.
	scanString := func(j int) (int, error) {
		start := line
		for j++; j < n; j++ {
			switch data[j] {
			case '\\':
				if j+1 < n && data[j+1] == '\n' {
					line++
				}
				j++
			case '\n':
				line++
			case '"':
				return j, nil
			}
		}
		return 0, ynErr(file, start, "not valid DOT: unterminated quoted string")
	}
	for i < n {
		c := data[i]
		switch {
		case c == '\n':
			line++
			lineStart = true
			i++
			continue
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			i++
			continue
		case c == '#' && lineStart, c == '/' && i+1 < n && data[i+1] == '/':
			for i < n && data[i] != '\n' {
				i++
			}
			continue
		case c == '/' && i+1 < n && data[i+1] == '*':
			end := bytes.Index(data[i+2:], []byte("*/"))
			if end < 0 {
				return nil, ops, ynErr(file, line, "not valid DOT: unterminated /* comment")
			}
			line += bytes.Count(data[i:i+2+end], []byte("\n"))
			i += end + 4
			continue
		}
		lineStart = false
		wasStr := lastStrEnd
		lastStrEnd = -1
		switch {
		case c == '"':
			end, err := scanString(i)
			if err != nil {
				return nil, ops, err
			}
			endpoint()
			lastStrEnd, i = end, end+1
		case c == '+' && wasStr >= 0:
			k, nl := i+1, 0
			for k < n && (data[k] == ' ' || data[k] == '\t' || data[k] == '\r' || data[k] == '\n') {
				if data[k] == '\n' {
					nl++
				}
				k++
			}
			if k >= n || data[k] != '"' {
				i++ // gonum reports the stray +
				continue
			}
			line += nl
			splices = append(splices, splice{wasStr, k, nl + bytes.Count(data[wasStr:i], []byte("\n"))})
			end, err := scanString(k)
			if err != nil {
				return nil, ops, err
			}
			lastStrEnd, i = end, end+1
		case c == '<':
			depth, j := 0, i
			for ; j < n; j++ {
				if data[j] == '<' {
					depth++
				} else if data[j] == '>' {
					if depth--; depth == 0 {
						break
					}
				} else if data[j] == '\n' {
					line++
				}
			}
			if j >= n {
				return nil, ops, ynErr(file, line, "not valid DOT: unterminated <HTML> string")
			}
			endpoint()
			i = j + 1
		case c == '-' && i+1 < n && (data[i+1] == '>' || data[i+1] == '-'):
			if data[i+1] == '>' && ops.directed == 0 {
				ops.directed = line
			} else if data[i+1] == '-' && ops.undirected == 0 {
				ops.undirected = line
			}
			if !inAttr {
				lv := &levels[len(levels)-1]
				if lv.chain++; lv.chain > maxDOTChain {
					return nil, ops, fmt.Errorf("%s:%d: %w: an edge chain longer than %d edges", file, line, ErrTooLarge, maxDOTChain)
				}
				lv.last = 'e'
			}
			i += 2
		case c == '{':
			endpoint()
			if len(levels) > maxDepth {
				return nil, ops, fmt.Errorf("%s:%d: %w: subgraphs nested deeper than %d levels", file, line, ErrTooLarge, maxDepth)
			}
			levels = append(levels, level{})
			i++
		case c == '}':
			if len(levels) > 1 {
				levels = levels[:len(levels)-1]
			}
			i++
		case c == '[':
			inAttr = true
			i++
		case c == ']':
			inAttr = false
			levels[len(levels)-1] = level{}
			i++
		case c == ';' || c == '=':
			if !inAttr {
				levels[len(levels)-1] = level{}
			}
			i++
		case c == ':':
			if !inAttr {
				levels[len(levels)-1].last = 'p'
			}
			i++
		case c == '_' || c == '.' || c == '-' || c >= 0x80 || c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'z':
			j := i + 1
			for j < n {
				d := data[j]
				if d == '_' || d == '.' || d >= 0x80 || d >= '0' && d <= '9' || d|0x20 >= 'a' && d|0x20 <= 'z' {
					j++
					continue
				}
				break
			}
			word := string(bytes.ToLower(data[i:j]))
			switch word {
			case "subgraph":
				if !inAttr {
					endpoint()
					levels[len(levels)-1].last = 'p'
				}
			case "node", "edge", "graph", "digraph", "strict":
				if !inAttr {
					levels[len(levels)-1] = level{}
				}
			default:
				endpoint()
			}
			i = j
		default:
			i++
		}
	}
	if len(splices) == 0 {
		return data, ops, nil
	}
	var out bytes.Buffer
	out.Grow(len(data))
	prev := 0
	for _, s := range splices {
		out.Write(data[prev:s.from])
		out.WriteString(repeatContinuation(s.newlines))
		prev = s.to + 1
	}
	out.Write(data[prev:])
	return out.Bytes(), ops, nil
}

// dotOps holds the lines of the first edge operators of each kind.
type dotOps struct{ directed, undirected int }

func repeatContinuation(n int) string {
	return string(bytes.Repeat([]byte("\\\n"), n))
}
