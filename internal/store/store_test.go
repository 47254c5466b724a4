package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/store"
)

var t0 = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

func enrolment(id string, at time.Time) store.Enrolment {
	return store.Enrolment{ID: id, Journey: "j", CustomerID: "c", StartedAt: at, Due: at.Add(time.Hour),
		Task: "step:" + id + ":0", Since: at}
}

func TestEnrolFollowsTheJourneysRule(t *testing.T) {
	type try struct {
		id    string
		after time.Duration // since t0
		rule  store.Rule
		want  store.EnrolOutcome
	}
	day := 24 * time.Hour
	cases := []struct {
		name  string
		tries []try
	}{
		{"a second event while active is refused by default", []try{
			{"a", 0, store.Rule{}, store.Started}, {"b", time.Hour, store.Rule{}, store.Refused}}},
		{"the same event again is recognised as itself", []try{
			{"a", 0, store.Rule{}, store.Started}, {"a", time.Hour, store.Rule{}, store.AlreadyStarted}}},
		{"reenter_after refuses within the period and replaces after it", []try{
			{"a", 0, store.Rule{ReenterAfter: day}, store.Started},
			{"b", 23 * time.Hour, store.Rule{ReenterAfter: day}, store.Refused},
			{"c", 25 * time.Hour, store.Rule{ReenterAfter: day}, store.Started}}},
		{"once_per refuses a value seen before and replaces for a new one", []try{
			{"a", 0, store.Rule{Once: "cart-1"}, store.Started},
			{"b", time.Hour, store.Rule{Once: "cart-1"}, store.Refused},
			{"c", 2 * time.Hour, store.Rule{Once: "cart-2"}, store.Started}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := store.New(redistest.Start(t).Client(t))
			for _, tr := range c.tries {
				got, _, err := st.Enrol(context.Background(), enrolment(tr.id, t0.Add(tr.after)), tr.rule)
				if err != nil || got != tr.want {
					t.Fatalf("enrol %s at +%v = %v, %v; want %v", tr.id, tr.after, got, err, tr.want)
				}
			}
		})
	}
}

func TestAReplacedEnrolmentHandsBackItsTaskToCancel(t *testing.T) {
	st := store.New(redistest.Start(t).Client(t))
	ctx := context.Background()
	st.Enrol(ctx, enrolment("a", t0), store.Rule{Once: "1"})
	_, replaced, err := st.Enrol(ctx, enrolment("b", t0.Add(time.Minute)), store.Rule{Once: "2"})
	if err != nil || replaced != "step:a:0" {
		t.Fatalf("replaced = %q, %v; want a's task", replaced, err)
	}
}

func TestAGoalEventEndsOnlyEnrolmentsThatCameBeforeIt(t *testing.T) {
	st := store.New(redistest.Start(t).Client(t))
	ctx := context.Background()
	st.Enrol(ctx, enrolment("a", t0), store.Rule{})
	if _, ended, _ := st.Exit(ctx, "j", "c", t0.Add(-time.Minute)); ended {
		t.Fatal("a goal that occurred before the enrolling event ended the enrolment")
	}
	task, ended, err := st.Exit(ctx, "j", "c", t0.Add(time.Minute))
	if err != nil || !ended || task != "step:a:0" {
		t.Fatalf("Exit = %q, %v, %v; want a's task", task, ended, err)
	}
	// An event that occurred before the goal but arrives after it enrols no one.
	if got, _, _ := st.Enrol(ctx, enrolment("late", t0), store.Rule{}); got != store.Refused {
		t.Fatalf("a late event before the goal: %v, want refused", got)
	}
}

func TestApplyEventKeepsTheProfileAndCountsEachOrderOnce(t *testing.T) {
	st := store.New(redistest.Start(t).Client(t))
	ctx := context.Background()
	order := event.Event{ID: "o-1", Type: store.OrderPlaced, CustomerID: "c", OccurredAt: t0,
		Customer: map[string]any{"first_name": "Anna", "tags": []any{"vip"}}, Data: map[string]any{"total": 10.5}}
	st.ApplyEvent(ctx, order)
	st.ApplyEvent(ctx, order)
	older := order
	older.ID, older.OccurredAt, older.Data = "o-0", t0.Add(-time.Hour), map[string]any{"total": "4.5"}
	p, err := st.ApplyEvent(ctx, older)
	if err != nil {
		t.Fatal(err)
	}
	if p["orders_count"] != 2.0 || p["total_spent"] != 15.0 || p["first_name"] != "Anna" {
		t.Fatalf("profile = %v", p)
	}
	if last, _ := p["last_order_at"].(time.Time); !last.Equal(t0) {
		t.Errorf("last_order_at = %v, want the newest order's time, not the late one's", p["last_order_at"])
	}
	if tags, _ := p["tags"].([]any); len(tags) != 1 || tags[0] != "vip" {
		t.Errorf("a list attribute came back as %#v", p["tags"])
	}
}

