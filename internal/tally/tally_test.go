package tally_test

import (
	"context"
	"testing"
	"time"

	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/tally"
)

// Counts reach Redis at a flush, with their key's expiry; counts Redis could not take
// wait for the next flush, and are neither lost nor doubled.
func TestAFlushWritesTheCountsAndKeepsThoseRedisCouldNotTake(t *testing.T) {
	rs := redistest.Start(t, redistest.Durable())
	rdb := rs.Client(t)
	ctx := context.Background()
	tl := tally.New(rdb, "test counts", nil)
	expire := time.Now().Add(48 * time.Hour).Truncate(time.Millisecond)
	tl.Add("day:1", "entered:cart", 2, expire)
	tl.Add("day:1", "entered:cart", 1, expire)
	tl.Add("totals", "sent", 5, time.Time{})
	if n := tl.Pending("day:1", "entered:cart"); n != 3 {
		t.Fatalf("pending = %d, want 3", n)
	}
	if err := tl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if v := rdb.HGet(ctx, "day:1", "entered:cart").Val(); v != "3" || tl.Pending("day:1", "entered:cart") != 0 {
		t.Fatalf("after a flush Redis holds %q and %d are pending, want 3 and 0", v, tl.Pending("day:1", "entered:cart"))
	}
	if at := rdb.PExpireTime(ctx, "day:1").Val(); at != time.Duration(expire.UnixMilli())*time.Millisecond {
		t.Errorf("day key expires at %v, want %v", at, expire.UnixMilli())
	}
	if ttl := rdb.TTL(ctx, "totals").Val(); ttl != -1 {
		t.Errorf("totals TTL = %v, want none", ttl)
	}

	tl.Add("totals", "sent", 2, time.Time{})
	rs.Stop()
	if err := tl.Flush(ctx); err == nil {
		t.Fatal("a flush with Redis away reported no error")
	}
	if err := rs.Resume(); err != nil {
		t.Fatal(err)
	}
	tl.Add("totals", "sent", 1, time.Time{})
	if err := tl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if v := rdb.HGet(ctx, "totals", "sent").Val(); v != "8" {
		t.Fatalf("after the outage sent = %s, want 8", v)
	}
}

// Run writes on its ticks and once more when its context ends.
func TestRunWritesOnceMoreAtTheEnd(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	tl := tally.New(rdb, "test counts", nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { tl.Run(ctx, time.Hour); close(done) }()
	tl.Add("totals", "sent", 1, time.Time{})
	cancel()
	<-done
	if v := rdb.HGet(context.Background(), "totals", "sent").Val(); v != "1" {
		t.Fatalf("after Run ended sent = %q, want 1", v)
	}
}

// A batch in which one write fails writes the others once: they are not put back, and a
// count Redis refuses is dropped rather than tried every second.
func TestAFailedWriteDoesNotWriteTheRestAgain(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	ctx := context.Background()
	if err := rdb.Set(ctx, "not-a-hash", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	tl := tally.New(rdb, "test counts", nil)
	tl.Add("totals", "sent", 1, time.Time{})
	tl.Add("not-a-hash", "sent", 1, time.Time{})
	if err := tl.Flush(ctx); err == nil {
		t.Fatal("a flush with a write Redis refused reported no error")
	}
	for range 2 {
		if err := tl.Flush(ctx); err != nil {
			t.Fatalf("a later flush: %v, want nothing left to write", err)
		}
	}
	if v := rdb.HGet(ctx, "totals", "sent").Val(); v != "1" {
		t.Fatalf("totals sent = %q after three flushes, want 1", v)
	}
	if n := tl.Pending("not-a-hash", "sent"); n != 0 {
		t.Fatalf("%d of the refused count still pending, want it dropped", n)
	}
}
