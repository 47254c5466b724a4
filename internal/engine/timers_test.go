package engine_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/store"
)

const birthday = `
id: birthday
trigger: {date: customer.birthday, at: "10:00"}
steps:
  - send: {template: hello, channels: [email]}
`

const winBack = `
id: win-back
trigger: {inactivity: {event: order.placed, after: 60d}}
exit_on: [order.placed]
steps:
  - id: first
    send: {template: hello, channels: [email]}
  - id: second
    wait: 30d
    send: {template: hello, channels: [email]}
`

func profile(cid string, attrs map[string]any) event.Event {
	attrs["email"] = cid + "@x.example"
	return event.Event{Type: "customer.updated", CustomerID: cid, Customer: attrs}
}

func mustLoc(t *testing.T, name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestNextDate(t *testing.T) {
	utc := time.UTC
	ny := mustLoc(t, "America/New_York")
	cases := []struct {
		name      string
		value     any
		h, m      int
		loc       *time.Location
		now, want time.Time
	}{
		{"a date later this year falls this year", "1990-07-14", 10, 0, utc,
			time.Date(2026, 3, 1, 0, 0, 0, 0, utc), time.Date(2026, 7, 14, 10, 0, 0, 0, utc)},
		{"a date already passed waits for next year", "07-14", 10, 0, utc,
			time.Date(2026, 7, 14, 10, 0, 0, 0, utc), time.Date(2027, 7, 14, 10, 0, 0, 0, utc)},
		{"29 February falls on 28 February in a common year", "2000-02-29", 10, 0, utc,
			time.Date(2026, 3, 1, 0, 0, 0, 0, utc), time.Date(2027, 2, 28, 10, 0, 0, 0, utc)},
		{"29 February stays in a leap year", "02-29", 10, 0, utc,
			time.Date(2027, 3, 1, 0, 0, 0, 0, utc), time.Date(2028, 2, 29, 10, 0, 0, 0, utc)},
		{"the local time is in the customer's zone", "03-05", 10, 0, mustLoc(t, "Europe/Moscow"),
			time.Date(2026, 3, 1, 0, 0, 0, 0, utc), time.Date(2026, 3, 5, 7, 0, 0, 0, utc)},
		{"a time inside the spring-forward gap still falls that day", "03-08", 2, 30, ny,
			time.Date(2026, 3, 1, 0, 0, 0, 0, utc), time.Date(2026, 3, 8, 7, 30, 0, 0, utc)},
		{"a time repeated by fall-back falls once", "11-01", 1, 30, ny,
			time.Date(2026, 10, 1, 0, 0, 0, 0, utc), time.Date(2026, 11, 1, 5, 30, 0, 0, utc)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := engine.NextDate(c.value, c.h, c.m, 0, c.loc, c.now)
			if !ok || !got.Equal(c.want) {
				t.Fatalf("NextDate = %v, %v; want %v", got.UTC(), ok, c.want)
			}
		})
	}
	for _, bad := range []any{"", "1990-13-01", "yesterday", 19900101.0, nil} {
		if _, ok := engine.NextDate(bad, 10, 0, 0, utc, time.Now()); ok {
			t.Errorf("NextDate(%v) accepted a bad date", bad)
		}
	}
}

