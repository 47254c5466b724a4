package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/engine"
)

// Memory compares the Redis bytes one pending step and one customer timer cost with a
// bare asynq scheduled task: the sum of MEMORY USAGE over every key, which leaves out
// the allocator's and the clients' noise. The customer's profile is there before and
// after, so it is not counted. Ratio is the larger of the two ratios.
type Memory struct {
	StepBytes  Pair    `json:"step_bytes"`
	TimerBytes Pair    `json:"timer_bytes"`
	Ratio      float64 `json:"ratio"`
}

// laterJourney keeps every order's step pending for three days.
const laterJourney = `
id: review-request
trigger: {event: order.placed}
steps:
  - wait: 3d
    send: {template: thank-you, channels: [email]}
`

// birthdayJourney keeps one timer per customer with a birthday.
const birthdayJourney = `
id: birthday
trigger: {date: customer.birthday, at: "10:00"}
steps:
  - send: {template: thank-you, channels: [email]}
`

// profileJourney enrols no one: events through it only write profiles.
const profileJourney = `
id: profiles-only
trigger: {event: bench.never}
steps:
  - send: {template: thank-you, channels: [email]}
`

func runMemory(ctx context.Context, st *stack) (*Memory, error) {
	n := st.cfg.Pending
	chans := st.emailChannels(nil)
	profiles, err := st.engine(profileJourney, chans, nil)
	if err != nil {
		return nil, err
	}
	later, err := st.engine(laterJourney, chans, nil)
	if err != nil {
		return nil, err
	}
	birthdays, err := st.engine(birthdayJourney, chans, nil)
	if err != nil {
		return nil, err
	}
	q := asynq.NewClientFromRedisClient(st.rdb)

	orders := make([]event.Event, n)
	updates := make([]event.Event, n)
	for i := range orders {
		orders[i] = orderEvent(fmt.Sprintf("m-%d", i), i)
		updates[i] = event.Event{ID: fmt.Sprintf("u-%d", i), Type: "customer.updated", CustomerID: fmt.Sprintf("c-%d", i),
			OccurredAt: time.Now().UTC(), Customer: map[string]any{"email": fmt.Sprintf("c%d@example.com", i),
				"birthday": fmt.Sprintf("1990-%02d-%02d", 1+i%12, 1+i%28), "timezone": "Europe/Berlin"}}
	}
	// each handles evs through eng from many goroutines.
	each := func(eng *engine.Engine, evs []event.Event) error {
		return produce(len(evs), producers, func(i int) error { return eng.HandleEvent(ctx, evs[i]) })
	}
	// bytesPer measures the Redis memory of the keys across add, per item, after
	// prepare.
	bytesPer := func(prepare, add func() error) (float64, error) {
		if prepare != nil {
			if err := prepare(); err != nil {
				return 0, err
			}
		}
		before, err := st.keyBytes(ctx)
		if err != nil {
			return 0, err
		}
		if err := add(); err != nil {
			return 0, err
		}
		after, err := st.keyBytes(ctx)
		return float64(after-before) / float64(n), err
	}
	var step, timer [2][]float64
	rapport := func(int) error {
		b, err := bytesPer(func() error { return each(profiles, orders) }, func() error { return each(later, orders) })
		if err != nil {
			return err
		}
		step[0] = append(step[0], b)
		if err := st.flush(ctx); err != nil {
			return err
		}
		t, err := bytesPer(func() error { return each(profiles, updates) }, func() error { return each(birthdays, updates) })
		if err != nil {
			return err
		}
		timer[0] = append(timer[0], t)
		st.logf("memory   rapport %6.0f bytes per pending step, %6.0f per timer", b, t)
		return nil
	}
	bare := func(int) error {
		b, err := bytesPer(nil, func() error {
			return produce(n, producers, func(i int) error {
				payload, err := event.Marshal(orders[i])
				if err != nil {
					return err
				}
				_, err = q.EnqueueContext(ctx, asynq.NewTask("send", payload), asynq.ProcessIn(72*time.Hour))
				return err
			})
		})
		if err != nil {
			return err
		}
		step[1] = append(step[1], b)
		if err := st.flush(ctx); err != nil {
			return err
		}
		t, err := bytesPer(nil, func() error {
			return produce(n, producers, func(i int) error {
				payload, err := json.Marshal(map[string]string{"customer": updates[i].CustomerID})
				if err != nil {
					return err
				}
				_, err = q.EnqueueContext(ctx, asynq.NewTask("birthday", payload), asynq.ProcessIn(100*24*time.Hour))
				return err
			})
		})
		if err != nil {
			return err
		}
		timer[1] = append(timer[1], t)
		st.logf("memory   bare    %6.0f bytes per pending step, %6.0f per timer", b, t)
		return nil
	}
	if err := alternate(ctx, st, st.cfg.Reps, rapport, bare); err != nil {
		return nil, err
	}
	m := &Memory{StepBytes: pair(step[0], step[1]), TimerBytes: pair(timer[0], timer[1])}
	m.Ratio = max(m.StepBytes.Ratio, m.TimerBytes.Ratio)
	return m, nil
}

// keyBytes is the sum of MEMORY USAGE over every key of the database, every element
// counted.
func (st *stack) keyBytes(ctx context.Context) (int64, error) {
	var total int64
	iter := st.rdb.Scan(ctx, 0, "*", 1000).Iterator()
	var batch []string
	flush := func() error {
		cmds := make([]*redis.IntCmd, len(batch))
		_, err := st.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range batch {
				cmds[i] = p.MemoryUsage(ctx, k, 0)
			}
			return nil
		})
		for _, c := range cmds {
			if c.Err() == nil {
				total += c.Val()
			}
		}
		batch = batch[:0]
		if err == redis.Nil {
			err = nil // a key that expired between SCAN and MEMORY USAGE
		}
		return err
	}
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == 1000 {
			if err := flush(); err != nil {
				return 0, err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return 0, err
	}
	return total, flush()
}
