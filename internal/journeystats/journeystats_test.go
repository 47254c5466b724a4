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
