package store

import (
	"context"
	"testing"
	"time"

	"github.com/rapporthq/rapport/event"
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
	keys := []string{s.customerKey("c"), s.appliedKey("c", "e"), s.factsKey("c"), s.erasedKey("c"), s.indexKey("c")}
	for _, total := range []string{"nan", "NaN", "inf", "-inf", "Infinity", "1e999", "lots", ""} {
		err := applyEvent.Run(ctx, rdb, keys, 60000, "1", total, `"2026-01-01T00:00:00Z"`, "e", 1767225600000000, "first_name", `"Anna"`).Err()
		if err == nil {
			t.Errorf("total %q was applied", total)
		}
	}
	if err := rdb.HSet(ctx, keys[0], "total_spent", "1e308").Err(); err != nil {
		t.Fatal(err)
	}
	if err := applyEvent.Run(ctx, rdb, keys, 60000, "1", "1e308", `"2026-01-01T00:00:00Z"`, "e", 1767225600000000, "first_name", `"Anna"`).Err(); err == nil {
		t.Errorf("a total that makes total_spent infinite was applied")
	}
	h, err := rdb.HGetAll(ctx, keys[0]).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 1 || h["total_spent"] != "1e308" {
		t.Fatalf("customer after refused events = %v, want only the total_spent set by the test", h)
	}
	if n := rdb.Exists(ctx, keys[1], keys[2]).Val(); n != 0 {
		t.Fatalf("the applied marker or the first event was written by a refused event")
	}
	if err := applyEvent.Run(ctx, rdb, keys, 60000, "1", "59.9", `"2026-01-01T00:00:00Z"`, "e", 1767225600000000, "first_name", `"Anna"`).Err(); err != nil {
		t.Fatalf("a good order: %v", err)
	}
	if h := rdb.HGetAll(ctx, keys[0]).Val(); h["orders_count"] != "1" || h["first_name"] != `"Anna"` {
		t.Fatalf("customer after a good order = %v", h)
	}
}

// TestApplyEventCheckingLooksUpTheAddresses: the profile is updated and the addresses
// looked up in one go, on a Redis that knows the script and on one that does not yet;
// a script error is the event's error.
func TestApplyEventCheckingLooksUpTheAddresses(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	s := New(rdb)
	ctx := context.Background()
	if err := s.Suppress(ctx, "email", "Anna@Example.com", true); err != nil {
		t.Fatal(err)
	}
	addresses := map[string]string{"email": "anna@example.com", "sms": "+4915100000"}
	for _, flush := range []bool{true, false} {
		if flush {
			if err := rdb.ScriptFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
		}
		ev := event.Event{ID: "e1", Type: "customer.updated", CustomerID: "c", OccurredAt: time.Now(),
			Customer: map[string]any{"email": "anna@example.com", "first_name": "Anna"}}
		a, err := s.ApplyEventChecking(ctx, ev, addresses)
		if err != nil {
			t.Fatalf("flush %v: %v", flush, err)
		}
		if a.Profile["first_name"] != "Anna" || len(a.Suppressed) != 1 || !a.Suppressed["email"] || !a.First {
			t.Fatalf("flush %v: %+v; want Anna, suppressed on email only, the customer's first event", flush, a)
		}
	}
	bad := event.Event{ID: "e2", Type: OrderPlaced, CustomerID: "c", OccurredAt: time.Now(), Data: map[string]any{"total": 1e308}}
	if err := s.rdb.HSet(ctx, s.customerKey("c"), "total_spent", "1e308").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ApplyEventChecking(ctx, bad, addresses); err == nil {
		t.Fatal("an order the counters cannot count was applied")
	}
}

// The first event Rapport processes for a customer is told apart, the same on a retry of
// it, and no later event is.
func TestApplyTellsTheCustomersFirstEvent(t *testing.T) {
	s := New(redistest.Start(t).Client(t))
	ctx := context.Background()
	ev := func(id string) event.Event {
		return event.Event{ID: id, Type: "customer.updated", CustomerID: "c", OccurredAt: time.Now(),
			Customer: map[string]any{"first_name": "Anna"}}
	}
	for _, c := range []struct {
		id    string
		first bool
	}{{"e1", true}, {"e2", false}, {"e1", true}, {"e3", false}} {
		a, err := s.ApplyEventChecking(ctx, ev(c.id), nil)
		if err != nil {
			t.Fatal(err)
		}
		if a.First != c.first || a.Profile["first_name"] != "Anna" {
			t.Fatalf("%s: %+v, want first %v", c.id, a, c.first)
		}
	}
}

// An event that occurred before the customer was erased, processed after (it was queued, or
// sent late), changes nothing; one that occurred after brings the customer back.
func TestAnEventFromBeforeTheErasureChangesNothing(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	s := New(rdb)
	ctx := context.Background()
	erasedAt := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	order := func(id string, at time.Time) event.Event {
		return event.Event{ID: id, Type: OrderPlaced, CustomerID: "c", OccurredAt: at,
			Customer: map[string]any{"email": "anna@example.com"}, Data: map[string]any{"total": 10.0}}
	}
	if _, err := s.ApplyEvent(ctx, order("o1", erasedAt.Add(-time.Hour))); err != nil {
		t.Fatal(err)
	}
	if err := s.Forget(ctx, "c", erasedAt); err != nil {
		t.Fatal(err)
	}
	a, err := s.ApplyEventChecking(ctx, order("o2", erasedAt.Add(-time.Minute)), map[string]string{"email": "anna@example.com"})
	if err != nil || !a.Erased || len(a.Profile) != 0 {
		t.Fatalf("an order from before the erasure: %+v, %v; want it refused as erased", a, err)
	}
	keys, err := rdb.Keys(ctx, "rapport:{c}:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k != s.erasedKey("c") {
			t.Errorf("the late event left %q", k)
		}
	}
	if ttl := rdb.TTL(ctx, s.erasedKey("c")).Val(); ttl <= 0 || ttl > ErasedMemory {
		t.Fatalf("the erasure is remembered for %v, want a time within %v", ttl, ErasedMemory)
	}
	a, err = s.ApplyEventChecking(ctx, order("o3", erasedAt.Add(time.Minute)), nil)
	if err != nil || a.Erased || a.Profile["email"] != "anna@example.com" || a.Profile["orders_count"] != 1.0 {
		t.Fatalf("an order after the erasure: %+v, %v; want the customer back with one order", a, err)
	}
}
