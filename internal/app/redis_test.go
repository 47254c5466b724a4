package app

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestRedisLogLinesAreStructuredAndThinnedOut(t *testing.T) {
	var buf bytes.Buffer
	l := NewRedisLogger(slog.New(slog.NewTextHandler(&buf, nil)), time.Hour)
	for i := 0; i < 20; i++ {
		l.Printf(context.Background(), "redis: connection pool: failed to dial after %d attempts: %s", i, "dial tcp 127.0.0.1:1: connect: connection refused")
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("20 failures in a burst logged %d lines, want 1:\n%s", len(lines), buf.String())
	}
	if !strings.Contains(lines[0], "level=WARN") || !strings.Contains(lines[0], "component=redis") ||
		!strings.Contains(lines[0], `msg="connection pool: failed to dial after 0 attempts`) {
		t.Fatalf("line = %s, want a structured warning from component redis", lines[0])
	}
	l.limit.SetLimit(1e9) // let the next line through at once
	l.limit.SetBurst(1e9)
	l.Printf(context.Background(), "redis: again")
	if !strings.Contains(buf.String(), "suppressed=19") {
		t.Fatalf("the next line does not say how many were left out:\n%s", buf.String())
	}
}
