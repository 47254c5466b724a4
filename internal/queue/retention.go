package queue

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/rapporthq/rapport/event"
)

// A processed event stays in Redis for event.DedupWindow as a completed asynq task, so
// that its id keeps conflicting at intake: that conflict, inside asynq's enqueue script,
// is the one atomic idempotency check. The task keeps the event's payload too, with the
// customer's email and name, for those seven days. The Trimmer takes the payload out of
// each completed event task and leaves the rest, so the id still conflicts and the
// customer's data is gone once the event is processed: erasing a customer leaves no copy
// behind in the queue. What stays of the payload is the event's id, type and time.
//
// It walks the events queue's completed set, whose scores are when each task expires,
// which is also the order in which they completed, from a cursor kept in Redis so that
// a restarted worker goes on where it stopped; each round lists the last few seconds
// again, and reads only the tasks it has not seen trimmed. One worker trims at a time, the
// one holding a lease in Redis; another takes over when it stops renewing it. Should two
// ever trim at once (a lease that ran out mid-round), each change is compare-and-set on
// the task's message.

// Trimmer empties the payloads of processed event tasks.
type Trimmer struct {
	rdb   redis.UniversalClient
	log   *slog.Logger
	batch int
	// token names this Trimmer in the lease; lease is how long it holds it unrenewed;
	// holding says whether it held it at its last round.
	token   string
	lease   time.Duration
	holding bool
	// cursor is a score below which every completed task is trimmed.
	cursor float64
	// done holds the tasks at or above cursor that this Trimmer saw trimmed, with their
	// score, so that reading a few seconds again costs no round trip per task.
	done map[string]float64
}

// overlap is how far back each round looks again. A score is a completion time plus the
// retention, in whole seconds, and tasks completing in one second are ordered by id, not
// by arrival: a second is only closed once it has passed on every worker's clock.
const overlap = 3

// NewTrimmer returns a Trimmer for the events queue on rdb.
func NewTrimmer(rdb redis.UniversalClient, log *slog.Logger) *Trimmer {
	if log == nil {
		log = slog.Default()
	}
	return &Trimmer{rdb: rdb, log: log, batch: 500, token: rand.Text(), lease: 10 * time.Second, done: map[string]float64{}}
}

var (
	completedKey = "asynq:{" + event.Queue + "}:completed"
	taskPrefix   = "asynq:{" + event.Queue + "}:t:"
	// cursorKey keeps the score up to which every completed event task is trimmed.
	cursorKey = "rapport:trimmed"
	// leaseKey names the Trimmer that trims, until it expires.
	leaseKey = "rapport:trimmer"
)

// holdLease takes the lease, or renews it for its holder. KEYS[1]: the lease. ARGV: the
// token, the lease in ms.
var holdLease = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)

// holds takes or renews the lease and says whether this Trimmer holds it.
func (t *Trimmer) holds(ctx context.Context) (bool, error) {
	n, err := holdLease.Run(ctx, t.rdb, []string{leaseKey}, t.token, t.lease.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("take the trim lease: %w", err)
	}
	return n == 1, nil
}

// trimTask replaces a completed task's message with the trimmed one, unless it changed in
// between. KEYS[1]: the task hash. ARGV: the message read, the message trimmed.
var trimTask = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'state') ~= 'completed' then return 0 end
if redis.call('HGET', KEYS[1], 'msg') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'msg', ARGV[2])
return 1
`)

// advance moves the shared cursor forward, never back. KEYS[1]: the cursor. ARGV[1]: the score.
var advance = redis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
`)

