package store

import (
	"context"
	"testing"

	"github.com/rapporthq/rapport/internal/redistest"
)

// TestApplyEventWritesNothingWhenItCannotWriteEverything runs the apply-event script with
// totals the Go side would never pass and with counters it could not add to: each run is
// refused before its first write, so no attribute is set, no order counted and the
// applied marker is not taken.
func TestApplyEventWritesNothingWhenItCannotWriteEverything(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	s := New(rdb)
	ctx := context.Background()
	keys := []string{s.customerKey("c"), s.appliedKey("c", "e")}
	for _, total := range []string{"nan", "NaN", "inf", "-inf", "Infinity", "1e999", "lots", ""} {
		err := applyEvent.Run(ctx, rdb, keys, 60000, "1", total, `"2026-01-01T00:00:00Z"`, "first_name", `"Anna"`).Err()
		if err == nil {
			t.Errorf("total %q was applied", total)
		}
	}
	if err := rdb.HSet(ctx, keys[0], "total_spent", "1e308").Err(); err != nil {
		t.Fatal(err)
	}
	if err := applyEvent.Run(ctx, rdb, keys, 60000, "1", "1e308", `"2026-01-01T00:00:00Z"`, "first_name", `"Anna"`).Err(); err == nil {
		t.Errorf("a total that makes total_spent infinite was applied")
	}
	h, err := rdb.HGetAll(ctx, keys[0]).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 1 || h["total_spent"] != "1e308" {
		t.Fatalf("customer after refused events = %v, want only the total_spent set by the test", h)
	}
	if n := rdb.Exists(ctx, keys[1]).Val(); n != 0 {
		t.Fatalf("the applied marker was taken by a refused event")
	}
	if err := applyEvent.Run(ctx, rdb, keys, 60000, "1", "59.9", `"2026-01-01T00:00:00Z"`, "first_name", `"Anna"`).Err(); err != nil {
		t.Fatalf("a good order: %v", err)
	}
	if h := rdb.HGetAll(ctx, keys[0]).Val(); h["orders_count"] != "1" || h["first_name"] != `"Anna"` {
		t.Fatalf("customer after a good order = %v", h)
	}
}
