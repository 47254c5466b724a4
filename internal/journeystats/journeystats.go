// Package journeystats keeps each journey's counters in Redis (entered, completed,
// exited, ended; sent, capped, failed, ...) as the engine reports enrolments and outcomes
// through its Observer seam. Nothing is ever counted by scanning customers.
//
// Counts are added up in the process and written to Redis once a second, in one round
// trip for all journeys, rather than one round trip per count: a message would otherwise
// cost three (entered, sent, completed) on top of its own. A process killed outright loses
// the counts of its last second; counts that Redis could not take are kept for the next
// write.
package journeystats

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/internal/engine"
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
	rdb redis.UniversalClient
	log *slog.Logger

	mu      sync.Mutex
	pending map[string]map[string]int64 // journey -> field -> count not yet in Redis
}

var _ engine.Observer = (*Counters)(nil)

// New keeps the counters in the Redis behind rdb; failures to count are logged to log
// (nil: slog.Default()), since an observer cannot fail the engine's work.
func New(rdb redis.UniversalClient, log *slog.Logger) *Counters {
	if log == nil {
		log = slog.Default()
	}
	return &Counters{rdb: rdb, log: log, pending: map[string]map[string]int64{}}
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
	c.mu.Lock()
	defer c.mu.Unlock()
	c.add(journey, field, 1)
}

// add counts n more of field in journey; c.mu is held.
func (c *Counters) add(journey, field string, n int64) {
	fields := c.pending[journey]
	if fields == nil {
		fields = map[string]int64{}
		c.pending[journey] = fields
	}
	fields[field] += n
}

// Flush writes the counts not yet in Redis. Counts it could not write are kept for the
// next Flush.
func (c *Counters) Flush(ctx context.Context) error {
	c.mu.Lock()
	out := c.pending
	c.pending = map[string]map[string]int64{}
	c.mu.Unlock()
	if len(out) == 0 {
		return nil
	}
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for j, fields := range out {
			for f, n := range fields {
				p.HIncrBy(ctx, key(j), f, n)
			}
		}
		return nil
	})
	if err != nil {
		c.mu.Lock()
		for j, fields := range out {
			for f, n := range fields {
				c.add(j, f, n)
			}
		}
		c.mu.Unlock()
		return err
	}
	return nil
}

// Run flushes every interval until ctx ends, then once more. A failed flush is logged;
// its counts wait for the next.
func (c *Counters) Run(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := c.Flush(fctx); err != nil {
				c.log.Warn("journey statistics: counts of the last second are lost", "err", err)
			}
			return
		case <-tick.C:
			if err := c.Flush(ctx); err != nil && ctx.Err() == nil {
				c.log.Warn("journey statistics: could not write the counts; trying again", "err", err)
			}
		}
	}
}

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
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]Stats, len(journeys))
	for i, j := range journeys {
		h := cmds[i].Val()
		n := func(f string) int64 {
			v, err := strconv.ParseInt(h[f], 10, 64)
			if err != nil {
				v = 0 // absent: nothing counted yet
			}
			return v + c.pending[j][f]
		}
		s := Stats{Entered: n(string(engine.Entered)), Completed: n(string(engine.Completed)),
			Exited: n(string(engine.Exited)), Sent: n(string(engine.OutcomeSent)),
			Capped: n(string(engine.OutcomeCapped)), Failed: n(string(engine.OutcomeFailed))}
		s.Active = max(s.Entered-s.Completed-s.Exited-n(string(engine.Ended)), 0)
		out[j] = s
	}
	return out, nil
}
