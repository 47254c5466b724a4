package store_test

import (
	"context"
	"testing"

	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/store"
)

// TestEnrolmentsOfAnEarlierVersionGoOn: versions before the enrolled hash listed a
// customer's journeys in a set. Such an enrolment is still listed, and ending it takes it
// off that set, next to enrolments made now.
func TestEnrolmentsOfAnEarlierVersionGoOn(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Start(t).Client(t)
	st := store.New(rdb)
	if err := rdb.HSet(ctx, "rapport:{c}:enrol:old", "id", "o1", "started", "1", "step", "s1", "due", "2",
		"task", "step:o1:s1", "since", "1").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.SAdd(ctx, "rapport:{c}:enrols", "old").Err(); err != nil {
		t.Fatal(err)
	}
	if got, _, err := st.Enrol(ctx, enrolment("n1", t0), store.Rule{}); err != nil || got != store.Started {
		t.Fatalf("Enrol = %v, %v", got, err)
	}
	ens, err := st.Enrolments(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, e := range ens {
		ids[e.Journey] = e.ID
	}
	if len(ens) != 2 || ids["old"] != "o1" || ids["j"] != "n1" {
		t.Fatalf("Enrolments = %v, want old:o1 and j:n1", ids)
	}
	for _, e := range ens {
		if task, ok, err := st.End(ctx, e.Journey, "c", e.ID); err != nil || !ok || task != e.Task {
			t.Fatalf("End %s = %q, %v, %v", e.Journey, task, ok, err)
		}
	}
	if ens, err := st.Enrolments(ctx, "c"); err != nil || len(ens) != 0 {
		t.Fatalf("after End: %d enrolments, %v", len(ens), err)
	}
	if n, err := rdb.Exists(ctx, "rapport:{c}:enrols", "rapport:{c}:enrolled").Result(); err != nil || n != 0 {
		t.Fatalf("%d lists of enrolments left, %v", n, err)
	}
}

// TestATaskNamedByItsStepIsNotStored: the enrolment keeps its pending task only when the
// task is not named by StepTaskID, and reads it back either way.
func TestATaskNamedByItsStepIsNotStored(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Start(t).Client(t)
	st := store.New(rdb)
	en := enrolment("e1", t0)
	en.Step, en.Task = "s1", store.StepTaskID("e1", "s1")
	if got, _, err := st.Enrol(ctx, en, store.Rule{}); err != nil || got != store.Started {
		t.Fatalf("Enrol = %v, %v", got, err)
	}
	check := func(wantTask string, stored bool) {
		t.Helper()
		got, err := st.Enrolment(ctx, "j", "c")
		if err != nil || got == nil || got.Task != wantTask {
			t.Fatalf("Enrolment = %+v, %v; want task %q", got, err, wantTask)
		}
		if n, err := rdb.HExists(ctx, "rapport:{c}:enrol:j", "task").Result(); err != nil || n != stored {
			t.Fatalf("task field stored = %v, want %v (%v)", n, stored, err)
		}
	}
	check(en.Task, false)
	held := store.Move{Journey: "j", CustomerID: "c", Enrolment: "e1", From: "s1", To: "s1", Due: t0, Task: en.Task + "@1"}
	if r, err := st.Advance(ctx, held); err != nil || r != store.Advanced {
		t.Fatalf("Advance = %v, %v", r, err)
	}
	check(en.Task+"@1", true)
	next := store.Move{Journey: "j", CustomerID: "c", Enrolment: "e1", From: "s1", To: "s2", Due: t0, Task: store.StepTaskID("e1", "s2")}
	if r, err := st.Advance(ctx, next); err != nil || r != store.Advanced {
		t.Fatalf("Advance = %v, %v", r, err)
	}
	check(next.Task, false)
	if task, ok, err := st.End(ctx, "j", "c", "e1"); err != nil || !ok || task != next.Task {
		t.Fatalf("End = %q, %v, %v", task, ok, err)
	}
}