// Run trims every interval until ctx ends. Failures (Redis away) are logged and the next
// round tries again.
func (t *Trimmer) Run(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if _, err := t.Trim(ctx); err != nil && ctx.Err() == nil {
			t.log.Warn("could not trim processed events; trying again", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Trim empties the payload of every event task completed since the last call and says
// how many it changed. It does nothing while another Trimmer holds the lease.
func (t *Trimmer) Trim(ctx context.Context) (int, error) {
	ok, err := t.holds(ctx)
	if !ok || err != nil {
		t.holding = false
		return 0, err
	}
	if !t.holding {
		// Another worker may have trimmed while this one did not hold the lease: go on
		// from the shared cursor, not from where this one stopped.
		t.holding, t.cursor = true, 0
		clear(t.done)
	}
	if t.cursor == 0 {
		v, err := t.rdb.Get(ctx, cursorKey).Float64()
		if err != nil && err != redis.Nil {
			return 0, fmt.Errorf("read trim cursor: %w", err)
		}
		t.cursor = v
	}
	trimmed, last := 0, t.cursor
	for offset := 0; ; offset += t.batch {
		zs, err := t.rdb.ZRangeByScoreWithScores(ctx, completedKey, &redis.ZRangeBy{
			Min: strconv.FormatFloat(t.cursor, 'f', -1, 64), Max: "+inf", Offset: int64(offset), Count: int64(t.batch)}).Result()
		if err != nil {
			return trimmed, fmt.Errorf("list processed events: %w", err)
		}
		fresh := zs[:0:0]
		for _, z := range zs {
			if _, ok := t.done[z.Member.(string)]; !ok {
				fresh = append(fresh, z)
			}
		}
		n, err := t.trim(ctx, fresh)
		trimmed += n
		if err != nil {
			return trimmed, err
		}
		for _, z := range fresh {
			t.done[z.Member.(string)] = z.Score
		}
		if len(zs) > 0 {
			last = max(last, zs[len(zs)-1].Score)
		}
		if len(zs) < t.batch {
			break
		}
	}
	if next := last - overlap; next > t.cursor {
		t.cursor = next
		for id, score := range t.done {
			if score < next {
				delete(t.done, id)
			}
		}
		if err := advance.Run(ctx, t.rdb, []string{cursorKey}, strconv.FormatFloat(next, 'f', -1, 64)).Err(); err != nil {
			return trimmed, fmt.Errorf("save trim cursor: %w", err)
		}
	}
	return trimmed, nil
}

// trim empties the payloads of one batch of completed tasks: one round trip to read their
// messages, one to write back those that held a payload.
func (t *Trimmer) trim(ctx context.Context, zs []redis.Z) (int, error) {
	if len(zs) == 0 {
		return 0, nil
	}
	reads := make([]*redis.StringCmd, len(zs))
	_, err := t.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, z := range zs {
			reads[i] = p.HGet(ctx, taskPrefix+z.Member.(string), "msg")
		}
		return nil
	})
	if err != nil && err != redis.Nil {
		return 0, fmt.Errorf("read processed events: %w", err)
	}
	var writes []*redis.Cmd
	_, err = t.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, z := range zs {
			msg, err := reads[i].Result()
			if err != nil {
				continue // expired meanwhile
			}
			out, changed := withoutPayload([]byte(msg))
			if changed {
				writes = append(writes, trimTask.Eval(ctx, p, []string{taskPrefix + z.Member.(string)}, msg, out))
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("trim processed events: %w", err)
	}
	n := 0
	for _, w := range writes {
		v, err := w.Int()
		if err != nil {
			return n, fmt.Errorf("trim processed events: %w", err)
		}
		n += v
	}
	return n, nil
}

// payloadField is the field number of the payload in asynq's task message (TaskMessage in
// asynq's internal/proto/asynq.proto: "bytes payload = 2").
const payloadField = 2

// kept is what stays of a processed event's payload: its id, type and time, so that the
// dashboard still says which event it was, and nothing about the customer.
func kept(payload []byte) []byte {
	ev, err := event.Unmarshal(payload)
	if err != nil {
		return nil
	}
	b, err := event.Marshal(event.Event{ID: ev.ID, Type: ev.Type, OccurredAt: ev.OccurredAt})
	if err != nil {
		return nil
	}
	return b
}

// withoutPayload returns the encoded task message with its payload cut down to kept, and
// whether that changed anything. Every other field is copied as it is, so asynq reads the
// task as before. A message it cannot parse is left alone.
func withoutPayload(msg []byte) ([]byte, bool) {
	out := make([]byte, 0, len(msg))
	changed := false
	for rest := msg; len(rest) > 0; {
		num, typ, n := protowire.ConsumeTag(rest)
		if n < 0 {
			return msg, false
		}
		m := protowire.ConsumeFieldValue(num, typ, rest[n:])
		if m < 0 {
			return msg, false
		}
		if num == payloadField && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(rest[n:])
			k := kept(v)
			if !bytes.Equal(k, v) {
				changed = true
			}
			out = protowire.AppendTag(out, payloadField, protowire.BytesType)
			out = protowire.AppendBytes(out, k)
		} else {
			out = append(out, rest[:n+m]...)
		}
		rest = rest[n+m:]
	}
	return out, changed
}
