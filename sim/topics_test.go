package sim_test

import (
	"context"
	"testing"

	"github.com/rapporthq/rapport/event"
)

func TestOptingOutOfTipsStopsTheUsageTipAndKeepsTheThankYou(t *testing.T) {
	ctx := context.Background()
	s := newSim(t, shipped(t))
	for _, cid := range []string{"tired", "keen"} {
		if cid == "tired" {
			if err := s.Engine().SetTopicConsent(ctx, cid, "tips", false); err != nil {
				t.Fatal(err)
			}
		}
		ev := event.Event{ID: "o-" + cid, Type: "order.placed", CustomerID: cid,
			Customer: map[string]any{"email": cid + "@example.com", "first_name": "Ola"},
			Data: map[string]any{"order_id": "A-1", "total": 20.0,
				"items": []any{map[string]any{"name": "Guji", "category": "coffee", "price": 20.0}}}}
		if err := s.Event(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Advance(ctx, 8*day); err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]int{"tired": {}, "keen": {}}
	for _, e := range sent(s, "thank-you") {
		got[e.Customer]["thank-you"]++
	}
	for _, e := range sent(s, "usage-tip") {
		got[e.Customer]["usage-tip"]++
	}
	if got["tired"]["thank-you"] != 1 || got["tired"]["usage-tip"] != 0 {
		t.Errorf("opted out of tips: %v, want the thank-you and no tip", got["tired"])
	}
	if got["keen"]["thank-you"] != 1 || got["keen"]["usage-tip"] != 1 {
		t.Errorf("subscribed: %v, want the thank-you and the tip", got["keen"])
	}
	v, err := s.Engine().Customer(ctx, "tired")
	if err != nil {
		t.Fatal(err)
	}
	if v.Topics["tips"] || !v.Topics["news"] {
		t.Errorf("customer view topics = %v, want tips false and news true", v.Topics)
	}
	if err := s.Engine().SetTopicConsent(ctx, "tired", "service", false); err == nil {
		t.Error("an opt-out of service was accepted")
	}
}