func TestABirthdayArrivesOnceAYearAtLocalTime(t *testing.T) {
	h := newHarness(t, t0, birthday) // t0 is 2 March 2026, 12:00 UTC
	h.Event(profile("anna", map[string]any{"birthday": "1990-03-05", "timezone": "Europe/Moscow", "first_name": "Anna"}))

	timers := h.Scheduler.Timers()
	if len(timers) != 1 || !timers[0].At.Equal(time.Date(2026, 3, 5, 7, 0, 0, 0, time.UTC)) {
		t.Fatalf("timers = %+v, want one at 10:00 Moscow on 5 March", timers)
	}
	h.Advance(2*24*time.Hour + 19*time.Hour - time.Second) // 5 March 06:59:59 UTC
	if n := len(h.Sent.To("anna@x.example")); n != 0 {
		t.Fatalf("%d greetings before 10:00 local", n)
	}
	h.Advance(time.Second)
	if n := len(h.Sent.To("anna@x.example")); n != 1 {
		t.Fatalf("%d greetings on the day, want 1", n)
	}
	// The same profile sent again does not add a timer; the one for next year stands.
	h.Event(profile("anna", map[string]any{"birthday": "1990-03-05", "timezone": "Europe/Moscow"}))
	timers = h.Scheduler.Timers()
	if len(timers) != 1 || !timers[0].At.Equal(time.Date(2027, 3, 5, 7, 0, 0, 0, time.UTC)) {
		t.Fatalf("timers after the greeting = %+v, want one for next year", timers)
	}
	h.Advance(366 * 24 * time.Hour)
	if n := len(h.Sent.To("anna@x.example")); n != 2 {
		t.Fatalf("%d greetings after a year, want 2", n)
	}
}

// TestATimerOfAnEarlierVersionFiresAfterTheMigration: earlier versions kept a timer's
// task ID in a key of its own, and its task's payload carried its due time. Once
// migrated, such a timer fires as before, and the next year's timer is a field of the
// customer's hash.
func TestATimerOfAnEarlierVersionFiresAfterTheMigration(t *testing.T) {
	h := newHarness(t, t0, birthday)
	ctx := t.Context()
	rdb := h.Redis.Client(t)
	if err := rdb.HSet(ctx, "rapport:{anna}:customer", "email", `"anna@x.example"`, "birthday", `"03-05"`).Err(); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 5, 10, 0, 0, 0, time.UTC)
	old := engine.Task{Kind: engine.KindTimer, ID: engine.TimerTaskID("birthday", "anna", at),
		Payload: fmt.Appendf(nil, `{"j":"birthday","c":"anna","d":%d}`, at.Unix()), At: at}
	if err := h.Scheduler.Schedule(ctx, old); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, "rapport:{anna}:timer:birthday", old.ID, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Store.Migrate(ctx, store.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.Advance(3 * 24 * time.Hour)
	if n := len(h.Sent.To("anna@x.example")); n != 1 {
		t.Fatalf("%d greetings, want the one of the earlier version's timer", n)
	}
	if n, err := rdb.Exists(ctx, "rapport:{anna}:timer:birthday").Result(); err != nil || n != 0 {
		t.Fatalf("the earlier version's timer key is left (%d, %v)", n, err)
	}
	next := at.AddDate(1, 0, 0)
	if due, err := h.Store.Timer(ctx, "birthday", "anna"); err != nil || !due.Equal(next) {
		t.Fatalf("timer = %v, %v; want next year's, %v", due, err, next)
	}
	if timers := h.Scheduler.Timers(); len(timers) != 1 || timers[0].ID != engine.TimerTaskID("birthday", "anna", next) {
		t.Fatalf("timers = %+v, want next year's only", timers)
	}
}

func TestChangingTheBirthdayOrTimeZoneMovesTheTimer(t *testing.T) {
	h := newHarness(t, t0, birthday)
	h.Event(profile("b", map[string]any{"birthday": "03-10"}))
	h.Event(profile("b", map[string]any{"birthday": "03-20"}))
	h.Event(profile("b", map[string]any{"timezone": "Asia/Tokyo"}))
	timers := h.Scheduler.Timers()
	want := time.Date(2026, 3, 20, 1, 0, 0, 0, time.UTC) // 10:00 in Tokyo
	if len(timers) != 1 || !timers[0].At.Equal(want) {
		t.Fatalf("timers = %+v, want exactly one at %v", timers, want)
	}
	h.Advance(15 * 24 * time.Hour) // past 10 March
	if n := len(h.Sent.To("b@x.example")); n != 0 {
		t.Fatalf("%d greetings on the old date", n)
	}
	h.Advance(5 * 24 * time.Hour)
	if n := len(h.Sent.To("b@x.example")); n != 1 {
		t.Fatalf("%d greetings on the new date, want 1", n)
	}
}

