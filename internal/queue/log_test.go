package queue

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestRepeatedAsynqErrorsAreLoggedOncePerQuietPeriod(t *testing.T) {
	var out bytes.Buffer
	a := newSlogAdapter(slog.New(slog.NewTextHandler(&out, nil)))
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	a.repeat.now = func() time.Time { return now }
	for i := 0; i < 124; i++ { // four rounds a second for 31 s, as with Redis away
		a.Error("Dequeue error: dial tcp 127.0.0.1:6379: connect: connection refused")
		a.Warn("Failed to write server state data: UNKNOWN: redis command error")
		a.Error("Dequeue error: dial tcp 127.0.0.1:6379: i/o timeout") // same kind, other text
		now = now.Add(time.Second / 4)
	}
	a.Error("recoverer: could not list lease expired tasks")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines, want the first of each of three kinds and a repeat of two after 30 s:\n%s", len(lines), out.String())
	}
	if !strings.Contains(lines[2], "Dequeue error") || !strings.Contains(lines[2], "repeated=239") {
		t.Errorf("the dequeue error logged again after 30 s says %q, want repeated=239", lines[2])
	}
	if !strings.Contains(lines[3], "repeated=119") {
		t.Errorf("the state error logged again after 30 s says %q, want repeated=119", lines[3])
	}
	if !strings.Contains(lines[0], "level=ERROR") || !strings.Contains(lines[1], "level=WARN") || !strings.Contains(lines[0], "component=asynq") {
		t.Errorf("levels or component lost:\n%s", out.String())
	}
}
