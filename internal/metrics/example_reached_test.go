package metrics_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/metrics"
)

// This file is the worked example of docs/extending.md: a whole metric in one file.
// Written in package metrics (as reached.go) it would ship with Rapport; here, in a test
// package, the test compiles it and scrapes it through Metrics.

// reached counts the messages sent, by journey and channel: rapport_example_reached_total{journey="welcome",channel="email"}.
type reached struct {
	engine.NopObserver // the events it does not count
	sent               *prometheus.CounterVec
}

// The one registration line: every Metrics that metrics.New makes has this one too.
func init() { metrics.Register(newReached) }

func newReached() metrics.Metric {
	return &reached{sent: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rapport_example_reached_total",
		Help: "Messages sent, by journey and channel.",
	}, []string{"journey", "channel"})}
}

// Describe and Collect make it a Prometheus collector.
func (r *reached) Describe(ch chan<- *prometheus.Desc) { r.sent.Describe(ch) }
func (r *reached) Collect(ch chan<- prometheus.Metric) { r.sent.Collect(ch) }

// Outcome, with the NopObserver's other methods, makes it an engine.Observer: the engine
// calls it once per outcome.
func (r *reached) Outcome(_ context.Context, o engine.Observation) {
	if o.Outcome == engine.OutcomeSent {
		r.sent.WithLabelValues(o.Journey, o.Channel).Inc()
	}
}

// TestARegisteredMetricIsServedAndObserves runs the example metric through Metrics as
// the engine and a scrape use it.
func TestARegisteredMetricIsServedAndObserves(t *testing.T) {
	m := metrics.New()
	ctx := context.Background()
	m.Outcome(ctx, engine.Observation{Journey: "welcome", Step: "hello", Channel: "email", Outcome: engine.OutcomeSent})
	m.Outcome(ctx, engine.Observation{Journey: "welcome", Step: "hello", Channel: "email", Outcome: engine.OutcomeSent})
	m.Outcome(ctx, engine.Observation{Journey: "welcome", Step: "hello", Channel: "email", Outcome: engine.OutcomeCapped})
	got, ok := value(scrape(t, m), `rapport_example_reached_total{channel="email",journey="welcome"}`)
	if !ok || got != 2 {
		t.Fatalf("rapport_example_reached_total = %v (served: %v), want 2", got, ok)
	}
}
