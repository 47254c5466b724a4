package backfill_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/backfill"
	"github.com/rapporthq/rapport/internal/engine/enginetest"
	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/testutil"
	"github.com/rapporthq/rapport/templates"
	"github.com/rapporthq/rapport/workflows"
)

const birthday = `id: birthday
name: Birthday
trigger: {date: customer.birthday, at: "10:00"}
steps:
  - id: greeting
    send: {template: hello, channels: [email]}
`

const winBack = `id: win-back
name: Win back
trigger: {inactivity: {event: order.placed, after: 30d}}
steps:
  - id: miss-you
    send: {template: hello, channels: [email]}
`

// load builds a journey set from YAML documents, as a reload would.
func load(t *testing.T, docs ...string) *workflows.Set {
	t.Helper()
	dir := t.TempDir()
	for i, d := range docs {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("j%d.yaml", i)), []byte(d), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tmpl, err := templates.Load("../engine/testdata/templates")
	if err != nil {
		t.Fatal(err)
	}
	set, err := workflows.Load(dir, workflows.Options{HasTemplate: tmpl.Has})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestAJourneyAddedLaterReachesTheCustomersWhoExist(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	h := enginetest.New(t, enginetest.Config{Start: t0, Templates: "../engine/testdata/templates",
		Journeys: []string{"id: other\nname: Other\ntrigger: {event: never.happens}\nsteps:\n  - send: {template: hello, channels: [email]}\n"}})
	const n = 23 // several SCAN batches of 5
	for i := 0; i < n; i++ {
		attrs := map[string]any{"email": fmt.Sprintf("c%d@example.com", i)}
		if i%4 != 0 { // a quarter have no birthday
			attrs["birthday"] = fmt.Sprintf("1990-03-%02d", i%28+2)
		}
		h.Event(event.Event{Type: "customer.updated", CustomerID: fmt.Sprintf("c-%d", i), Customer: attrs})
	}
	if got := len(h.Scheduler.Timers()); got != 0 {
		t.Fatalf("%d timers before the journeys exist", got)
	}

	set := load(t, birthday, winBack)
	h.Engine.SetJourneys(set)
	bday, ok := set.Get("birthday")
	if !ok {
		t.Fatal("no birthday journey")
	}
	var logs bytes.Buffer
	rdb := h.Redis.Client(t)
	ctx := context.Background()

	// The first run dies after a few customers, as a worker killed midway would.
	var calls int
	var mu sync.Mutex
	failing := func(ctx context.Context, j *workflows.Journey, cid string) error {
		mu.Lock()
		defer mu.Unlock()
		if calls++; calls > 7 {
			return errors.New("worker stopped")
		}
		return h.Engine.ArmExisting(ctx, j, cid)
	}
	if err := backfill.New(rdb, failing, nil, 5).Run(ctx, bday); err == nil {
		t.Fatal("the failing run reported success")
	}
	armedFirst := len(h.Scheduler.Timers())
	if armedFirst == 0 || armedFirst >= n {
		t.Fatalf("%d timers after the interrupted run, want some but not all", armedFirst)
	}

	// The next run goes on from the kept cursor: it sees fewer customers than exist.
	var seen int
	counting := func(ctx context.Context, j *workflows.Journey, cid string) error {
		mu.Lock()
		seen++
		mu.Unlock()
		return h.Engine.ArmExisting(ctx, j, cid)
	}
	r := backfill.New(rdb, counting, slog.New(slog.NewTextHandler(&logs, nil)), 5)
	if err := r.Run(ctx, bday); err != nil {
		t.Fatal(err)
	}
	if seen >= n {
		t.Errorf("the resumed run armed %d customers of %d: it started over instead of going on", seen, n)
	}
	withBirthday := n - (n+3)/4
	if got := len(h.Scheduler.Timers()); got != withBirthday {
		t.Fatalf("%d timers, want one per customer with a birthday (%d)", got, withBirthday)
	}
	if !strings.Contains(logs.String(), "backfill done") {
		t.Errorf("no progress logged:\n%s", logs.String())
	}

	// Done is done: running again arms nobody.
	seen = 0
	if err := r.Run(ctx, bday); err != nil || seen != 0 {
		t.Fatalf("a second run after done: %v, %d customers, want nothing", err, seen)
	}

	// The birthdays come: every customer with one is greeted once.
	h.Advance(40 * 24 * time.Hour)
	for i := 0; i < n; i++ {
		want := 1
		if i%4 == 0 {
			want = 0
		}
		if got := len(h.Sent.To(fmt.Sprintf("c%d@example.com", i))); got != want {
			t.Errorf("c-%d got %d messages, want %d", i, got, want)
		}
	}
}

func TestAnInactivityJourneyStartsItsClockAtTheBackfill(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	h := enginetest.New(t, enginetest.Config{Start: t0, Templates: "../engine/testdata/templates",
		Journeys: []string{"id: other\nname: Other\ntrigger: {event: never.happens}\nsteps:\n  - send: {template: hello, channels: [email]}\n"}})
	for i := 0; i < 3; i++ {
		h.Event(event.Event{Type: "customer.updated", CustomerID: fmt.Sprintf("q-%d", i),
			Customer: map[string]any{"email": fmt.Sprintf("q%d@example.com", i)}})
	}
	set := load(t, winBack)
	h.Engine.SetJourneys(set)
	h.Advance(24 * time.Hour) // the journey is loaded a day later
	wb, _ := set.Get("win-back")
	// One customer orders after the journey exists: its clock runs from the order.
	h.Event(event.Event{Type: "order.placed", CustomerID: "q-0", Data: map[string]any{"total": 5}})
	order := h.Clock.Now()
	h.Advance(time.Hour)
	if err := backfill.New(h.Redis.Client(t), h.Engine.ArmExisting, nil, 0).Run(context.Background(), wb); err != nil {
		t.Fatal(err)
	}
	timers := h.Scheduler.Timers()
	if len(timers) != 3 {
		t.Fatalf("%d timers, want 3", len(timers))
	}
	h.Advance(30*24*time.Hour - 30*time.Minute) // 30 days and half an hour after the order
	if got := len(h.Sent.To("q0@example.com")); got != 1 {
		t.Errorf("the customer who ordered got %d messages 30 days after the order (%s), want 1: the backfill moved the clock", got, order)
	}
	if got := len(h.Sent.To("q1@example.com")); got != 0 {
		t.Errorf("q-1 got %d messages before 30 days from the backfill", got)
	}
	h.Advance(time.Hour)
	if got := len(h.Sent.To("q1@example.com")); got != 1 {
		t.Errorf("q-1 got %d messages 30 days after the backfill, want 1", got)
	}
}

func TestOnAClusterEveryNodeIsWalked(t *testing.T) {
	cl := redistest.StartCluster(t)
	cc := cl.Client(t)
	ctx := context.Background()
	const n = 60
	for i := 0; i < n; i++ {
		if err := cc.HSet(ctx, fmt.Sprintf("rapport:{c-%d}:customer", i), "email", "x").Err(); err != nil {
			t.Fatal(err)
		}
	}
	cc.Set(ctx, "rapport:{c-1}:history", "not a profile", 0)
	var mu sync.Mutex
	found := map[string]int{}
	arm := func(_ context.Context, _ *workflows.Journey, cid string) error {
		mu.Lock()
		found[cid]++
		mu.Unlock()
		return nil
	}
	set := load(t, birthday)
	j, _ := set.Get("birthday")
	if err := backfill.New(cc, arm, nil, 7).Run(ctx, j); err != nil {
		t.Fatal(err)
	}
	if len(found) != n {
		t.Fatalf("found %d customers, want %d", len(found), n)
	}
	for cid, c := range found {
		if c != 1 {
			t.Errorf("%s armed %d times", cid, c)
		}
	}
}

func TestOnlyJourneysAddedAfterTheFirstLoadAreBackfilled(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	h := enginetest.New(t, enginetest.Config{Start: t0, Templates: "../engine/testdata/templates",
		Journeys: []string{"id: other\nname: Other\ntrigger: {event: never.happens}\nsteps:\n  - send: {template: hello, channels: [email]}\n"}})
	h.Event(event.Event{Type: "customer.updated", CustomerID: "c-1", Customer: map[string]any{"email": "c1@example.com", "birthday": "1990-04-01"}})
	rdb := h.Redis.Client(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var armed []string
	arm := func(ctx context.Context, j *workflows.Journey, cid string) error {
		mu.Lock()
		armed = append(armed, j.ID)
		mu.Unlock()
		return h.Engine.ArmExisting(ctx, j, cid)
	}
	r := backfill.New(rdb, arm, nil, 0)
	waitDone := func(journey string) {
		t.Helper()
		testutil.WaitFor(t, 5*time.Second, "the backfill of "+journey+" to finish", func() bool {
			keys, err := rdb.Keys(ctx, "rapport:backfill:"+journey+":*").Result()
			return err == nil && len(keys) > 0 && rdb.HExists(ctx, keys[0], "done").Val()
		})
	}
	r.Start(ctx, load(t, winBack)) // the first load: win-back was there all along
	waitDone("win-back")
	r.Start(ctx, load(t, winBack, birthday)) // birthday is added
	waitDone("birthday")
	mu.Lock()
	defer mu.Unlock()
	if len(armed) != 1 || armed[0] != "birthday" {
		t.Fatalf("armed %v, want only the added birthday journey", armed)
	}
}
