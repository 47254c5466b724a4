package store_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/store"
)

// keysLeft fails the test when any of keys exists.
func keysLeft(t *testing.T, rdb *redis.Client, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if n, err := rdb.Exists(context.Background(), k).Result(); err != nil || n != 0 {
			t.Errorf("key %s is left (%v)", k, err)
		}
	}
}

// customerFields returns the fields of the customer's hash that start with prefix.
func customerFields(t *testing.T, rdb *redis.Client, cid, prefix string) map[string]string {
	t.Helper()
	h, err := rdb.HGetAll(context.Background(), "rapport:{"+cid+"}:customer").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range h {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out
}

// TestEnrolmentsOfAnEarlierVersionGoOn: earlier versions kept an enrolment in a hash of
// its own, listed in a set and later in a hash. Such enrolments are still listed next to
// enrolments made now; the first move of one takes it into the customer's hash, whole,
// and ending one takes it off its list.
func TestEnrolmentsOfAnEarlierVersionGoOn(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Start(t).Client(t)
	st := store.New(rdb)
	started, due, since := t0.UnixMilli(), t0.Add(time.Hour).UnixMilli(), t0.Add(-time.Second).UnixMicro()
	for _, j := range []string{"set", "hash"} {
		if err := rdb.HSet(ctx, "rapport:{c}:enrol:"+j, "id", j+"1", "started", started, "step", "s1", "idx", 2,
			"due", due, "task", "step:"+j+"1:s1", "since", since).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := rdb.SAdd(ctx, "rapport:{c}:enrols", "set").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.HSet(ctx, "rapport:{c}:enrolled", "hash", "1").Err(); err != nil {
		t.Fatal(err)
	}
	if got, _, err := st.Enrol(ctx, enrolment("n1", t0), store.Rule{}); err != nil || got != store.Started {
		t.Fatalf("Enrol = %v, %v", got, err)
	}
	ens, err := st.Enrolments(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ens {
		got = append(got, e.Journey+":"+e.ID)
	}
	if strings.Join(got, " ") != "hash:hash1 j:n1 set:set1" {
		t.Fatalf("Enrolments = %v, want hash:hash1 j:n1 set:set1", got)
	}

	// A move takes the enrolment into the customer's hash, with everything it had.
	m := store.Move{Journey: "set", CustomerID: "c", Enrolment: "set1", From: "s1", To: "s2", Index: 3,
		Due: t0.Add(2 * time.Hour), Task: store.StepTaskID("set1", "s2")}
	if r, err := st.Advance(ctx, m); err != nil || r != store.Advanced {
		t.Fatalf("Advance = %v, %v", r, err)
	}
	keysLeft(t, rdb, "rapport:{c}:enrol:set", "rapport:{c}:enrols")
	e, err := st.Enrolment(ctx, "set", "c")
	if err != nil || e == nil {
		t.Fatalf("Enrolment after the move = %v, %v", e, err)
	}
	if e.ID != "set1" || e.Step != "s2" || e.Index != 3 || !e.Due.Equal(m.Due) || e.Task != m.Task ||
		e.StartedAt.UnixMilli() != started || e.Since.UnixMicro() != since {
		t.Fatalf("moved enrolment = %+v, want set1 at s2 (3) due %v, started and since as before", e, m.Due)
	}
	if f := customerFields(t, rdb, "c", "~e:set"); len(f) != 1 {
		t.Fatalf("customer's enrolment fields %v, want ~e:set", f)
	}

	// Each ends where it is, and nothing of either layout is left.
	if ens, err = st.Enrolments(ctx, "c"); err != nil || len(ens) != 3 {
		t.Fatalf("Enrolments after the move = %d, %v; want 3", len(ens), err)
	}
	for _, e := range ens {
		if task, ok, err := st.End(ctx, e.Journey, "c", e.ID); err != nil || !ok || task != e.Task {
			t.Fatalf("End %s = %q, %v, %v", e.Journey, task, ok, err)
		}
	}
	if ens, err := st.Enrolments(ctx, "c"); err != nil || len(ens) != 0 {
		t.Fatalf("after End: %d enrolments, %v", len(ens), err)
	}
	keysLeft(t, rdb, "rapport:{c}:enrols", "rapport:{c}:enrolled", "rapport:{c}:enrol:hash", "rapport:{c}:customer")
}

// TestAnEarlierEnrolmentThatKeepsItsEventStaysInItsHash: enrolments made before the
// step's task carried the enrolling event keep it in their hash. Their moves stay there
// (the event is too large for the customer's hash, and their tasks do not carry it), and
// a goal event still ends them.
func TestAnEarlierEnrolmentThatKeepsItsEventStaysInItsHash(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Start(t).Client(t)
	st := store.New(rdb)
	ev := `{"id":"e","type":"cart.abandoned","data":{"cart_id":"K-9"}}`
	if err := rdb.HSet(ctx, "rapport:{c}:enrol:j", "id", "o1", "started", t0.UnixMilli(), "step", "s1",
		"due", t0.UnixMilli(), "since", t0.UnixMicro(), "event", ev).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.HSet(ctx, "rapport:{c}:enrolled", "j", "1").Err(); err != nil {
		t.Fatal(err)
	}
	held := store.Move{Journey: "j", CustomerID: "c", Enrolment: "o1", From: "s1", To: "s1",
		Due: t0.Add(90 * time.Minute), Task: store.StepTaskID("o1", "s1") + "@99"}
	if r, err := st.Advance(ctx, held); err != nil || r != store.Advanced {
		t.Fatalf("Advance = %v, %v", r, err)
	}
	e, err := st.Enrolment(ctx, "j", "c")
	if err != nil || e == nil || string(e.Event) != ev || e.Task != held.Task || !e.Due.Equal(held.Due) {
		t.Fatalf("Enrolment = %+v, %v; want the event kept, held until %v", e, err, held.Due)
	}
	if f := customerFields(t, rdb, "c", "~"); len(f) != 0 {
		t.Fatalf("customer's fields %v, want the enrolment left in its hash", f)
	}
	task, ended, err := st.Exit(ctx, "j", "c", t0.Add(time.Minute))
	if err != nil || !ended || task != held.Task {
		t.Fatalf("Exit = %q, %v, %v; want the held task", task, ended, err)
	}
	keysLeft(t, rdb, "rapport:{c}:enrol:j", "rapport:{c}:enrolled")
}

// TestATaskNamedByItsStepIsNotStored: the enrolment keeps its pending task only when the
// task is not named by StepTaskID, and then only the part after that name when it
// follows it; it reads back whole either way, and so do the times, to the microsecond.
func TestATaskNamedByItsStepIsNotStored(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Start(t).Client(t)
	st := store.New(rdb)
	en := enrolment("3f2a9c0d11e4b7a85c21", t0.Add(123456*time.Microsecond))
	en.Journey, en.Step, en.Task, en.Index = "review-request", "step-1", store.StepTaskID("3f2a9c0d11e4b7a85c21", "step-1"), 0
	en.StartedAt, en.Due = t0.Add(2*time.Second+7*time.Millisecond), t0.Add(72*time.Hour+3*time.Millisecond)
	if got, _, err := st.Enrol(ctx, en, store.Rule{}); err != nil || got != store.Started {
		t.Fatalf("Enrol = %v, %v", got, err)
	}
	check := func(want store.Enrolment, stored string) {
		t.Helper()
		got, err := st.Enrolment(ctx, want.Journey, "c")
		if err != nil || got == nil || got.ID != want.ID || got.Step != want.Step || got.Index != want.Index ||
			got.Task != want.Task || !got.StartedAt.Equal(want.StartedAt) || !got.Due.Equal(want.Due) || !got.Since.Equal(want.Since) {
			t.Fatalf("Enrolment = %+v, %v; want %+v", got, err, want)
		}
		packed := customerFields(t, rdb, "c", "~e:")["~e:"+want.Journey]
		parts := strings.Fields(packed)
		if last := parts[len(parts)-1]; len(parts) != 6 && last != stored || len(parts) == 6 && stored != "" {
			t.Fatalf("packed %q, want the task stored as %q", packed, stored)
		}
		if len(packed) > 64 && !strings.Contains(stored, ":") { // only a foreign whole task may not fit
			t.Fatalf("packed %q is %d bytes, more than a listpack value", packed, len(packed))
		}
	}
	check(en, "")
	held := store.Move{Journey: en.Journey, CustomerID: "c", Enrolment: en.ID, From: "step-1", To: "step-1",
		Due: t0.Add(80*time.Hour + 5*time.Millisecond), Task: en.Task + "@" + strconv.FormatInt(t0.Add(80*time.Hour).Unix(), 10)}
	if r, err := st.Advance(ctx, held); err != nil || r != store.Advanced {
		t.Fatalf("Advance = %v, %v", r, err)
	}
	en.Due, en.Task = held.Due, held.Task
	check(en, "@")
	held.From, held.Task = "step-1", en.Task[:len(en.Task)-1] // held until another second than its due
	if r, err := st.Advance(ctx, held); err != nil || r != store.Advanced {
		t.Fatalf("Advance = %v, %v", r, err)
	}
	en.Task = held.Task
	check(en, held.Task[strings.LastIndexByte(held.Task, '@'):])
	other := store.Move{Journey: en.Journey, CustomerID: "c", Enrolment: en.ID, From: "step-1", To: "step-2", Index: 1,
		Due: t0.Add(90 * time.Hour), Task: "another:task"}
	if r, err := st.Advance(ctx, other); err != nil || r != store.Advanced {
		t.Fatalf("Advance = %v, %v", r, err)
	}
	en.Step, en.Index, en.Due, en.Task = "step-2", 1, other.Due, other.Task
	check(en, "another:task")
	next := store.Move{Journey: en.Journey, CustomerID: "c", Enrolment: en.ID, From: "step-2", To: "step-3", Index: 2,
		Due: t0.Add(100 * time.Hour), Task: store.StepTaskID(en.ID, "step-3")}
	if r, err := st.Advance(ctx, next); err != nil || r != store.Advanced {
		t.Fatalf("Advance = %v, %v", r, err)
	}
	en.Step, en.Index, en.Due, en.Task = "step-3", 2, next.Due, next.Task
	check(en, "")
	if task, ok, err := st.End(ctx, en.Journey, "c", en.ID); err != nil || !ok || task != next.Task {
		t.Fatalf("End = %q, %v, %v", task, ok, err)
	}
}

// TestTimersOfAnEarlierVersionAreReadAndMoved: earlier versions kept a timer's task ID
// in a string key of its own. It is read as the timer's due time, cleared only when it is
// still the timer cleared, and setting the timer moves it into the customer's hash.
func TestTimersOfAnEarlierVersionAreReadAndMoved(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Start(t).Client(t)
	st := store.New(rdb)
	due := time.Date(2027, 2, 28, 9, 0, 0, 0, time.UTC)
	for _, j := range []string{"birthday", "win-back"} {
		if err := rdb.Set(ctx, "rapport:{c}:timer:"+j, "timer:0a1b2c3d4e5f60718293:"+strconv.FormatInt(due.Unix(), 10), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := st.Timer(ctx, "birthday", "c"); err != nil || !got.Equal(due) {
		t.Fatalf("Timer = %v, %v; want %v", got, err, due)
	}
	if err := st.ClearTimer(ctx, "birthday", "c", due.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Timer(ctx, "birthday", "c"); err != nil || !got.Equal(due) {
		t.Fatalf("Timer after clearing another = %v, %v; want %v still", got, err, due)
	}
	next := due.AddDate(1, 0, 0)
	if err := st.SetTimer(ctx, "birthday", "c", next); err != nil {
		t.Fatal(err)
	}
	keysLeft(t, rdb, "rapport:{c}:timer:birthday")
	if got, err := st.Timer(ctx, "birthday", "c"); err != nil || !got.Equal(next) {
		t.Fatalf("Timer after setting = %v, %v; want %v", got, err, next)
	}
	timers, err := st.Timers(ctx, "c", []string{"win-back", "gone"})
	if err != nil || len(timers) != 2 || !timers["birthday"].Equal(next) || !timers["win-back"].Equal(due) {
		t.Fatalf("Timers = %v, %v; want birthday and win-back", timers, err)
	}
	if err := st.ClearTimer(ctx, "win-back", "c", due); err != nil {
		t.Fatal(err)
	}
	if err := st.ClearTimer(ctx, "birthday", "c", next); err != nil {
		t.Fatal(err)
	}
	keysLeft(t, rdb, "rapport:{c}:timer:win-back", "rapport:{c}:customer")
}

func TestParseStepTaskIDReadsWhatStepTaskIDWrote(t *testing.T) {
	cases := []struct {
		name, id, enrolment, step string
		ok                        bool
	}{
		{"a step's task", store.StepTaskID("3f2a9c0d11e4b7a85c21", "step-1"), "3f2a9c0d11e4b7a85c21", "step-1", true},
		{"a step held back", store.StepTaskID("3f2a9c0d11e4b7a85c21", "step-1") + "@1772812800", "3f2a9c0d11e4b7a85c21", "step-1", true},
		{"a timer is no step", "timer:0a1b2c:1772812800", "", "", false},
		{"a task without a step", "step:3f2a9c0d11e4b7a85c21", "", "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, s, ok := store.ParseStepTaskID(c.id)
			if ok != c.ok || ok && (e != c.enrolment || s != c.step) {
				t.Fatalf("ParseStepTaskID(%q) = %q, %q, %v; want %q, %q, %v", c.id, e, s, ok, c.enrolment, c.step, c.ok)
			}
		})
	}
}
