// Package sim runs Rapport's production engine on a virtual clock, the way river's
// rivertest lets users test their jobs: a journey of ninety days takes milliseconds, and
// nothing is sent.
//
// A Sim is the engine of internal/engine, built as `rapport serve` builds it (the same
// journeys, templates, quiet hours and frequency caps), with three parts swapped for
// virtual ones through the engine's own seams: a Clock that moves only when the
// simulation advances it, a Scheduler that keeps pending steps and timers in a heap and
// runs them at their virtual time (retrying failures with the production retry policy),
// and a recording channel for every configured channel. State lives in an embedded
// in-process Redis (miniredis) whose clock follows the virtual one, so everything that
// expires in Redis (once_per, re-entry and goal windows, frequency cap windows) expires in
// virtual time. No redis-server is needed.
//
// Everything the engine did is kept as a Timeline: events, messages sent, skipped,
// capped, unreachable or failed (with the reason), and steps held back by quiet hours.
// `rapport simulate` and `rapport test` run scenario files on it (package sim/scenario);
// Go tests can drive it directly:
//
//	setup, err := sim.Load("config/rapport.yaml")
//	s, err := sim.New(setup, sim.Options{})
//	defer s.Close()
//	s.Event(ctx, event.Event{Type: "cart.abandoned", CustomerID: "c1", ...})
//	s.Advance(ctx, 48*time.Hour)
//	for _, e := range s.Timeline() { fmt.Println(e.Line(s.Start(), nil)) }
//
// A Sim is not safe for concurrent use.
package sim
