package testutil_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/rapporthq/rapport/internal/testutil"
)

func TestPollReturnsOnceTheConditionHolds(t *testing.T) {
	var n atomic.Int32
	if !testutil.Poll(10*time.Second, func() bool { return n.Add(1) == 3 }) {
		t.Fatal("Poll gave up on a condition that came true on the third check")
	}
	if got := n.Load(); got != 3 {
		t.Fatalf("checked %d times, want 3: Poll went on after the condition held", got)
	}
}

func TestPollGivesUpOnAConditionThatNeverHolds(t *testing.T) {
	if testutil.Poll(30*time.Millisecond, func() bool { return false }) {
		t.Fatal("Poll reported a condition that never held as held")
	}
}

// fakeTB records a Fatalf instead of ending the test.
type fakeTB struct {
	testing.TB
	failed string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) { f.failed = format }

func TestWaitForFailsTheTestWhenTheDeadlinePasses(t *testing.T) {
	tb := &fakeTB{TB: t}
	testutil.WaitFor(tb, 30*time.Millisecond, "nothing", func() bool { return false })
	if tb.failed == "" {
		t.Fatal("WaitFor did not fail the test")
	}
}
