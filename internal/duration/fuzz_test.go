package duration

import (
	"testing"
	"time"
)

// FuzzParse: any text either is refused or reads as a non-negative duration that Format
// writes back in a form Parse reads as the same duration.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"30s", "15m", "1h", "3d", "2w", "1d12h", "0s", "3 days", "1h1d", "15250w", "-1s", "1.5h", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			return
		}
		if d < 0 {
			t.Fatalf("Parse(%q) = %v, a negative duration", s, d)
		}
		back, err := Parse(Format(d))
		if err != nil || back != d {
			t.Fatalf("Parse(%q) = %v, written %q, read back as %v, %v", s, d, Format(d), back, err)
		}
		if d > 0 && d%time.Second != 0 {
			t.Fatalf("Parse(%q) = %v, not whole seconds", s, d)
		}
	})
}

func TestASumTooLongIsRefused(t *testing.T) {
	for _, s := range []string{"15250w6d23h59m59s", "106751d23h47m17s", "2562047h47m17s"} {
		if d, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) = %v, want an error: the sum does not fit a duration", s, d)
		}
	}
	if d, err := Parse("106751d23h47m16s"); err != nil || d != time.Duration(1<<63-1).Truncate(time.Second) {
		t.Errorf("the longest duration: %v, %v", d, err)
	}
}
