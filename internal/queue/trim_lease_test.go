package queue

import (
	"testing"
	"time"

	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/testutil"
)

// Of several workers, one trims; a holder's round renews its lease, and another takes
// over once the lease of one that stopped has run out. Lease expiry is made to happen by
// hand, so nothing here depends on how fast the machine is.
func TestOneTrimmerAtATime(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	ctx := t.Context()
	a, b := NewTrimmer(rdb, nil), NewTrimmer(rdb, nil)
	holds := func(tr *Trimmer) bool {
		t.Helper()
		ok, err := tr.holds(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !holds(a) || holds(b) {
		t.Fatal("want the first trimmer to take the lease and the second to be refused")
	}
	if err := rdb.PExpire(ctx, leaseKey, time.Second).Err(); err != nil { // most of it used up
		t.Fatal(err)
	}
	if !holds(a) || holds(b) {
		t.Fatal("a renewing holder lost its lease")
	}
	if ttl := rdb.PTTL(ctx, leaseKey).Val(); ttl <= time.Second {
		t.Fatalf("lease left after a renewal: %v, want it back near %v", ttl, a.lease)
	}
	if err := rdb.PExpire(ctx, leaseKey, time.Millisecond).Err(); err != nil { // a stopped: it runs out
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "the lease of a stopped trimmer to pass on", func() bool { return holds(b) })
	if holds(a) {
		t.Fatal("the old holder took the lease back from the new one")
	}
}

// A trimmer that takes the lease back goes on from the shared cursor, which another one
// moved meanwhile, not from where it stopped.
func TestATrimmerTakingTheLeaseBackReadsTheSharedCursor(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	ctx := t.Context()
	tr := NewTrimmer(rdb, nil)
	tr.cursor = 5 // where it stopped, long ago
	if err := rdb.Set(ctx, cursorKey, 1000, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Trim(ctx); err != nil {
		t.Fatal(err)
	}
	if tr.cursor != 1000 {
		t.Fatalf("cursor = %v after taking the lease, want the shared 1000", tr.cursor)
	}
}
