package bench

import (
	"context"
	"testing"

	"github.com/rapporthq/rapport/internal/redistest"
)

// BenchmarkDelivery is the delivery section alone, Rapport and bare once each, with b.N
// emails, for profiling the path from event to email:
//
//	go test -run '^$' -bench Delivery -benchtime 5000x -cpuprofile cpu.out ./internal/bench/
func BenchmarkDelivery(b *testing.B) {
	rs := redistest.Start(b)
	res, err := Run(context.Background(), Config{RedisURL: rs.URL(), Templates: "../../templates", Reps: 1,
		Emails: b.N, Only: []string{"delivery"}})
	if err != nil {
		b.Fatal(err)
	}
	d := res.Delivery
	b.ReportMetric(d.EmailsPerS.Rapport, "emails/s")
	b.ReportMetric(d.EmailsPerS.Bare, "bare-emails/s")
	b.ReportMetric(d.Ratio, "ratio")
	b.ReportMetric(d.GoCPUMicros.Rapport, "go-µs/email")
	b.ReportMetric(d.RedisCalls.Rapport, "redis-calls/email")
	b.ReportMetric(0, "ns/op")
}
