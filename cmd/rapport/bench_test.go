package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rapporthq/rapport/internal/smtptest"
)

// BenchmarkServeEmails measures one `rapport serve` process end to end: events posted in
// batches to its HTTP API, each enrolling the customer in a journey whose only step sends
// an email at once, through the SMTP pool into an in-process SMTP server. It reports
// emails per second from the first POST to the last email received.
//
//	go test -run '^$' -bench ServeEmails -benchtime 5000x ./cmd/rapport/
func BenchmarkServeEmails(b *testing.B) {
	dir, _ := filepath.Abs("testdata/bench")
	s := newSetup(b, dir, "worker: {concurrency: 64}\n", smtptest.WithoutKeeping())
	s.start(b, "serve")

	const batch = 1000
	b.ResetTimer()
	start := time.Now()
	for sent := 0; sent < b.N; sent += batch {
		var events []string
		for i := sent; i < sent+batch && i < b.N; i++ {
			events = append(events, fmt.Sprintf(`{"id": "b-%d-%d", "type": "order.placed", "customer_id": "c-%d",
			  "customer": {"email": "c%d@example.com", "first_name": "Anna"},
			  "data": {"order_id": "A-%d", "total": 59.9, "items": [{"name": "Ethiopia Guji", "category": "coffee", "price": 19.9}]}}`,
				b.N, i, i, i, i))
		}
		req, _ := http.NewRequest("POST", "http://"+s.addr+"/v1/events/batch", strings.NewReader(`{"events": [`+strings.Join(events, ",")+`]}`))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("batch: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	accepted := time.Since(start)
	deadline := time.Now().Add(5 * time.Minute)
	for s.smtp.Count() < b.N {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d emails after 5 minutes", s.smtp.Count(), b.N)
		}
		time.Sleep(10 * time.Millisecond)
	}
	took := time.Since(start)
	b.ReportMetric(float64(b.N)/took.Seconds(), "emails/s")
	b.ReportMetric(float64(b.N)/accepted.Seconds(), "events-accepted/s")
	b.ReportMetric(0, "ns/op")
}
