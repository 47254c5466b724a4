package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rapporthq/rapport/internal/abstat"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/stats"
	"github.com/rapporthq/rapport/internal/store"
	"github.com/rapporthq/rapport/internal/web"
	"github.com/rapporthq/rapport/workflows"
)

const splitCart = `
id: abandoned-cart
holdout: 10%
trigger: {event: cart.abandoned}
exit_on: [order.placed]
steps:
  - id: reminder
    send:
      channels: [email]
      variants:
        - {id: plain, template: cart-reminder}
        - {id: discount, template: cart-reminder}
      winner: {metric: conversion, min_sent: 10}
`

// The experiments section in a real browser: treatment against holdout with the lift's
// interval drawn, and the split step's variants side by side with the winner marked.
func TestTheExperimentsSectionInABrowser(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	rdb := redistest.Start(t).Client(t)
	j, err := workflows.LoadFile("abandoned-cart.yaml", []byte(splitCart), workflows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	set, err := workflows.NewSet([]*workflows.Journey{j})
	if err != nil {
		t.Fatal(err)
	}
	rec := stats.New(rdb, store.New(rdb), stats.Options{Now: func() time.Time { return now }, Journeys: func() *workflows.Set { return set }})
	ctx := context.Background()
	// 300 treated customers of whom 60 convert; 40 held out of whom 4 convert.
	for i := range 340 {
		held := i >= 300
		cid := fmt.Sprintf("c%d", i)
		ev := workflows.EventEnv{ID: "cart-" + cid, Type: "cart.abandoned", CustomerID: cid, OccurredAt: now.Add(-48 * time.Hour)}
		rec.Enrolment(ctx, engine.EnrolmentChange{Journey: j.ID, CustomerID: cid, Change: engine.Entered, Event: ev, HeldOut: held})
		if (!held && i%5 == 0) || (held && i%10 == 0) {
			goal := workflows.EventEnv{ID: "o-" + cid, Type: "order.placed", CustomerID: cid, OccurredAt: now.Add(-24 * time.Hour),
				Data: map[string]any{"total": 10.0}}
			rec.Enrolment(ctx, engine.EnrolmentChange{Journey: j.ID, CustomerID: cid, Change: engine.Exited, Event: goal, HeldOut: held})
		}
		if held {
			rec.Outcome(ctx, engine.Observation{Journey: j.ID, Step: "reminder", CustomerID: cid, Outcome: engine.OutcomeHeldOut})
			continue
		}
		variant := "plain"
		if i%3 == 0 {
			variant = "discount"
		}
		rec.Outcome(ctx, engine.Observation{Journey: j.ID, Step: "reminder", CustomerID: cid, Outcome: engine.OutcomeSent, Variant: variant})
	}
	if err := rec.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rdb.HSet(ctx, "rapport:{stats}:exp:abandoned-cart", "winner|reminder", "discount").Err(); err != nil {
		t.Fatal(err)
	}
	srv := serve(t, web.Options{Now: func() time.Time { return now }, Stats: rec,
		Files: func() (*workflows.Set, web.Renderer) { return set, nil }})
	authed := strings.Replace(srv.URL, "http://", "http://marketing:"+token+"@", 1)
	page := dumpDOM(t, authed+"/stats/")
	l, _ := abstat.RelativeLift(abstat.Arm{Trials: 300, Successes: 60}, abstat.Arm{Trials: 40, Successes: 4}, 0.95)
	for _, want := range []string{
		`<section class="journey" id="experiments">`,
		`<tr class="treatment"><th>treatment</th><td>300</td><td>60</td><td>20.0%</td><td>600.00</td></tr>`,
		`<tr class="holdout"><th>holdout</th><td>40</td><td>4</td><td>10.0%</td><td>40.00</td></tr>`,
		fmt.Sprintf(`Lift <strong>%+.1f%%</strong>, 95%% interval %+.1f%% to %+.1f%%`, 100*l.Conversion, 100*round3(l.Low), 100*round3(l.High)),
		"not yet distinguishable from no lift",
		`<line class="interval"`, `<circle class="estimate"`,
		`winner <strong>discount</strong>`,
		`<th class="variant winner">discount ★</th><th class="variant">plain</th>`,
		`<tr><th>Sent</th><td>100</td><td>200</td></tr>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if t.Failed() {
		i := strings.Index(page, `id="experiments"`)
		t.Logf("experiments section:\n%s", page[max(i, 0):])
	}
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5*sign(f))) / 1000 }

func sign(f float64) float64 {
	if f < 0 {
		return -1
	}
	return 1
}
