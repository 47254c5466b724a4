package stats_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/rapporthq/rapport/config"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/abstat"
	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/stats"
	"github.com/rapporthq/rapport/internal/store"
	"github.com/rapporthq/rapport/sim"
	"github.com/rapporthq/rapport/workflows"
)

// experimentJourney holds out a fifth and splits its first step 50/50; the second keeps
// enrolments active for a month, so that orders end them as goal events.
const experimentJourney = `
id: split-cart
holdout: 20%
trigger: {event: cart.abandoned}
exit_on: [order.placed]
steps:
  - id: reminder
    wait: 1h
    send:
      channels: [email]
      variants:
        - {id: plain, template: cart-reminder}
        - {id: urgent, template: cart-last-chance}
      winner: {metric: conversion, min_sent: 50, confidence: 0.95}
  - id: later
    wait: 30d
    send: {template: cart-last-chance, channels: [email]}
`

type experiment struct {
	sim *sim.Sim
	rec *stats.Recorder
	set *workflows.Set
}

func newExperiment(t *testing.T) *experiment { return newExperimentOf(t, experimentJourney) }

func newExperimentOf(t *testing.T, journey string) *experiment {
	t.Helper()
	cfg, err := config.Load("../../config/rapport.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Workflows, cfg.Templates = "../../workflows", "../../templates"
	setup, err := sim.FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	j, err := workflows.LoadFile("split-cart.yaml", []byte(journey), workflows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if setup.Journeys, err = workflows.NewSet([]*workflows.Journey{j}); err != nil {
		t.Fatal(err)
	}
	setup.Policies = nil // no quiet hours: every batch's step runs within its two hours
	x := &experiment{set: setup.Journeys}
	rdb := redistest.Start(t).Client(t)
	var s *sim.Sim
	x.rec = stats.New(rdb, store.New(rdb), stats.Options{Now: func() time.Time { return s.Now() },
		Journeys: func() *workflows.Set { return x.set }, WinnerRecheck: time.Nanosecond})
	s, err = sim.New(setup, sim.Options{Redis: rdb, Observer: x.rec, Stats: x.rec, Winners: x.rec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	x.sim = s
	return x
}

func (x *experiment) event(t *testing.T, ev event.Event) {
	t.Helper()
	if err := x.sim.Event(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
}

// messageOf returns the customer's one history line: its outcome, message id and variant.
func (x *experiment) messageOf(t *testing.T, cid string) (outcome, msg, variant string) {
	t.Helper()
	hist, err := x.sim.Store().History(context.Background(), cid)
	if err != nil || len(hist) == 0 {
		for _, e := range x.sim.Timeline() {
			if e.Kind == sim.KindError || e.Customer == cid {
				t.Logf("%+v", e)
			}
		}
		t.Fatalf("history of %s: %v, %v", cid, hist, err)
	}
	r := hist[len(hist)-1]
	return r.Outcome, r.MessageID, r.Variant
}

func (x *experiment) report(t *testing.T) stats.JourneyStats {
	t.Helper()
	ctx := context.Background()
	if err := x.rec.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := x.rec.Report(ctx, 30, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rep.Journeys["split-cart"]
}

func TestGroupsStepsAndVariantsCountExactlyWhatHappened(t *testing.T) {
	x := newExperiment(t)
	ctx := context.Background()
	const n = 300
	for i := range n {
		cid := fmt.Sprintf("c%d", i)
		x.event(t, event.Event{Type: "cart.abandoned", CustomerID: cid, Customer: map[string]any{"email": cid + "@example.com"},
			Data: map[string]any{"cart_id": "K" + cid}})
	}
	if err := x.sim.Advance(ctx, 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	// Every third customer clicks, every fifth orders (for 10 + its number in cents),
	// whatever their group: the figures below are counted by hand from the same rules.
	type want struct {
		entered, converted int64
		revenue            float64
	}
	var treat, hold want
	type figures struct{ sent, clicked, converted int64 }
	variants := map[string]*figures{"plain": {}, "urgent": {}}
	var heldOut, heldConverted int64
	for i := range n {
		cid := fmt.Sprintf("c%d", i)
		outcome, msg, variant := x.messageOf(t, cid)
		g := &treat
		if outcome == "held_out" {
			g, heldOut = &hold, heldOut+1
		} else {
			variants[variant].sent++
		}
		g.entered++
		if i%3 == 0 && outcome == "sent" {
			click := map[string]any{"message_id": msg, "journey": "split-cart", "step": "reminder", "channel": "email"}
			if i%2 == 1 { // half the clicks say their variant; the others are found in the history
				click["variant"] = variant
			}
			x.event(t, event.Event{Type: stats.MessageClicked, CustomerID: cid, Data: click})
			// A second click of the same message is no second clicked message.
			x.event(t, event.Event{Type: stats.MessageClicked, CustomerID: cid, Data: map[string]any{
				"message_id": msg, "journey": "split-cart", "step": "reminder", "url": "https://shop.example/b"}})
			variants[variant].clicked++
		}
		if i%5 == 0 {
			total := 10 + float64(i)/100
			ev := event.Event{ID: "order-" + cid, Type: "order.placed", CustomerID: cid, Data: map[string]any{"order_id": cid, "total": total}}
			x.event(t, ev)
			x.event(t, ev) // delivered twice: one order
			g.converted++
			g.revenue += total
			if outcome == "sent" {
				variants[variant].converted++
			} else {
				heldConverted++
			}
		}
	}
	js := x.report(t)
	if js.Groups == nil || js.Lift == nil {
		t.Fatalf("no groups or lift: %+v", js)
	}
	for _, c := range []struct {
		name string
		got  stats.GroupStats
		want want
	}{{"treatment", js.Groups.Treatment, treat}, {"holdout", js.Groups.Holdout, hold}} {
		if c.got.Entered != c.want.entered || c.got.Converted != c.want.converted || math.Abs(c.got.Revenue-c.want.revenue) > 0.001 {
			t.Errorf("%s = %+v, want entered %d converted %d revenue %.2f", c.name, c.got, c.want.entered, c.want.converted, c.want.revenue)
		}
	}
	l, _ := abstat.RelativeLift(abstat.Arm{Trials: treat.entered, Successes: treat.converted},
		abstat.Arm{Trials: hold.entered, Successes: hold.converted}, 0.95)
	if math.Abs(js.Lift.Conversion-l.Conversion) > 0.001 || math.Abs(js.Lift.Low-l.Low) > 0.001 || js.Lift.Confidence != 0.95 {
		t.Errorf("lift = %+v, want %+v", *js.Lift, l)
	}
	st := js.Steps["reminder"]
	if st.Split == nil {
		t.Fatalf("reminder has no variants: %+v", st)
	}
	var sent, clicked, converted int64
	for id, w := range variants {
		got := st.Variants[id]
		if got.Sent != w.sent || got.Clicked != w.clicked || got.Converted != w.converted {
			t.Errorf("variant %s = %+v, want sent %d clicked %d converted %d", id, got, w.sent, w.clicked, w.converted)
		}
		sent, clicked, converted = sent+w.sent, clicked+w.clicked, converted+w.converted
	}
	if st.Sent != sent || st.Clicked != clicked || st.Converted != converted || st.HeldOut != heldOut || st.HeldOutConverted != heldConverted {
		t.Errorf("reminder = %+v, want sent %d clicked %d converted %d held out %d (%d converted)", st, sent, clicked, converted, heldOut, heldConverted)
	}
	if st.Best == "" || st.ProbabilityBest < 0.5 || st.Winner != nil {
		t.Errorf("best %q with %.3f, winner %v; want a best and no winner on equal rules", st.Best, st.ProbabilityBest, st.Winner)
	}
}

// An order more than attribution.window after the message is not the message's.
func TestAnOrderAfterTheWindowIsNotAttributed(t *testing.T) {
	x := newExperiment(t)
	ctx := context.Background()
	cid := ""
	for i := 0; cid == ""; i++ {
		c := fmt.Sprintf("w%d", i)
		x.event(t, event.Event{Type: "cart.abandoned", CustomerID: c, Customer: map[string]any{"email": c + "@example.com"}})
		if err := x.sim.Advance(ctx, 2*time.Hour); err != nil {
			t.Fatal(err)
		}
		if o, _, _ := x.messageOf(t, c); o == "sent" {
			cid = c
		}
	}
	if err := x.sim.Advance(ctx, 6*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	x.event(t, event.Event{Type: "order.placed", CustomerID: cid, Data: map[string]any{"order_id": "late", "total": 5.0}})
	if st := x.report(t).Steps["reminder"]; st.Converted != 0 {
		t.Fatalf("an order 6 days after the message was attributed to it: %+v", st)
	}
}

// One variant converts at 40%, the other at 10%: the rule fires, the winner is kept, and
// every later send of the step uses it.
func TestTheWinnerFiresAndLaterSendsUseIt(t *testing.T) {
	x := newExperiment(t)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(25, 25))
	rates := map[string]float64{"plain": 0.10, "urgent": 0.40}
	var winnerAt int
	afterWinner := map[string]int{}
	for batch := 0; batch < 40; batch++ {
		for i := range 20 {
			cid := fmt.Sprintf("b%d-%d", batch, i)
			x.event(t, event.Event{Type: "cart.abandoned", CustomerID: cid, Customer: map[string]any{"email": cid + "@example.com"},
				Data: map[string]any{"cart_id": "K" + cid}})
		}
		if err := x.sim.Advance(ctx, 2*time.Hour); err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			cid := fmt.Sprintf("b%d-%d", batch, i)
			outcome, _, variant := x.messageOf(t, cid)
			if outcome != "sent" {
				continue
			}
			if winnerAt > 0 {
				afterWinner[variant]++
			}
			if r.Float64() < rates[variant] {
				x.event(t, event.Event{Type: "order.placed", CustomerID: cid, Data: map[string]any{"order_id": cid, "total": 20.0}})
			}
		}
		if err := x.rec.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if st := x.report(t).Steps["reminder"]; winnerAt == 0 && st.Winner != nil {
			if *st.Winner != "urgent" {
				t.Fatalf("winner %s, want urgent: %+v", *st.Winner, st)
			}
			winnerAt = batch
			t.Logf("winner %s after batch %d: %+v", *st.Winner, batch, st.Variants)
		}
	}
	if winnerAt == 0 {
		t.Fatalf("no winner after 800 customers: %+v", x.report(t).Steps["reminder"])
	}
	if afterWinner["plain"] != 0 || afterWinner["urgent"] == 0 {
		t.Fatalf("sends after the winner: %v, want urgent only", afterWinner)
	}
}

// twoNudges sends two messages an hour apart and stays open for a month.
const twoNudges = `
id: split-cart
trigger: {event: cart.abandoned}
exit_on: [order.placed]
steps:
  - {id: first, send: {template: cart-reminder, channels: [email]}}
  - {id: second, wait: 1h, send: {template: cart-last-chance, channels: [email]}}
  - {id: later, wait: 30d, send: {template: cart-last-chance, channels: [email]}}
`

// The last clicked message wins over a later one that was only sent; without a click the
// latest sent one takes the order.
func TestAnOrderGoesToTheLastClickElseTheLastSend(t *testing.T) {
	x := newExperimentOf(t, twoNudges)
	ctx := context.Background()
	for _, cid := range []string{"clicker", "reader"} {
		x.event(t, event.Event{Type: "cart.abandoned", CustomerID: cid, Customer: map[string]any{"email": cid + "@example.com"}})
	}
	if err := x.sim.Advance(ctx, 30*time.Minute); err != nil {
		t.Fatal(err)
	}
	_, first, _ := x.messageOf(t, "clicker")
	x.event(t, event.Event{Type: stats.MessageClicked, CustomerID: "clicker", Data: map[string]any{
		"message_id": first, "journey": "split-cart", "step": "first", "channel": "email"}})
	if err := x.sim.Advance(ctx, 2*time.Hour); err != nil { // the second message goes out
		t.Fatal(err)
	}
	for _, cid := range []string{"clicker", "reader"} {
		x.event(t, event.Event{Type: "order.placed", CustomerID: cid, Data: map[string]any{"order_id": cid, "total": 7.0}})
	}
	steps := x.report(t).Steps
	if f, s := steps["first"], steps["second"]; f.Converted != 1 || f.Clicked != 1 || s.Converted != 1 || f.Revenue != 7 || s.Revenue != 7 {
		t.Fatalf("first = %+v, second = %+v; want the clicker's order on first and the reader's on second", f, s)
	}
}
