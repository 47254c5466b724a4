package journeystats_test

import (
	"context"
	"testing"

	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/journeystats"
	"github.com/rapporthq/rapport/internal/redistest"
)

func TestCountersFollowEnrolmentsAndOutcomes(t *testing.T) {
	rs := redistest.Start(t)
	c := journeystats.New(rs.Client(t), nil)
	ctx := context.Background()
	for _, ch := range []engine.Change{engine.Entered, engine.Entered, engine.Entered, engine.Entered, engine.Completed, engine.Exited, engine.Ended} {
		c.Enrolment(ctx, engine.EnrolmentChange{Journey: "cart", CustomerID: "c", Change: ch})
	}
	for _, o := range []engine.Outcome{engine.OutcomeSent, engine.OutcomeSent, engine.OutcomeCapped, engine.OutcomeFailed, engine.OutcomeSkipped} {
		c.Outcome(ctx, engine.Observation{Journey: "cart", Step: "remind", CustomerID: "c", Outcome: o})
	}
	c.Enrolment(ctx, engine.EnrolmentChange{Journey: "other", CustomerID: "c", Change: engine.Entered})

	got, err := c.Get(ctx, []string{"cart", "other", "never-used"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]journeystats.Stats{
		"cart":       {Entered: 4, Active: 1, Completed: 1, Exited: 1, Sent: 2, Capped: 1, Failed: 1},
		"other":      {Entered: 1, Active: 1},
		"never-used": {},
	}
	for j, w := range want {
		if got[j] != w {
			t.Errorf("%s = %+v, want %+v", j, got[j], w)
		}
	}
}

// Counts reach Redis at a flush, where another process reads them; the process that
// counted reads its own at once.
func TestCountsReachOtherProcessesAtAFlush(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	ctx := context.Background()
	worker, api := journeystats.New(rdb, nil), journeystats.New(rdb, nil)
	entered := func(c *journeystats.Counters) int64 {
		t.Helper()
		got, err := c.Get(ctx, []string{"cart"})
		if err != nil {
			t.Fatal(err)
		}
		return got["cart"].Entered
	}
	for range 3 {
		worker.Enrolment(ctx, engine.EnrolmentChange{Journey: "cart", CustomerID: "c", Change: engine.Entered})
	}
	if a, w := entered(api), entered(worker); a != 0 || w != 3 {
		t.Fatalf("before a flush: %d read by another process, %d by the one that counted; want 0 and 3", a, w)
	}
	if err := worker.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if a, w := entered(api), entered(worker); a != 3 || w != 3 {
		t.Fatalf("after a flush: %d read by another process, %d by the one that counted; want 3 and 3", a, w)
	}
}
