package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/internal/queue"
	"github.com/rapporthq/rapport/internal/testutil"
)

// BenchmarkRedisMemory measures what Rapport keeps in Redis: b.N customers sign up with a
// usual profile (email, name, locale, time zone, birthday) and each enrols in a journey
// whose step waits a day. It reports bytes per customer (every rapport:* key: profile,
// enrolment and the like) and bytes per pending step (asynq's task hash and its share of
// the scheduled set), from Redis's own MEMORY USAGE. The accepted events' idempotency
// markers, kept seven days, are not counted here.
//
//	go test -run '^$' -bench RedisMemory -benchtime 20000x ./cmd/rapport/
func BenchmarkRedisMemory(b *testing.B) {
	dir, err := filepath.Abs("testdata/memory")
	if err != nil {
		b.Fatal(err)
	}
	s := newSetup(b, dir, "worker: {concurrency: 32}\n")
	s.start(b, "serve")
	rdb := s.redis.Client(b)
	insp := asynq.NewInspectorFromRedisClient(rdb)

	const batch = 500
	for sent := 0; sent < b.N; sent += batch {
		var events []string
		for i := sent; i < sent+batch && i < b.N; i++ {
			events = append(events, fmt.Sprintf(`{"id": "m-%d-%d", "type": "customer.signed_up", "customer_id": "customer-%07d",
			  "customer": {"email": "customer%d@example.com", "first_name": "Anna", "locale": "en",
			               "timezone": "Europe/Berlin", "birthday": "1990-02-28"}}`, b.N, i, i, i))
		}
		if code, body := s.post(b, "/v1/events/batch", `{"events": [`+strings.Join(events, ",")+`]}`); code != 200 {
			b.Fatalf("batch = %d %v", code, body)
		}
	}
	testutil.WaitFor(b, 5*time.Minute, "every step to be scheduled", func() bool {
		q, err := insp.GetQueueInfo(queue.Steps)
		return err == nil && q.Scheduled == b.N
	})
	ctx := context.Background()
	customers := keyMemory(b, ctx, rdb, "rapport:*")
	steps := keyMemory(b, ctx, rdb, "asynq:{"+queue.Steps+"}:t:*") +
		rdb.MemoryUsage(ctx, "asynq:{"+queue.Steps+"}:scheduled").Val()
	b.ReportMetric(float64(customers)/float64(b.N), "bytes/customer")
	b.ReportMetric(float64(steps)/float64(b.N), "bytes/pending-step")
	b.ReportMetric(0, "ns/op")
}

// keyMemory sums MEMORY USAGE over the keys that match pattern.
func keyMemory(b *testing.B, ctx context.Context, rdb *redis.Client, pattern string) int64 {
	var total int64
	iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
	for iter.Next(ctx) {
		n, err := rdb.MemoryUsage(ctx, iter.Val(), 0).Result()
		if err != nil {
			b.Fatal(err)
		}
		total += n
	}
	if err := iter.Err(); err != nil {
		b.Fatal(err)
	}
	return total
}
