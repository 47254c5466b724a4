package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/rapporthq/rapport/internal/queue"
	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/smtptest"
	"github.com/rapporthq/rapport/internal/testutil"
)

// newClusterSetup is newSetup on a real three-node Redis Cluster.
func newClusterSetup(t testing.TB, workflowsDir, extra string, smtpOpts ...smtptest.Option) (*setup, *redistest.Cluster) {
	t.Helper()
	cl := redistest.StartCluster(t)
	s := &setup{smtp: smtptest.Start(t, smtpOpts...), workflows: workflowsDir, addr: freeAddr(t)}
	s.config = filepath.Join(t.TempDir(), "rapport.yaml")
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`redis: {cluster: [%q]}
http: {addr: %q, base_url: "http://%s", api_tokens: [%q]}
secret: "a-test-secret-of-enough-length"
workflows: %q
templates: %q
channels:
  email: {type: smtp, host: %q, port: %d, from: "Shop <hello@shop.example>", tls: none, pool: 32}
%s`, cl.Addrs()[0], s.addr, s.addr, token, workflowsDir, filepath.Join(repo, "templates"), s.smtp.Host, s.smtp.Port, extra)
	if err := os.WriteFile(s.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return s, cl
}

// stepTasks counts the step tasks in every shard, by state.
func stepTasks(t *testing.T, insp *asynq.Inspector) (scheduled, waiting int) {
	t.Helper()
	for _, q := range queue.StepQueues(queue.DefaultClusterShards) {
		info, err := insp.GetQueueInfo(q)
		if err != nil {
			continue // a shard no task went to does not exist yet
		}
		scheduled += info.Scheduled
		waiting += info.Scheduled + info.Pending + info.Active + info.Retry
	}
	return scheduled, waiting
}

func TestOnARedisClusterJourneysRunAsOnOneRedis(t *testing.T) {
	dir, err := filepath.Abs("testdata/cluster")
	if err != nil {
		t.Fatal(err)
	}
	s, cl := newClusterSetup(t, dir, "worker: {concurrency: 8}\n")
	s.start(t, "api")
	worker := s.start(t, "worker")
	cc := cl.Client(t)
	insp := asynq.NewInspectorFromRedisClient(cc)

	const n = 12
	for i := 0; i < n; i++ {
		order := fmt.Sprintf(`{"id": "order-%d", "type": "order.placed", "customer_id": "o-%d",
		  "customer": {"email": "o%d@example.com", "first_name": "O"}, "data": {"order_id": "A-%d", "total": 5}}`, i, i, i, i)
		if code, body := s.post(t, "/v1/events", order); code != 202 {
			t.Fatalf("order %d = %d %v, want 202", i, code, body)
		}
		if code, body := s.post(t, "/v1/events", order); code != 200 || body["duplicate"] != true {
			t.Fatalf("order %d again = %d %v, want 200 duplicate", i, code, body)
		}
		signup := fmt.Sprintf(`{"id": "signup-%d", "type": "customer.signed_up", "customer_id": "s-%d",
		  "customer": {"email": "s%d@example.com", "first_name": "S"}}`, i, i, i)
		if code, body := s.post(t, "/v1/events", signup); code != 202 {
			t.Fatalf("signup %d = %d %v, want 202", i, code, body)
		}
	}
	// One signed-up customer reaches the goal: its scheduled step is cancelled.
	if code, _ := s.post(t, "/v1/events", `{"id": "goal-0", "type": "goal.reached", "customer_id": "s-0"}`); code != 202 {
		t.Fatal("goal event refused")
	}

	s.smtp.WaitFor(t, n, 20*time.Second) // the immediate thank-yous
	testutil.WaitFor(t, 10*time.Second, "the other signed-up customers' steps to be scheduled and the goal's cancelled", func() bool {
		scheduled, _ := stepTasks(t, insp)
		return scheduled == n-1
	})
	// The scheduled steps spread over more than one node of the cluster.
	nodes := map[string]bool{}
	for _, q := range queue.StepQueues(queue.DefaultClusterShards) {
		if info, err := insp.GetQueueInfo(q); err == nil && info.Scheduled > 0 {
			m, err := cc.MasterForKey(context.Background(), "asynq:{"+q+"}:scheduled")
			if err != nil {
				t.Fatal(err)
			}
			nodes[m.Options().Addr] = true
		}
	}
	if len(nodes) < 2 {
		t.Errorf("the scheduled steps live on %d node(s) %v, want them spread over at least 2", len(nodes), nodes)
	}

	// The journey counters reach Redis within a second of counting: once they are there,
	// killing the worker loses none of them.
	testutil.WaitFor(t, 10*time.Second, "the first worker's journey counts in Redis", func() bool {
		got := s.journeyStats(t)["later"]
		return got["entered"] == n && got["exited"] == 1
	})
	worker.kill()
	s.start(t, "worker")
	msgs := s.smtp.WaitFor(t, 2*n-1, 30*time.Second)
	testutil.WaitFor(t, 10*time.Second, "no step left", func() bool {
		_, waiting := stepTasks(t, insp)
		return waiting == 0
	})
	seen := map[string]int{}
	for _, m := range s.smtp.Messages() {
		seen[m.To[0]]++
	}
	for i := 0; i < n; i++ {
		want := 1
		if i == 0 {
			want = 0 // reached the goal before the step was due
		}
		if c := seen[fmt.Sprintf("o%d@example.com", i)]; c != 1 {
			t.Errorf("customer o-%d got %d thank-yous, want exactly 1", i, c)
		}
		if c := seen[fmt.Sprintf("s%d@example.com", i)]; c != want {
			t.Errorf("customer s-%d got %d messages, want %d", i, c, want)
		}
	}
	if len(msgs) != 2*n-1 {
		t.Errorf("%d messages, want %d", len(msgs), 2*n-1)
	}
	want := map[string]int64{"entered": n, "active": 0, "completed": n - 1, "exited": 1, "sent": n - 1, "capped": 0, "failed": 0}
	var got map[string]int64
	testutil.WaitFor(t, 10*time.Second, "the journey's stats", func() bool {
		got = s.journeyStats(t)["later"]
		return maps.Equal(got, want)
	})
}

