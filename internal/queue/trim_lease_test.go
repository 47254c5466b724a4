package queue

import (
	"testing"
	"time"

	"github.com/rapporthq/rapport/internal/redistest"
)

// Of several workers, one trims; another takes over once it stops renewing its lease.
func TestOneTrimmerAtATime(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	ctx := t.Context()
	a, b := NewTrimmer(rdb, nil), NewTrimmer(rdb, nil)
	a.lease, b.lease = 300*time.Millisecond, 300*time.Millisecond
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
	for range 3 { // a renews it for longer than one lease
		time.Sleep(150 * time.Millisecond)
		if !holds(a) || holds(b) {
			t.Fatal("a renewing holder lost its lease")
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for !holds(b) { // a stopped: b takes over once the lease runs out
		if time.Now().After(deadline) {
			t.Fatal("the lease of a stopped trimmer never passed on")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if holds(a) {
		t.Fatal("the old holder took the lease back from the new one")
	}
}
