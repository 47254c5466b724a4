package app

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/journeystats"
	"github.com/rapporthq/rapport/internal/metrics"
	"github.com/rapporthq/rapport/internal/queue"
	"github.com/rapporthq/rapport/internal/stats"
	"github.com/rapporthq/rapport/internal/store"
)

// Instruments are what the engine and the worker report to besides the send path:
// relationship statistics, each journey's counters and the Prometheus metrics. An App and
// `rapport bench` wire them alike, so that the bench measures Rapport as it is served.
type Instruments struct {
	Stats    *stats.Recorder
	Journeys *journeystats.Counters
	Metrics  *metrics.Metrics
}

// NewInstruments returns the instruments on the Redis behind rdb; opts are the
// statistics' options (attribution window, journeys in force), with log as their logger.
func NewInstruments(rdb redis.UniversalClient, st *store.Store, log *slog.Logger, opts stats.Options) Instruments {
	opts.Logger = log
	return Instruments{Stats: stats.New(rdb, st, opts), Journeys: journeystats.New(rdb, log),
		Metrics: metrics.New()}
}

// Observer is what the engine tells of each outcome and enrolment.
func (in Instruments) Observer() engine.Observer {
	return engine.Observers{in.Metrics, in.Journeys, in.Stats}
}

// Middleware wraps every task the worker runs.
func (in Instruments) Middleware() []asynq.MiddlewareFunc {
	return []asynq.MiddlewareFunc{queue.Observed(in.Observer())}
}

// Start writes the counts the instruments add up in the process (journey counters,
// enrolment statistics) to Redis every second until stop, which writes them once more
// and returns when that is done.
func (in Instruments) Start() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { in.Journeys.Run(ctx, time.Second) })
	wg.Go(func() { in.Stats.Run(ctx, time.Second) })
	return func() {
		cancel()
		wg.Wait()
	}
}
