package sim_test

import (
	"context"
	"testing"
	"time"

	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/sim"
)

// BenchmarkCustomerYear runs a year of one customer through the six shipped journeys,
// on a fresh simulation each time (embedded Redis included): a profile with a birthday,
// three orders, two abandoned carts (one ordered within the hour), win-back after the
// last order. It reports customer-years simulated per second of wall time.
//
//	go test -run '^$' -bench CustomerYear ./sim/
func BenchmarkCustomerYear(b *testing.B) {
	setup := shipped(b)
	ctx := context.Background()
	type at struct {
		d  time.Duration
		ev event.Event
	}
	order := func(id string, cat string) event.Event {
		return event.Event{ID: id, Type: "order.placed", CustomerID: "c1", Data: map[string]any{"order_id": id, "total": 30.0,
			"items": []any{map[string]any{"name": "x", "category": cat, "price": 30.0}}}}
	}
	year := []at{
		{0, event.Event{Type: "customer.updated", CustomerID: "c1", Customer: map[string]any{"email": "c1@example.com",
			"first_name": "Anna", "timezone": "Europe/Berlin", "birthday": "1990-06-15"}}},
		{0, order("o1", "coffee")},
		{20 * day, cart("K1")},
		{20*day + 30*time.Minute, order("o2", "tea")},
		{50 * day, cart("K2")},
		{80 * day, order("o3", "gear")},
	}
	messages := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := sim.New(setup, sim.Options{})
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range year {
			if err := s.AdvanceTo(ctx, s.Start().Add(e.d)); err != nil {
				b.Fatal(err)
			}
			if err := s.Event(ctx, e.ev); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.Advance(ctx, 365*day-80*day); err != nil {
			b.Fatal(err)
		}
		messages = len(s.Messages())
		s.Close()
	}
	b.StopTimer()
	// 3 thank-yous, 3 review requests, 3 x 3 tip steps, 2 cart reminders, a birthday,
	// 2 win-back notes: the year really ran.
	if messages < 20 {
		b.Fatalf("only %d message outcomes in a year", messages)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "customer-years/s")
	b.ReportMetric(float64(messages), "messages/year")
}
