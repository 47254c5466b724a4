package sim_test

import (
	"context"
	"fmt"
	"time"

	"github.com/rapporthq/rapport/config"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/sim"
)

// A Go test of a journey: an abandoned cart, two days on the virtual clock.
func Example() {
	ctx := context.Background()
	// From the repository root, sim.Load("config/rapport.yaml") does all of this.
	cfg, err := config.Load("../config/rapport.yaml")
	if err != nil {
		panic(err)
	}
	cfg.Workflows, cfg.Templates = "../workflows", "../templates"
	setup, err := sim.FromConfig(cfg)
	if err != nil {
		panic(err)
	}
	s, err := sim.New(setup, sim.Options{Start: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)})
	if err != nil {
		panic(err)
	}
	defer s.Close()

	err = s.Event(ctx, event.Event{Type: "cart.abandoned", CustomerID: "c1",
		Customer: map[string]any{"email": "anna@example.com", "first_name": "Anna"},
		Data:     map[string]any{"cart_id": "K1", "total": 30.0}})
	if err != nil {
		panic(err)
	}
	if err := s.Advance(ctx, 48*time.Hour); err != nil {
		panic(err)
	}
	for _, m := range s.Messages() {
		fmt.Println(sim.Offset(s.Start(), m.At), m.Journey, m.Step, m.Outcome, m.To, m.Subject)
	}
	// Output:
	// +1h abandoned-cart reminder sent anna@example.com You left something in your cart
	// +1d1h abandoned-cart last-chance sent anna@example.com Still thinking it over?
}
