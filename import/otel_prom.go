package importer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/firebreak/firebreak/graph"
)

// The Prometheus and OpenMetrics text reader of the otel format.

// otelReadProm reads a Prometheus text scrape, or OpenMetrics (it ends with
// "# EOF"), through expfmt's text parser, after otelPromLines keeps only the
// servicegraph lines.
func otelReadProm(data []byte, file string, maxLine int) ([]otelPoint, error) {
	text, err := otelPromLines(data, maxLine)
	if err != nil {
		return nil, fmt.Errorf("%s:%w", file, err)
	}
	dec := expfmt.NewDecoder(bytes.NewReader(text), expfmt.FmtText+"; escaping=allow-utf-8")
	var out []otelPoint
	for {
		var mf dto.MetricFamily
		err := dec.Decode(&mf)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w: not Prometheus text, OpenMetrics or OTLP metrics: %v", file, graph.ErrInvalid, err)
		}
		role := otelRoleOf(mf.GetName())
		if role == otelOther {
			continue
		}
		for _, m := range mf.GetMetric() {
			attrs := map[string]string{}
			for _, l := range m.GetLabel() {
				attrs[l.GetName()] = l.GetValue()
			}
			var v float64
			switch {
			case m.Histogram != nil:
				v = float64(m.Histogram.GetSampleCount()) + m.Histogram.GetSampleCountFloat()
			case m.Summary != nil:
				v = float64(m.Summary.GetSampleCount())
			case m.Counter != nil:
				v = m.Counter.GetValue()
			case m.Gauge != nil:
				v = m.Gauge.GetValue()
			default:
				v = m.GetUntyped().GetValue()
			}
			series := fmt.Sprint(role, "\x00", mf.GetName(), "\x00", otelKey(attrs))
			out = append(out, otelPoint{role: role, attrs: attrs, value: v, series: series, cumulative: true, time: max(m.GetTimestampMs()/1000, 0)})
		}
	}
}

// otelPromLines keeps the servicegraph lines of a scrape and blanks the
// others (so line numbers hold), so that metrics the importer does not read
// cannot fail it. OpenMetrics is reduced to the classic text format, whose
// parser is fast (expfmt's OpenMetrics parser takes seconds per thousand
// lines): exemplars are cut, timestamps turn from seconds into
// milliseconds, and TYPE lines of types the classic format lacks are
// dropped. Names and labels are still parsed by expfmt.
func otelPromLines(data []byte, maxLine int) ([]byte, error) {
	lines := strings.Split(string(data), "\n")
	last := len(lines) - 1
	for last > 0 && strings.TrimSpace(lines[last]) == "" {
		last--
	}
	openMetrics := strings.TrimSpace(lines[last]) == "# EOF"
	const stem = "traces_service_graph_"
	var b strings.Builder
	for i, line := range lines {
		line = strings.TrimSuffix(line, "\r")
		if len(line) > maxLine {
			return nil, fmt.Errorf("%d: %w: line longer than %d bytes", i+1, ErrTooLarge, maxLine)
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "#" && (f[1] == "TYPE" || f[1] == "HELP") {
			classic := f[1] == "HELP" || len(f) == 4 && otelClassicTypes[f[3]]
			if strings.Contains(f[2], stem) && classic {
				b.WriteString(line)
			}
			continue
		}
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		end := strings.IndexAny(line, "{ \t")
		if end < 0 || !strings.Contains(line[:end], stem) && line[end] != '{' {
			continue
		}
		if line[end] == '{' {
			if end = otelLabelsEnd(line, end); end < 0 && strings.Contains(line, stem) {
				b.WriteString(line) // unterminated: expfmt says what is wrong
				continue
			} else if end < 0 || !strings.Contains(line[:end], stem) {
				continue
			}
		}
		if !openMetrics {
			b.WriteString(line)
			continue
		}
		rest, _, _ := strings.Cut(line[end:], "#") // an exemplar follows " # "
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		b.WriteString(line[:end] + " " + f[0])
		if len(f) > 1 {
			if sec, err := strconv.ParseFloat(f[1], 64); err == nil && sec >= 0 && sec < 1e15 {
				b.WriteString(" " + strconv.FormatInt(int64(sec*1000), 10))
			}
		}
	}
	return []byte(b.String()), nil
}

var otelClassicTypes = map[string]bool{"counter": true, "gauge": true, "histogram": true, "summary": true, "untyped": true}

// otelLabelsEnd returns the index just past the label set opening at
// line[open], or -1: a quote-aware scan for the closing brace.
func otelLabelsEnd(line string, open int) int {
	quoted := false
	for j := open + 1; j < len(line); j++ {
		switch c := line[j]; {
		case quoted && c == '\\':
			j++
		case c == '"':
			quoted = !quoted
		case !quoted && c == '}':
			return j + 1
		}
	}
	return -1
}
