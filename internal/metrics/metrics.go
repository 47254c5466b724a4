// Package metrics exposes Rapport's Prometheus metrics: the engine's outcomes, the event
// intake's results and the worker's task timings, all through the engine's Observer
// seam, and asynq's own queue metrics. Every series of Rapport's own is prefixed rapport_.
// A new metric is one file that calls Register (see docs/extending.md).
package metrics

import (
	"context"
	"net/http"

	"github.com/hibiken/asynq"
	asynqmetrics "github.com/hibiken/asynq/x/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/internal/engine"
)

// Metrics holds Rapport's series in a registry of its own. It implements
// engine.Observer. The zero value is not usable; call New.
type Metrics struct {
	reg         *prometheus.Registry
	events      *prometheus.CounterVec
	messages    *prometheus.CounterVec
	enrolments  *prometheus.CounterVec
	sendSeconds *prometheus.HistogramVec
	lateness    prometheus.Histogram
	tasks       *prometheus.HistogramVec
	feedback    *prometheus.CounterVec
	registered  engine.Observers // the metrics of Register, told of everything the engine tells
}

var _ engine.Observer = (*Metrics)(nil)

// New returns Metrics with Rapport's series, those of Register, and the Go runtime and
// process collectors registered.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rapport_events_total",
			Help: "Events received by the intake, by result: accepted, duplicate, rejected or unavailable.",
		}, []string{"result"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rapport_messages_total",
			Help: "Recorded outcomes of journey steps' messages.",
		}, []string{"journey", "step", "channel", "outcome"}),
		enrolments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rapport_enrolments_total",
			Help: "Enrolments that started (entered) or ended (completed, exited, ended), by journey.",
		}, []string{"journey", "change"}),
		sendSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rapport_send_duration_seconds",
			Help:    "How long a channel took to take a message.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"channel"}),
		lateness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "rapport_step_lateness_seconds",
			Help:    "When a step ran minus when it was due.",
			Buckets: []float64{.1, .5, 1, 2, 5, 10, 30, 60, 300, 900, 3600},
		}),
		tasks: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rapport_task_duration_seconds",
			Help:    "How long the worker took over a task, by task type and result (ok, error, or deferred: a newer worker's task left for it).",
			Buckets: prometheus.DefBuckets,
		}, []string{"type", "result"}),
		feedback: newFeedback(),
	}
	m.reg.MustRegister(m.events, m.messages, m.enrolments, m.sendSeconds, m.lateness, m.tasks, m.feedback,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, x := range newRegistered() {
		m.reg.MustRegister(x)
		m.registered = append(m.registered, x)
	}
	return m
}

// WatchQueues adds asynq's queue metrics (asynq_tasks_enqueued_total, asynq_queue_size,
// asynq_queue_latency_seconds, ...) read through rdb at each scrape.
func (m *Metrics) WatchQueues(rdb redis.UniversalClient) {
	m.reg.MustRegister(unchecked{asynqmetrics.NewQueueMetricsCollector(asynq.NewInspectorFromRedisClient(rdb))})
}

// unchecked registers a collector without describing it first: asynq's collector
// describes itself by collecting, which would read every queue from Redis at start-up.
type unchecked struct{ prometheus.Collector }

// Describe sends nothing, which makes the collector unchecked.
func (unchecked) Describe(chan<- *prometheus.Desc) {}

// Registry is where the series live, for tests and for adding collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Intake counts one event the intake answered, by result.
func (m *Metrics) Intake(ctx context.Context, r engine.IntakeResult) {
	m.registered.Intake(ctx, r)
	m.events.WithLabelValues(string(r)).Inc()
}

// Outcome counts a step's recorded outcome, how long the channel took, and how late the
// step ran.
func (m *Metrics) Outcome(ctx context.Context, o engine.Observation) {
	m.registered.Outcome(ctx, o)
	m.messages.WithLabelValues(o.Journey, o.Step, o.Channel, string(o.Outcome)).Inc()
	if o.SendDuration > 0 {
		m.sendSeconds.WithLabelValues(o.Channel).Observe(o.SendDuration.Seconds())
	}
	if !o.Due.IsZero() && !o.Ran.IsZero() {
		m.lateness.Observe(max(o.Ran.Sub(o.Due), 0).Seconds())
	}
}

// Held counts nothing of its own; it tells the registered metrics of a held step.
func (m *Metrics) Held(ctx context.Context, o engine.Observation) { m.registered.Held(ctx, o) }

// Enrolment counts an enrolment starting or ending.
func (m *Metrics) Enrolment(ctx context.Context, c engine.EnrolmentChange) {
	m.registered.Enrolment(ctx, c)
	m.enrolments.WithLabelValues(c.Journey, string(c.Change)).Inc()
}

// Task times one task the worker ran, by type and result (ok, error or deferred).
func (m *Metrics) Task(ctx context.Context, t engine.TaskRun) {
	m.registered.Task(ctx, t)
	result := "ok"
	switch {
	case t.Deferred:
		result = "deferred"
	case t.Err != nil:
		result = "error"
	}
	m.tasks.WithLabelValues(t.Type, result).Observe(t.Took.Seconds())
}
