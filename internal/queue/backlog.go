package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/event"
)

// pendingKey is the list of asynq's events queue that accepted events wait in, the
// newest at its head (asynq's own layout, like completedKey).
const pendingKey = "asynq:{" + event.Queue + "}:pending"

// EventBacklog tells the engine when the oldest event still waiting in the events queue
// was accepted (engine.Backlog), from asynq's own record of it: two reads, however long
// the queue.
type EventBacklog struct{ rdb redis.UniversalClient }

// NewEventBacklog reads the events queue on rdb.
func NewEventBacklog(rdb redis.UniversalClient) EventBacklog { return EventBacklog{rdb: rdb} }

// OldestWaiting returns when the oldest event waiting in the events queue was accepted;
// ok is false when none waits.
func (b EventBacklog) OldestWaiting(ctx context.Context) (time.Time, bool, error) {
	ids, err := b.rdb.LRange(ctx, pendingKey, -1, -1).Result()
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read the events queue: %w", err)
	}
	if len(ids) == 0 {
		return time.Time{}, false, nil
	}
	ns, err := b.rdb.HGet(ctx, taskPrefix+ids[0], "pending_since").Int64()
	switch {
	case errors.Is(err, redis.Nil):
		return time.Time{}, false, nil // taken by a worker meanwhile
	case err != nil:
		return time.Time{}, false, fmt.Errorf("read the oldest waiting event: %w", err)
	}
	return time.Unix(0, ns), true, nil
}
