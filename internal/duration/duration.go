// Package duration parses the durations marketers write in journeys and config: an integer
// and a unit (s, m, h, d, w), combinable from the largest unit down, as in 30s, 15m, 3d,
// 2w or 1d12h.
package duration

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

var units = []struct {
	suffix byte
	d      time.Duration
}{
	{'w', 7 * 24 * time.Hour},
	{'d', 24 * time.Hour},
	{'h', time.Hour},
	{'m', time.Minute},
	{'s', time.Second},
}

// Parse reads a duration such as "1d12h". Units must appear at most once each, largest
// first; spaces, fractions, signs and Go's "ms"/"us" are rejected.
func Parse(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("empty duration (write e.g. 30s, 15m, 1h, 3d, 2w or 1d12h)")
	}
	var total time.Duration
	rest, next := s, 0
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i == len(rest) {
			return 0, invalid(s)
		}
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		if err != nil {
			return 0, invalid(s)
		}
		u := -1
		for j := next; j < len(units); j++ {
			if units[j].suffix == rest[i] {
				u = j
				break
			}
		}
		if u < 0 {
			return 0, invalid(s)
		}
		if n > int64((1<<63-1-total)/units[u].d) { // the sum, not only this part, must fit
			return 0, fmt.Errorf("duration %q is too long", s)
		}
		total += time.Duration(n) * units[u].d
		rest, next = rest[i+1:], u+1
	}
	return total, nil
}

func invalid(s string) error {
	return fmt.Errorf("invalid duration %q: write an integer and a unit s, m, h, d or w, combinable largest first (30s, 15m, 3d, 1d12h)", s)
}

// Format writes d in the same notation, e.g. 36h as "1d12h" and 60 days as "60d"; zero
// is "0s".
func Format(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	for _, u := range units {
		if u.suffix == 'w' && d%u.d != 0 {
			continue // 60d reads better than 8w4d
		}
		if n := d / u.d; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10))
			b.WriteByte(u.suffix)
			d -= n * u.d
		}
	}
	if d > 0 { // sub-second remainder, never produced by Parse
		b.WriteString(d.String())
	}
	return b.String()
}

// Duration is a time.Duration that reads from YAML in this notation.
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	// A *yaml.TypeError lets the decoder go on and report the file's other problems too.
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: a duration must be a single value like 7d", n.Line)}}
	}
	v, err := Parse(n.Value)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	*d = Duration(v)
	return nil
}

// String formats the duration as Format does.
func (d Duration) String() string { return Format(time.Duration(d)) }
