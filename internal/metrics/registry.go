package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rapporthq/rapport/internal/engine"
)

// Metric is a series (or a few) of Rapport's own beyond those of New: a Prometheus
// collector that learns of each outcome and enrolment through the engine's Observer seam.
// Its Observer methods run on the send path: they must be quick and must not block.
type Metric interface {
	prometheus.Collector
	engine.Observer
}

var (
	mu           sync.RWMutex
	constructors []func() Metric
)

// Register adds a metric to every Metrics that New makes: a new metric is one file that
// defines it and calls Register from an init function (see docs/extending.md).
func Register(newMetric func() Metric) {
	if newMetric == nil {
		panic("metrics: Register needs a constructor")
	}
	mu.Lock()
	defer mu.Unlock()
	constructors = append(constructors, newMetric)
}

// newRegistered makes one of each registered metric.
func newRegistered() []Metric {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]Metric, 0, len(constructors))
	for _, newMetric := range constructors {
		out = append(out, newMetric())
	}
	return out
}
