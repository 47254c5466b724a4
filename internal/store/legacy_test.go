package store_test

import (
	"context"
	"errors"
	"fmt"
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

// dumpOfSchema1 writes what Rapport kept before the schema was recorded, as its
// versions wrote it: enrolments in hashes of their own, listed in a set and later in a
// hash, one that keeps its enrolling event, enrolments already in the customer's hash,
// timers' task IDs in keys of their own, and keys no index lists (claims, markers,
// counters).
func dumpOfSchema1(t *testing.T, rdb *redis.Client, cid string) {
	t.Helper()
	ctx := context.Background()
	k := func(kind string) string { return "rapport:{" + cid + "}:" + kind }
	started, due, since := t0.UnixMilli(), t0.Add(time.Hour).UnixMilli(), t0.Add(-time.Second).UnixMicro()
	do := func(c redis.Cmder) {
		if err := c.Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, j := range []string{"set", "hash"} {
		do(rdb.HSet(ctx, k("enrol:"+j), "id", j+"1", "started", started, "step", "s1", "idx", 2,
			"due", due, "task", "step:"+j+"1:s1", "since", since))
	}
	do(rdb.HSet(ctx, k("enrol:kept"), "id", "o1", "started", started, "step", "s1", "due", due, "since", since,
		"task", "step:o1:s1@99", "event", `{"id":"e","type":"cart.abandoned","data":{"cart_id":"K-9"}}`))
	do(rdb.SAdd(ctx, k("enrols"), "set"))
	do(rdb.HSet(ctx, k("enrolled"), "hash", "1", "kept", "1"))
	do(rdb.HSet(ctx, k("customer"), "email", `"c@x.example"`, "~e:packed", "p1 s2 1 "+strconv.FormatInt(since, 36)+" 0 0"))
	do(rdb.Set(ctx, k("timer:birthday"), "timer:0a1b2c3d4e5f60718293:"+strconv.FormatInt(t0.Add(48*time.Hour).Unix(), 10), 0))
	do(rdb.HSet(ctx, k("claim:p1-s1"), "state", "done", "moved", 1))
	do(rdb.PExpire(ctx, k("claim:p1-s1"), store.ClaimTTL))
	do(rdb.Set(ctx, k("once:cart:K-9"), "1", store.OnceMemory))
	do(rdb.Set(ctx, k("applied:o-7"), "1", time.Hour))
	do(rdb.ZAdd(ctx, k("sent:email"), redis.Z{Score: float64(started), Member: "p1-s1"}))
	do(rdb.Set(ctx, k("goal:cart"), since, 0)) // no TTL: listed for good
}

// TestMigrationFromSchema1KeepsEveryJourney: a worker refuses the dump of the previous
// layout; migrate moves it, resumably and in batches, and afterwards every enrolment and
// timer reads as before, goes on and ends through the current scripts alone, and erasure
// finds every key.
func TestMigrationFromSchema1KeepsEveryJourney(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Start(t).Client(t)
	st := store.New(rdb)
	dumpOfSchema1(t, rdb, "c")
	dumpOfSchema1(t, rdb, "d")
	if err := st.CheckSchema(ctx); !errors.Is(err, store.ErrMigrationNeeded) {
		t.Fatalf("CheckSchema on the old layout = %v, want ErrMigrationNeeded", err)
	}
	// A migration that holds the lease keeps a second one out.
	if err := rdb.HSet(ctx, "rapport:migrate", "token", "another").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Migrate(ctx, store.MigrateOptions{Batch: 3}); !errors.Is(err, store.ErrMigrationRunning) {
		t.Fatalf("Migrate while another runs = %v, want ErrMigrationRunning", err)
	}
	if err := rdb.Del(ctx, "rapport:migrate").Err(); err != nil {
		t.Fatal(err)
	}
	rep, err := st.Migrate(ctx, store.MigrateOptions{Batch: 3})
	if err != nil || rep.From != 1 || rep.To != store.SchemaVersion || rep.Moved != 2*6 || rep.Listed != 2*5 {
		t.Fatalf("Migrate = %+v, %v; want 1 to %d, 12 moved, 10 listed", rep, err, store.SchemaVersion)
	}
	if err := st.CheckSchema(ctx); err != nil {
		t.Fatalf("CheckSchema after the migration = %v", err)
	}
	if again, err := st.Migrate(ctx, store.MigrateOptions{}); err != nil || again.Moved != 0 {
		t.Fatalf("Migrate again = %+v, %v; want nothing moved", again, err)
	}
	keysLeft(t, rdb, "rapport:{c}:enrol:set", "rapport:{c}:enrol:hash", "rapport:{c}:enrol:kept",
		"rapport:{c}:enrols", "rapport:{c}:enrolled", "rapport:{c}:timer:birthday", "rapport:migrate")

	ens, err := st.Enrolments(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ens {
		got = append(got, fmt.Sprintf("%s:%s@%s/%d due %s task %s since %d started %d event %s", e.Journey, e.ID, e.Step,
			e.Index, e.Due.Format(time.RFC3339), e.Task, e.Since.UnixMicro(), e.StartedAt.UnixMilli(), e.Event))
	}
	since, started, due := t0.Add(-time.Second).UnixMicro(), t0.UnixMilli(), t0.Add(time.Hour).Format(time.RFC3339)
	want := []string{
		fmt.Sprintf("hash:hash1@s1/2 due %s task step:hash1:s1 since %d started %d event ", due, since, started),
		fmt.Sprintf(`kept:o1@s1/0 due %s task step:o1:s1@99 since %d started %d event {"id":"e","type":"cart.abandoned","data":{"cart_id":"K-9"}}`, due, since, started),
		fmt.Sprintf("packed:p1@s2/1 due %s task step:p1:s2 since %d started %d event ", t0.Add(-time.Second).Format(time.RFC3339), since, since/1000),
		fmt.Sprintf("set:set1@s1/2 due %s task step:set1:s1 since %d started %d event ", due, since, started),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("enrolments after the migration:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if due, err := st.Timer(ctx, "birthday", "c"); err != nil || !due.Equal(t0.Add(48*time.Hour)) {
		t.Fatalf("Timer after the migration = %v, %v", due, err)
	}
	state, err := st.LoadStepState(ctx, "kept", "c", "o1-s1")
	if err != nil || state.Enrolment == nil || len(state.Enrolment.Event) == 0 {
		t.Fatalf("LoadStepState of the enrolment that keeps its event = %+v, %v", state, err)
	}

	// They go on and end through the current scripts.
	m := store.Move{Journey: "set", CustomerID: "c", Enrolment: "set1", From: "s1", To: "s2", Index: 3,
		Due: t0.Add(2 * time.Hour), Task: store.StepTaskID("set1", "s2")}
	if r, err := st.Advance(ctx, m); err != nil || r != store.Advanced {
		t.Fatalf("Advance = %v, %v", r, err)
	}
	if task, ended, err := st.Exit(ctx, "kept", "c", t0); err != nil || !ended || task != "step:o1:s1@99" {
		t.Fatalf("Exit = %q, %v, %v", task, ended, err)
	}
	if f := customerFields(t, rdb, "c", "~v:"); len(f) != 0 {
		t.Fatalf("the ended enrolment left its event: %v", f)
	}

	// Every key of the old layout is in the index: erasure finds them all.
	if err := st.Forget(ctx, "c", t0); err != nil {
		t.Fatal(err)
	}
	if left := keysNaming(t, rdb, "{c}"); len(left) != 1 || left[0] != "rapport:{c}:erased" {
		t.Fatalf("keys left after erasing a migrated customer: %v", left)
	}
	if n := len(keysNaming(t, rdb, "{d}")); n != 7 {
		t.Fatalf("the other customer has %d keys, want their 7", n)
	}
}

// TestAWorkerRefusesDataOfANewerRapport: a schema version above SchemaVersion stops a
// worker and a migration alike; a new Redis gets the current version recorded.
func TestAWorkerRefusesDataOfANewerRapport(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Start(t).Client(t)
	st := store.New(rdb)
	if err := st.CheckSchema(ctx); err != nil {
		t.Fatalf("CheckSchema on a new Redis = %v", err)
	}
	if v, err := st.Schema(ctx); err != nil || v != store.SchemaVersion {
		t.Fatalf("Schema = %d, %v; want %d recorded", v, err, store.SchemaVersion)
	}
	if err := rdb.Set(ctx, "rapport:schema", store.SchemaVersion+1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := st.CheckSchema(ctx); !errors.Is(err, store.ErrNewerSchema) {
		t.Fatalf("CheckSchema on newer data = %v, want ErrNewerSchema", err)
	}
	if _, err := st.Migrate(ctx, store.MigrateOptions{}); !errors.Is(err, store.ErrNewerSchema) {
		t.Fatalf("Migrate on newer data = %v, want ErrNewerSchema", err)
	}
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
