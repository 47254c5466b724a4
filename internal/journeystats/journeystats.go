// Package journeystats keeps each journey's counters in Redis (entered, completed,
// exited, ended; sent, capped, failed, ...) as the engine reports enrolments and outcomes
// through its Observer seam. Nothing is ever counted by scanning customers.
//
// Counts are added up in the process and written to Redis once a second (see package
// tally), rather than one round trip per count: a message would otherwise cost three
// (entered, sent, completed) on top of its own.
package journeystats

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/tally"
)

// Stats are one journey's counters, as GET /v1/journeys shows them.
type Stats struct {
	Entered   int64 `json:"entered"`
	Active    int64 `json:"active"`
	Completed int64 `json:"completed"`
	Exited    int64 `json:"exited"`
	Sent      int64 `json:"sent"`
	Capped    int64 `json:"capped"`
	Failed    int64 `json:"failed"`
}

// Counters updates and reads the counters. It implements engine.Observer; Run writes
// what it counted to Redis.
type Counters struct {
	engine.NopObserver // only outcomes and enrolments are counted
	rdb                redis.UniversalClient
	tally              *tally.Tally
}

var _ engine.Observer = (*Counters)(nil)

// New keeps the counters in the Redis behind rdb; failures to count are logged to log
// (nil: slog.Default()), since an observer cannot fail the engine's work.
func New(rdb redis.UniversalClient, log *slog.Logger) *Counters {
	if log == nil {
		log = slog.Default()
	}
	return &Counters{rdb: rdb, tally: tally.New(rdb, "journey statistics", log)}
}

// key is one hash per journey: a single-key update, so any Redis topology takes it.
func key(journey string) string { return "rapport:journey-stats:" + journey }

// Outcome counts a recorded outcome under its name (sent, capped, failed, skipped, ...).
func (c *Counters) Outcome(ctx context.Context, o engine.Observation) {
	c.incr(ctx, o.Journey, string(o.Outcome))
}

// Enrolment counts an enrolment entering or ending (completed, exited, ended).
func (c *Counters) Enrolment(ctx context.Context, ch engine.EnrolmentChange) {
	c.incr(ctx, ch.Journey, string(ch.Change))
}

func (c *Counters) incr(_ context.Context, journey, field string) {
	c.tally.Add(key(journey), field, 1, time.Time{})
}

// Flush writes the counts not yet in Redis; those it could not write wait for the next.
func (c *Counters) Flush(ctx context.Context) error { return c.tally.Flush(ctx) }

// Run writes the counts every interval until ctx ends, then once more.
func (c *Counters) Run(ctx context.Context, interval time.Duration) { c.tally.Run(ctx, interval) }

// Get reads the counters of the journeys, in one round trip per node, with the counts
// of this process not yet written. active is entered less completed, exited and ended.
func (c *Counters) Get(ctx context.Context, journeys []string) (map[string]Stats, error) {
	cmds := make([]*redis.MapStringStringCmd, len(journeys))
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, j := range journeys {
			cmds[i] = p.HGetAll(ctx, key(j))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]Stats, len(journeys))
	for i, j := range journeys {
		h := cmds[i].Val()
		n := func(f string) int64 {
			v, err := strconv.ParseInt(h[f], 10, 64)
			if err != nil {
				v = 0 // absent: nothing counted yet
			}
			return v + c.tally.Pending(key(j), f)
		}
		s := Stats{Entered: n(string(engine.Entered)), Completed: n(string(engine.Completed)),
			Exited: n(string(engine.Exited)), Sent: n(string(engine.OutcomeSent)),
			Capped: n(string(engine.OutcomeCapped)), Failed: n(string(engine.OutcomeFailed))}
		s.Active = max(s.Entered-s.Completed-s.Exited-n(string(engine.Ended)), 0)
		out[j] = s
	}
	return out, nil
}
