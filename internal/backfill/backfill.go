// Package backfill arms the timers of a date or inactivity journey for the customers who
// existed before the journey did. Such journeys otherwise start for a customer only when
// an event touches the profile. It walks the profiles with SCAN in batches (on every
// master of a Redis Cluster), keeps its cursor in Redis after each batch so a restarted
// worker goes on where the last one stopped, lets one worker at a time do it, and marks
// the journey done, for its current trigger, at the end.
package backfill

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/workflows"
)

// ProfilePattern matches the profile keys of package store: rapport:{CUSTOMER}:customer.
// A test in this package keeps the two in step.
const ProfilePattern = "rapport:{*}:customer"

// DefaultBatch is how many keys one SCAN call asks for.
const DefaultBatch = 500

// lockTTL is how long a worker's claim on a journey's backfill lasts without renewal;
// it is renewed after every batch.
const lockTTL = time.Minute

// Arm arms one customer's timer for the journey if the customer has none; the engine's
// ArmExisting is one.
type Arm func(ctx context.Context, j *workflows.Journey, cid string) error

// Runner runs backfills.
type Runner struct {
	rdb   redis.UniversalClient
	arm   Arm
	log   *slog.Logger
	batch int
	owner string

	mu      sync.Mutex
	running map[string]bool
}

// New returns a Runner on the Redis behind rdb; batch is the SCAN count (0: DefaultBatch).
func New(rdb redis.UniversalClient, arm Arm, log *slog.Logger, batch int) *Runner {
	if log == nil {
		log = slog.Default()
	}
	if batch <= 0 {
		batch = DefaultBatch
	}
	return &Runner{rdb: rdb, arm: arm, log: log, batch: batch, running: map[string]bool{},
		owner: strconv.FormatInt(time.Now().UnixNano(), 36)}
}

// Needs reports whether j is a journey a backfill is for: one with a date or inactivity
// trigger.
func Needs(j *workflows.Journey) bool {
	return j.Trigger.Kind == workflows.TriggerDate || j.Trigger.Kind == workflows.TriggerInactivity
}

// knownKey is the set of journey triggers (stateKey) a deployment has loaded.
const knownKey = "rapport:backfill:known"

// Start backfills, one after the other in the background, every journey of set that
// needs it and is not done yet. A journey counts as added when the deployment has loaded
// journeys before, without it: at the very first load (a new deployment, or one from
// before backfills) every journey there is taken as having been there all along. A
// journey whose backfill is under way in this process already is skipped. It returns at
// once; the work ends with ctx.
func (r *Runner) Start(ctx context.Context, set *workflows.Set) {
	var todo []*workflows.Journey
	r.mu.Lock()
	for _, j := range set.All() {
		if Needs(j) && !r.running[j.ID] {
			r.running[j.ID] = true
			todo = append(todo, j)
		}
	}
	r.mu.Unlock()
	if len(todo) == 0 {
		return
	}
	go func() {
		first, err := r.firstLoad(ctx, set)
		for _, j := range todo {
			if err == nil && first {
				err = r.rdb.HSet(ctx, stateKey(j), "done", "there before backfills").Err()
			} else if err == nil {
				err = r.Run(ctx, j)
			}
			if err != nil && ctx.Err() == nil {
				r.log.Warn("backfill stopped; it goes on from its cursor at the next start or reload", "journey", j.ID, "err", err)
			}
			r.mu.Lock()
			delete(r.running, j.ID)
			r.mu.Unlock()
		}
	}()
}

// firstLoad records the set's triggers as known and reports whether none were known
// before.
func (r *Runner) firstLoad(ctx context.Context, set *workflows.Set) (bool, error) {
	n, err := r.rdb.Exists(ctx, knownKey).Result()
	if err != nil {
		return false, err
	}
	var sigs []any
	for _, j := range set.All() {
		sigs = append(sigs, stateKey(j))
	}
	if len(sigs) > 0 {
		if err := r.rdb.SAdd(ctx, knownKey, sigs...).Err(); err != nil {
			return false, err
		}
	}
	return n == 0, nil
}

// Run backfills j now, unless it is done already for its current trigger or another
// worker is at it.
func (r *Runner) Run(ctx context.Context, j *workflows.Journey) error {
	state := stateKey(j)
	done, err := r.rdb.HExists(ctx, state, "done").Result()
	if err != nil || done {
		return err
	}
	lock := state + ":lock"
	ok, err := r.rdb.SetNX(ctx, lock, r.owner, lockTTL).Result()
	if err != nil || !ok {
		return err // another worker has it
	}
	defer r.rdb.Del(context.WithoutCancel(ctx), lock)

	start := time.Now()
	var seen, batches int64
	r.log.Info("backfill started: arming existing customers' timers", "journey", j.ID)
	walk := func(ctx context.Context, node *redis.Client) error {
		field := "cursor:" + node.Options().Addr
		cursor, err := r.rdb.HGet(ctx, state, field).Uint64()
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		if cursor == doneCursor {
			return nil // this node was walked to its end
		}
		for {
			keys, next, err := node.Scan(ctx, cursor, ProfilePattern, int64(r.batch)).Result()
			if err != nil {
				return err
			}
			for _, k := range keys {
				cid, ok := customerOf(k)
				if !ok {
					continue
				}
				if err := r.arm(ctx, j, cid); err != nil {
					return fmt.Errorf("arm %s: %w", cid, err)
				}
			}
			seen += int64(len(keys))
			if next == 0 {
				next = doneCursor
			}
			if err := r.rdb.HSet(ctx, state, field, next).Err(); err != nil {
				return err
			}
			if err := r.rdb.Expire(ctx, lock, lockTTL).Err(); err != nil {
				return err
			}
			if next == doneCursor {
				return nil
			}
			cursor = next
			if batches++; batches%20 == 0 {
				r.log.Info("backfill progress", "journey", j.ID, "customers", seen)
			}
		}
	}
	if err := forEachNode(ctx, r.rdb, walk); err != nil {
		return err
	}
	if err := r.rdb.HSet(ctx, state, "done", time.Now().UTC().Format(time.RFC3339)).Err(); err != nil {
		return err
	}
	r.log.Info("backfill done", "journey", j.ID, "customers", seen, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// doneCursor marks a node walked to its end (SCAN's own end is 0, its start too).
const doneCursor = ^uint64(0)

// forEachNode runs walk on each master of a cluster, one after the other, or on the one
// server.
func forEachNode(ctx context.Context, rdb redis.UniversalClient, walk func(context.Context, *redis.Client) error) error {
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		var mu sync.Mutex // ForEachMaster runs concurrently; one node at a time keeps the load low
		return c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			mu.Lock()
			defer mu.Unlock()
			return walk(ctx, node)
		})
	case *redis.Client:
		return walk(ctx, c)
	}
	return fmt.Errorf("backfill: unsupported Redis client %T", rdb)
}

// stateKey is where a journey's backfill keeps its cursors and done mark: per trigger,
// so a journey whose trigger changes is backfilled again.
func stateKey(j *workflows.Journey) string {
	t := j.Trigger
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s|%s|%s|%d:%d:%d|%d", t.Kind, t.Event, t.DateAttr, t.AtHour, t.AtMinute, t.AtSecond, t.After)))
	return "rapport:backfill:" + j.ID + ":" + hex.EncodeToString(sum[:6])
}

// customerOf reads the customer id back from a profile key.
func customerOf(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, "rapport:{")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, "}:customer")
}