func TestABirthdayInsideADaylightSavingGapIsSentOnce(t *testing.T) {
	h := newHarness(t, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		`
id: early
trigger: {date: customer.birthday, at: "02:30"}
steps:
  - send: {template: hello, channels: [email]}
`)
	h.Event(profile("ny", map[string]any{"birthday": "03-08", "timezone": "America/New_York"}))
	h.Advance(10 * 24 * time.Hour)
	if n := len(h.Sent.To("ny@x.example")); n != 1 {
		t.Fatalf("%d greetings around the spring-forward night, want 1", n)
	}
}

func TestASecondOrderRestartsTheWinBackClock(t *testing.T) {
	day := 24 * time.Hour
	h := newHarness(t, t0, winBack)
	order := func(id string) {
		h.Event(event.Event{ID: id, Type: "order.placed", CustomerID: "w",
			Customer: map[string]any{"email": "w@x.example"}, Data: map[string]any{"total": 20.0}})
	}
	order("o1")
	h.Advance(59 * day)
	order("o2") // restarts the 60 days
	h.Advance(59 * day)
	if n := len(h.Sent.To("w@x.example")); n != 0 {
		t.Fatalf("%d nudges within 60 days of the last order", n)
	}
	if n := len(h.Scheduler.Timers()); n != 1 {
		t.Fatalf("%d inactivity timers, want 1", n)
	}
	h.Advance(day)
	if n := len(h.Sent.To("w@x.example")); n != 1 {
		t.Fatalf("%d nudges 60 days after the last order, want 1", n)
	}
	h.Advance(30 * day)
	if n := len(h.Sent.To("w@x.example")); n != 2 {
		t.Fatalf("%d nudges after 90 days, want 2", n)
	}
	h.Advance(200 * day)
	if n := len(h.Sent.To("w@x.example")); n != 2 {
		t.Fatalf("%d nudges long after, want still 2: the clock waits for the next order", n)
	}
}

func TestAnOrderDuringWinBackEndsIt(t *testing.T) {
	day := 24 * time.Hour
	h := newHarness(t, t0, winBack)
	h.Event(event.Event{ID: "o1", Type: "order.placed", CustomerID: "w", Customer: map[string]any{"email": "w@x.example"}})
	h.Advance(61 * day)
	h.Event(event.Event{ID: "o2", Type: "order.placed", CustomerID: "w"})
	h.Advance(40 * day)
	if n := len(h.Sent.To("w@x.example")); n != 1 {
		t.Fatalf("%d nudges, want only the first: the order ended the journey", n)
	}
}

func TestA29FebruaryBirthdayIsGreetedOn28FebruaryInACommonYear(t *testing.T) {
	h := newHarness(t, time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC), birthday)
	h.Event(profile("leap", map[string]any{"birthday": "1996-02-29", "timezone": "Europe/Berlin"}))
	want := time.Date(2027, 2, 28, 9, 0, 0, 0, time.UTC) // 10:00 in Berlin, winter time
	if timers := h.Scheduler.Timers(); len(timers) != 1 || !timers[0].At.Equal(want) {
		t.Fatalf("timers = %+v, want one at %v", timers, want)
	}
	h.Advance(want.Sub(h.Clock.Now()))
	if n := len(h.Sent.To("leap@x.example")); n != 1 {
		t.Fatalf("%d greetings on 28 February 2027, want 1", n)
	}
	// The next one is in the leap year 2028, on the 29th itself.
	next := time.Date(2028, 2, 29, 9, 0, 0, 0, time.UTC)
	if timers := h.Scheduler.Timers(); len(timers) != 1 || !timers[0].At.Equal(next) {
		t.Fatalf("timers after the greeting = %+v, want one at %v", timers, next)
	}
}
