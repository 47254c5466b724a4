// Package tally adds up counts in the process and writes them to Redis hashes once a
// second, in one round trip for all of them, for counters that would otherwise cost a
// round trip per count on the send path (journey counters, daily statistics).
//
// What it promises: a count reaches Redis within about a second; a count whose write did
// not reach Redis (a node away) is kept and written with the next batch, while the others
// of the batch are not written again; a process killed outright loses the counts of its
// last second. A write whose answer is lost after Redis applied it (the connection broke
// mid-reply) is written again, so it can count twice.
package tally

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Tally is counts not yet written, by hash key and field. It is safe for concurrent use.
type Tally struct {
	rdb  redis.UniversalClient
	log  *slog.Logger
	what string // what is counted, for the log

	mu      sync.Mutex
	pending map[string]*hash
}

type hash struct {
	fields map[string]int64
	expire time.Time // when the key expires (PEXPIREAT); zero: never
}

// New returns a Tally writing to the Redis behind rdb. what names the counts in the log
// (log nil: slog.Default()).
func New(rdb redis.UniversalClient, what string, log *slog.Logger) *Tally {
	if log == nil {
		log = slog.Default()
	}
	return &Tally{rdb: rdb, log: log, what: what, pending: map[string]*hash{}}
}

// Add counts n more of field in the hash at key, which expires at expire (zero: never).
func (t *Tally) Add(key, field string, n int64, expire time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.add(key, field, n, expire)
}

// add is Add with t.mu held.
func (t *Tally) add(key, field string, n int64, expire time.Time) {
	h := t.pending[key]
	if h == nil {
		h = &hash{fields: map[string]int64{}}
		t.pending[key] = h
	}
	h.fields[field] += n
	if expire.After(h.expire) {
		h.expire = expire
	}
}

// Pending is the count of field in the hash at key not yet written.
func (t *Tally) Pending(key, field string) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if h := t.pending[key]; h != nil {
		return h.fields[field]
	}
	return 0
}

// Flush writes the counts not yet written, in one round trip per Redis node. Counts whose
// write did not reach Redis (a node away, a connection lost) are kept for the next Flush;
// a count Redis refused (its field is not a number) is dropped and logged, since writing
// it again would only fail again.
func (t *Tally) Flush(ctx context.Context) error {
	t.mu.Lock()
	out := t.pending
	t.pending = map[string]*hash{}
	t.mu.Unlock()
	if len(out) == 0 {
		return nil
	}
	type write struct {
		key, field string
		n          int64
		expire     time.Time
		cmd        *redis.IntCmd
	}
	var writes []write
	_, err := t.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for key, h := range out {
			for f, n := range h.fields {
				writes = append(writes, write{key, f, n, h.expire, p.HIncrBy(ctx, key, f, n)})
			}
			if !h.expire.IsZero() {
				p.PExpireAt(ctx, key, h.expire)
			}
		}
		return nil
	})
	if err == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, w := range writes {
		var refused redis.Error
		switch werr := w.cmd.Err(); {
		case werr == nil:
		case errors.As(werr, &refused):
			t.log.Error(t.what+": a count Redis refused is dropped", "key", w.key, "field", w.field, "n", w.n, "err", werr)
		default:
			t.add(w.key, w.field, w.n, w.expire)
		}
	}
	return err
}

// Run flushes every interval until ctx ends, then once more. A failed flush is logged;
// its counts wait for the next.
func (t *Tally) Run(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := t.Flush(fctx); err != nil {
				t.log.Warn(t.what+": the counts of the last second are lost", "err", err)
			}
			return
		case <-tick.C:
			if err := t.Flush(ctx); err != nil && ctx.Err() == nil {
				t.log.Warn(t.what+": could not write the counts; trying again", "err", err)
			}
		}
	}
}
