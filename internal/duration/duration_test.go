package duration

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	good := map[string]time.Duration{
		"30s": 30 * time.Second, "15m": 15 * time.Minute, "1h": time.Hour, "3d": 72 * time.Hour,
		"2w": 14 * 24 * time.Hour, "1d12h": 36 * time.Hour, "0s": 0, "1h30m15s": time.Hour + 30*time.Minute + 15*time.Second,
	}
	for in, want := range good {
		t.Run(in+" is accepted", func(t *testing.T) {
			got, err := Parse(in)
			if err != nil || got != want {
				t.Fatalf("Parse(%q) = %v, %v; want %v", in, got, err, want)
			}
			if back, _ := Parse(Format(got)); back != got {
				t.Errorf("Format(%v) = %q does not parse back", got, Format(got))
			}
		})
	}
	for d, want := range map[time.Duration]string{60 * 24 * time.Hour: "60d", 14 * 24 * time.Hour: "2w", 90 * time.Minute: "1h30m"} {
		if got := Format(d); got != want {
			t.Errorf("Format(%v) = %q, want %q", d, got, want)
		}
	}
	for _, in := range []string{"", "3 days", "3", "d", "1.5h", "-1h", "12h1d", "1h1h", "10ms", "1y", " 1h"} {
		t.Run(in+" is rejected", func(t *testing.T) {
			if _, err := Parse(in); err == nil {
				t.Fatalf("Parse(%q) accepted", in)
			}
		})
	}
}
