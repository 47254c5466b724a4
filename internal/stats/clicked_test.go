package stats_test

import (
	"context"
	"testing"

	"github.com/rapporthq/rapport/event"
)

func TestAJourneysClickedCountsTheFirstClickOnEachLink(t *testing.T) {
	c := newCounting(t)
	click := func(id string, first bool) event.Event {
		return event.Event{ID: id, Type: "message.clicked", CustomerID: "c-1", OccurredAt: now.Add(-1),
			Data: map[string]any{"journey": "thank-you", "step": "thank-you", "url": "https://shop.example/", "first": first}}
	}
	c.event(t, click("k1", true))
	c.event(t, click("k2", false)) // the same link again
	c.event(t, click("k1", true))  // the same event again
	got, err := c.rec.Report(context.Background(), 30, []string{"thank-you"})
	if err != nil {
		t.Fatal(err)
	}
	if n := got.Journeys["thank-you"].Clicked; n != 1 {
		t.Errorf("clicked = %d, want 1", n)
	}
}
