package importer

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// Byte-level helpers of the nmap reader: a size bound, the single-byte
// encodings a hand-edited file may declare, attribute lookup.

// nmapCounter counts bytes read, so the document size is bounded.
type nmapCounter struct {
	r   io.Reader
	n   int64
	max int64
}

func (c *nmapCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.max {
		return n, ErrTooLarge
	}
	return n, err
}

// nmapCharset accepts the single-byte encodings a hand-edited file may
// declare; nmap itself writes UTF-8.
func nmapCharset(label string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "iso-8859-1", "latin1", "latin-1", "us-ascii", "ascii", "windows-1252":
		return &nmapLatin1{r: bufio.NewReader(r)}, nil
	}
	return nil, fmt.Errorf("unsupported encoding %q", label)
}

type nmapLatin1 struct {
	r       *bufio.Reader
	pending []byte
}

func (l *nmapLatin1) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(l.pending) > 0 {
			c := copy(p[n:], l.pending)
			l.pending = l.pending[c:]
			n += c
			continue
		}
		b, err := l.r.ReadByte()
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		if b < 0x80 {
			p[n] = b
			n++
			continue
		}
		l.pending = []byte(string(rune(b)))
	}
	return n, nil
}

func nmapAttr(e xml.StartElement, name string) string {
	for _, a := range e.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}