// TestProfileReadsNeverShowRapportsOwnFields: a customer's enrolments and timers live in
// the profile's hash, under event.ReservedPrefix; no read of the profile shows them, and
// no attribute can write them.
func TestProfileReadsNeverShowRapportsOwnFields(t *testing.T) {
	st := store.New(redistest.Start(t).Client(t))
	ctx := context.Background()
	ev := event.Event{ID: "o-1", Type: store.OrderPlaced, CustomerID: "c", OccurredAt: t0,
		Customer: map[string]any{"first_name": "Anna"}, Data: map[string]any{"total": 10.5}}
	if _, err := st.ApplyEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Enrol(ctx, enrolment("a", t0), store.Rule{}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetTimer(ctx, "birthday", "c", t0.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	ev.ID = "o-2"
	applied, err := st.ApplyEvent(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	profile, err := st.Profile(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	state, err := st.LoadStepState(ctx, "j", "c", "a-0")
	if err != nil || state.Enrolment == nil || state.Enrolment.ID != "a" {
		t.Fatalf("LoadStepState = %+v, %v; want enrolment a", state, err)
	}
	for name, p := range map[string]map[string]any{"ApplyEvent": applied, "Profile": profile, "LoadStepState": state.Profile} {
		if len(p) != 5 || p["first_name"] != "Anna" || p["orders_count"] != 2.0 {
			t.Errorf("%s profile = %v, want first_name and the 4 order statistics", name, p)
		}
		for k := range p {
			if strings.HasPrefix(k, event.ReservedPrefix) {
				t.Errorf("%s profile shows %s", name, k)
			}
		}
	}
	bad := event.Event{ID: "u-1", Type: "customer.updated", CustomerID: "c", Customer: map[string]any{event.ReservedPrefix + "e:j": "x"}}
	if _, err := st.ApplyEvent(ctx, bad); err == nil {
		t.Fatal("ApplyEvent wrote an attribute named like Rapport's own fields")
	}
	if e, err := st.Enrolment(ctx, "j", "c"); err != nil || e == nil || e.ID != "a" {
		t.Fatalf("Enrolment after the refused event = %+v, %v; want a as it was", e, err)
	}
}

// TestEnrolmentsAndTimersKeepToOneSlotOfACluster: every script and transaction on a
// customer's enrolments and timers names keys of the customer's slot only.
func TestEnrolmentsAndTimersKeepToOneSlotOfACluster(t *testing.T) {
	st := store.New(redistest.StartCluster(t).Client(t))
	ctx := context.Background()
	en := enrolment("a", t0)
	if got, _, err := st.Enrol(ctx, en, store.Rule{}); err != nil || got != store.Started {
		t.Fatalf("Enrol = %v, %v", got, err)
	}
	m := store.Move{Journey: "j", CustomerID: "c", Enrolment: "a", From: en.Step, To: "s2", Due: t0.Add(time.Hour), Task: "step:a:s2"}
	if r, err := st.Advance(ctx, m); err != nil || r != store.Advanced {
		t.Fatalf("Advance = %v, %v", r, err)
	}
	if err := st.SetTimer(ctx, "birthday", "c", t0); err != nil {
		t.Fatal(err)
	}
	if due, err := st.Timer(ctx, "birthday", "c"); err != nil || !due.Equal(t0) {
		t.Fatalf("Timer = %v, %v", due, err)
	}
	if err := st.ClearTimer(ctx, "birthday", "c", t0); err != nil {
		t.Fatal(err)
	}
	if task, ok, err := st.End(ctx, "j", "c", "a"); err != nil || !ok || task != m.Task {
		t.Fatalf("End = %q, %v, %v", task, ok, err)
	}
	if ens, err := st.Enrolments(ctx, "c"); err != nil || len(ens) != 0 {
		t.Fatalf("Enrolments = %v, %v", ens, err)
	}
}
