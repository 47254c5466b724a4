package sim_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/config"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/sim"
)

const day = 24 * time.Hour

// shipped loads the shipped config, journeys and templates from the repository root.
func shipped(tb testing.TB) *sim.Setup {
	tb.Helper()
	cfg, err := config.Load("../config/rapport.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	cfg.Workflows, cfg.Templates = "../workflows", "../templates"
	setup, err := sim.FromConfig(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return setup
}

func newSim(tb testing.TB, setup *sim.Setup) *sim.Sim {
	tb.Helper()
	s, err := sim.New(setup, sim.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func sent(s *sim.Sim, journey string) []sim.Entry {
	var out []sim.Entry
	for _, e := range s.Messages() {
		if e.Journey == journey && e.Outcome == "sent" {
			out = append(out, e)
		}
	}
	return out
}

func cart(id string) event.Event {
	return event.Event{Type: "cart.abandoned", CustomerID: "c1", Customer: map[string]any{"email": "c1@example.com"},
		Data: map[string]any{"cart_id": id, "total": 20.0}}
}

// once_per remembers a cart for 90 days in Redis: the memory must run out in virtual
// time, as it would in production after 90 real days.
func TestOncePerMemoryExpiresInVirtualTime(t *testing.T) {
	ctx := context.Background()
	s := newSim(t, shipped(t))
	must(t, s.Event(ctx, cart("K1")))
	must(t, s.Advance(ctx, 30*day))
	must(t, s.Event(ctx, cart("K1"))) // the same cart: no second enrolment
	must(t, s.Advance(ctx, 70*day))   // day 100: the 90 days are over
	must(t, s.Event(ctx, cart("K1")))
	must(t, s.Advance(ctx, 3*day))

	var at []string
	for _, e := range sent(s, "abandoned-cart") {
		at = append(at, sim.Offset(s.Start(), e.At)+" "+e.Step)
	}
	want := []string{"+1h reminder", "+1d1h last-chance", "+100d1h reminder", "+101d1h last-chance"}
	if len(at) != len(want) {
		t.Fatalf("cart reminders at %v, want %v", at, want)
	}
	for i := range want {
		if at[i] != want[i] {
			t.Fatalf("cart reminders at %v, want %v", at, want)
		}
	}
}

// A channel that fails temporarily is retried on the production schedule, 10 s doubling,
// and the message goes out once it recovers.
func TestTemporaryFailuresAreRetriedOnTheProductionSchedule(t *testing.T) {
	ctx := context.Background()
	s := newSim(t, shipped(t))
	tries := 0
	s.Fail(func(channel string, m channels.Message) error {
		if tries++; tries <= 3 {
			return channels.Temporary(errors.New("451 greylisted"))
		}
		return nil
	})
	must(t, s.Event(ctx, cart("K1")))
	must(t, s.Advance(ctx, 2*time.Hour))
	got := sent(s, "abandoned-cart")
	// The first attempt at 1h, retries after 10 s, 20 s and 40 s: sent at 1h1m10s.
	if len(got) != 1 || sim.Offset(s.Start(), got[0].At) != "+1h1m10s" {
		t.Fatalf("sent %+v, want one reminder at +1h1m10s", got)
	}
	if tries != 4 {
		t.Fatalf("%d tries, want 4", tries)
	}
}

// The heap scheduler keeps asynq's ID semantics (a pending ID is not scheduled twice),
// orders by due time whatever the order of scheduling, and forgets a cancelled task.
func TestTheSchedulerOrdersByDueTimeAndKeepsIDsUnique(t *testing.T) {
	ctx := context.Background()
	s := newSim(t, shipped(t))
	sched, t0 := s.Scheduler(), s.Start()
	for _, task := range []engine.Task{
		{Kind: engine.KindStep, ID: "c", At: t0.Add(3 * time.Hour)},
		{Kind: engine.KindTimer, ID: "a", At: t0.Add(time.Hour)},
		{Kind: engine.KindStep, ID: "b", At: t0.Add(2 * time.Hour)},
		{Kind: engine.KindStep, ID: "a", At: t0.Add(5 * time.Hour)}, // taken: changes nothing
		{Kind: engine.KindStep, ID: "d", At: t0.Add(time.Hour)},     // same time as a: after it
	} {
		must(t, sched.Schedule(ctx, task))
	}
	must(t, sched.Cancel(ctx, "b"))
	must(t, sched.Cancel(ctx, "nope"))
	var got []string
	for _, task := range sched.Pending() {
		got = append(got, task.ID+"@"+sim.Offset(t0, task.At))
	}
	want := "[a@+1h d@+1h c@+3h]"
	if fmt.Sprint(got) != want || sched.Cancelled != 1 || len(sched.Timers()) != 1 {
		t.Fatalf("pending %v, %d cancelled, %d timers; want %s, 1, 1", got, sched.Cancelled, len(sched.Timers()), want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// The timeline says why a message went where it went, or nowhere: the channels passed
// over, and the reason of an unreachable step.
func TestTheTimelineSaysWhichChannelsWerePassedOver(t *testing.T) {
	ctx := context.Background()
	s := newSim(t, shipped(t))
	must(t, s.Event(ctx, event.Event{Type: "order.placed", CustomerID: "tg",
		Customer: map[string]any{"email": "tg@example.com", "preferred_channel": "telegram"}}))
	must(t, s.Event(ctx, event.Event{Type: "order.placed", CustomerID: "none"}))
	var lines []string
	for _, e := range s.Messages() {
		lines = append(lines, e.Line(s.Start(), nil))
	}
	got := fmt.Sprint(lines)
	for _, want := range []string{
		`sent        thank-you/thank-you on email "Thank you for your order!" (passed over telegram: `,
		"unreachable thank-you/thank-you: ",
		"(passed over email: ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("timeline lacks %q:\n%s", want, strings.Join(lines, "\n"))
		}
	}
}
