package queue_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/channels/email"
	"github.com/rapporthq/rapport/client"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/queue"
	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/smtptest"
)

// BenchmarkBareAsynqGoMail is the yardstick for BenchmarkServeEmails in cmd/rapport: the
// same stack with no Rapport logic. Tasks are enqueued from 32 goroutines; an asynq
// server renders an html/template and sends through a go-mail pool of 32 connections into
// the in-process SMTP server. Compare the two in one run, never across runs.
//
//	go test -run '^$' -bench BareAsynqGoMail -benchtime 5000x ./internal/queue/
func BenchmarkBareAsynqGoMail(b *testing.B) {
	rdb, sink, smtp := emailStack(b)
	tmpl := template.Must(template.New("t").Parse(`<p>Hi {{ .Name }}, thank you for order {{ .Order }}.</p><ul>{{ range .Items }}<li>{{ . }}</li>{{ end }}</ul>`))

	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{Concurrency: 64, LogLevel: asynq.ErrorLevel})
	mux := asynq.NewServeMux()
	mux.HandleFunc("send", func(ctx context.Context, t *asynq.Task) error {
		var p struct {
			To, Name, Order string
			Items           []string
		}
		if err := json.Unmarshal(t.Payload(), &p); err != nil {
			return err
		}
		var body bytes.Buffer
		if err := tmpl.Execute(&body, p); err != nil {
			return err
		}
		_, err := smtp.Send(ctx, channels.Message{To: p.To, Subject: "Thank you", HTML: body.String(), Text: "Thank you"})
		return err
	})
	cl := asynq.NewClientFromRedisClient(rdb)
	b.ResetTimer()
	start := time.Now()
	if err := srv.Start(mux); err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown()
	produce(b, b.N, func(i int) error {
		payload, _ := json.Marshal(map[string]any{"To": fmt.Sprintf("c%d@example.com", i), "Name": "Anna",
			"Order": fmt.Sprintf("A-%d", i), "Items": []string{"Ethiopia Guji"}})
		_, err := cl.Enqueue(asynq.NewTask("send", payload))
		return err
	})
	reportEmails(b, sink, start)
}

// produce calls send for 0..n-1 from 32 goroutines, as a busy shop backend would.
func produce(tb testing.TB, n int, send func(i int) error) {
	var wg sync.WaitGroup
	jobs := make(chan int)
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := send(i); err != nil {
					tb.Error(err)
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
}

// emailStack is a private redis-server, an SMTP sink that only counts, and a go-mail
// pool of 32 connections into it.
func emailStack(b *testing.B) (*redis.Client, *smtptest.Server, *email.SMTP) {
	rs := redistest.Start(b)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr, PoolSize: 64})
	b.Cleanup(func() { rdb.Close() })
	sink := smtptest.Start(b, smtptest.WithoutKeeping())
	smtp, err := email.NewSMTP(email.SMTPConfig{Host: sink.Host, Port: sink.Port, TLS: "none", From: "Shop <hello@shop.example>", Pool: 32})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { smtp.Close() })
	return rdb, sink, smtp
}

// reportEmails waits for b.N emails at the sink and reports the rate since start.
func reportEmails(b *testing.B, sink *smtptest.Server, start time.Time) {
	deadline := time.Now().Add(5 * time.Minute)
	for sink.Count() < b.N {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d emails after 5 minutes", sink.Count(), b.N)
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "emails/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkRapportEmails is BenchmarkBareAsynqGoMail's workload through Rapport's own
// path, in process: events sent with the Go client, processed by the engine on an asynq
// worker, a one-step journey rendered from the shipped thank-you template and sent through
// the same SMTP pool. The ratio of the two is Rapport's overhead.
//
//	go test -run '^$' -bench 'BareAsynqGoMail|RapportEmails' -benchtime 5000x ./internal/queue/
func BenchmarkRapportEmails(b *testing.B) {
	rdb, sink, smtp := emailStack(b)
	eng := newEngineWith(b, rdb, "../../templates", channels.Set{"email": {Name: "email",
		Type: channels.Type{Name: "smtp", Kind: channels.KindEmail, AddressKey: "email"}, Channel: smtp}}, `
id: now
trigger: {event: order.placed}
steps:
  - send: {template: thank-you, channels: [email]}
`)
	w := queue.NewWorker(rdb, eng, queue.WorkerConfig{Concurrency: 64})
	cl := client.NewFromRedis(rdb)
	b.ResetTimer()
	start := time.Now()
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	defer w.Shutdown()
	produce(b, b.N, func(i int) error {
		_, err := cl.Send(context.Background(), event.Event{ID: fmt.Sprintf("e-%d-%d", b.N, i), Type: "order.placed",
			CustomerID: fmt.Sprintf("c-%d", i),
			Customer:   map[string]any{"email": fmt.Sprintf("c%d@example.com", i), "first_name": "Anna"},
			Data: map[string]any{"order_id": fmt.Sprintf("A-%d", i), "total": 59.9,
				"items": []any{map[string]any{"name": "Ethiopia Guji", "price": 19.9}}}})
		return err
	})
	reportEmails(b, sink, start)
}

// BenchmarkIntake sends events with the Go client from 32 goroutines and reports the
// intake rate and the Redis memory an event costs once processed: its task is kept for
// the 7-day dedup window, which is what makes ids idempotency keys.
//
//	go test -run '^$' -bench Intake -benchtime 20000x ./internal/queue/
func BenchmarkIntake(b *testing.B) {
	rs := redistest.Start(b)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr, PoolSize: 64})
	defer rdb.Close()
	eng := newEngineWith(b, rdb, "testdata/templates", channels.Set{}, `
id: unused
trigger: {event: never.sent}
steps:
  - send: {template: hello, channels: [preferred]}
`)
	cl := client.NewFromRedis(rdb)
	before := usedMemory(b, rdb)
	b.ResetTimer()
	start := time.Now()
	produce(b, b.N, func(i int) error {
		_, err := cl.Send(context.Background(), event.Event{ID: fmt.Sprintf("e-%d-%d", b.N, i), Type: "order.placed",
			CustomerID: fmt.Sprintf("c-%d", i%1000),
			Data: map[string]any{"order_id": fmt.Sprintf("A-%d", i), "total": 59.9,
				"items": []any{map[string]any{"name": "Ethiopia Guji", "price": 19.9}}}})
		return err
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	b.StopTimer()
	w := queue.NewWorker(rdb, eng, queue.WorkerConfig{Concurrency: 32})
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	insp := asynq.NewInspectorFromRedisClient(rdb)
	for {
		q, err := insp.GetQueueInfo(event.Queue)
		if err == nil && q.Completed == b.N {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	w.Shutdown()
	b.ReportMetric(float64(usedMemory(b, rdb)-before)/float64(b.N), "redis-bytes/event")
	b.ReportMetric(0, "ns/op")
}