// BenchmarkClusterNextToOneRedis runs BenchmarkServeEmails's flow (events posted in
// batches, a journey whose only step sends an email at once, an SMTP pool into an
// in-process server) on one redis-server and on a three-node Redis Cluster, in one run.
// All nodes share the machine, so the figure shows the cost of the cluster's routing,
// not the gain of more machines.
//
//	go test -run '^$' -bench ClusterNextToOneRedis -benchtime 3000x ./cmd/rapport/
func BenchmarkClusterNextToOneRedis(b *testing.B) {
	dir, err := filepath.Abs("testdata/bench")
	if err != nil {
		b.Fatal(err)
	}
	const extra = "worker: {concurrency: 64}\n"
	b.Run("one-redis", func(b *testing.B) {
		s := newSetup(b, dir, extra, smtptest.WithoutKeeping())
		s.start(b, "serve")
		emailsPerSecond(b, s)
	})
	b.Run("cluster-3", func(b *testing.B) {
		s, _ := newClusterSetup(b, dir, extra, smtptest.WithoutKeeping())
		s.start(b, "serve")
		emailsPerSecond(b, s)
	})
}

// emailsPerSecond posts b.N order events in batches and reports emails per second from
// the first POST to the last email received.
func emailsPerSecond(b *testing.B, s *setup) {
	const batch = 500
	b.ResetTimer()
	start := time.Now()
	for sent := 0; sent < b.N; sent += batch {
		var events []string
		for i := sent; i < sent+batch && i < b.N; i++ {
			events = append(events, fmt.Sprintf(`{"id": "b-%d-%d", "type": "order.placed", "customer_id": "c-%d",
			  "customer": {"email": "c%d@example.com", "first_name": "Anna"}, "data": {"order_id": "A-%d", "total": 59.9}}`,
				b.N, i, i, i, i))
		}
		if code, body := s.post(b, "/v1/events/batch", `{"events": [`+strings.Join(events, ",")+`]}`); code != 200 {
			b.Fatalf("batch = %d %v", code, body)
		}
	}
	deadline := time.Now().Add(5 * time.Minute)
	for s.smtp.Count() < b.N {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d emails after 5 minutes", s.smtp.Count(), b.N)
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "emails/s")
	b.ReportMetric(0, "ns/op")
}
