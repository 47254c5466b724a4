package stats_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/stats"
	"github.com/rapporthq/rapport/internal/store"
)

// BenchmarkReport reads /v1/stats's figures over 90 days with a year of counters and ten
// journeys in Redis, for 1 000 and for 1 000 000 customers. What the recorder keeps per
// customer (the facts hash: first event, latest NPS answer) is written for every one of
// them, as processing would leave it. The report reads nothing per customer, so both
// sizes should cost the same.
func BenchmarkReport(b *testing.B) {
	journeys := []string{"abandoned-cart", "birthday", "detractor-follow-up", "low-review-follow-up", "nps-survey",
		"promoter-referral", "review-request", "thank-you", "usage-tip", "win-back"}
	for _, n := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprintf("customers=%d", n), func(b *testing.B) {
			rdb := redistest.Start(b).Client(b)
			ctx := context.Background()
			populate(b, ctx, rdb, n, journeys)
			rec := stats.New(rdb, store.New(rdb), stats.Options{Now: func() time.Time { return now }})
			rep, err := rec.Report(ctx, 90, journeys)
			if err != nil {
				b.Fatal(err)
			}
			if rep.Customers != int64(n) {
				b.Fatalf("customers = %d, want %d", rep.Customers, n)
			}
			if size, err := rdb.DBSize(ctx).Result(); err != nil || size < int64(n) {
				b.Fatalf("%d keys in Redis, want one per customer at least: %v", size, err)
			}
			cmds0, out0 := serverStats(b, ctx, rdb)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := rec.Report(ctx, 90, journeys); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			cmds, out := serverStats(b, ctx, rdb)
			// Deterministic, unlike time on a shared machine: what Redis did per report
			// (the INFO call itself is one command and its own reply).
			b.ReportMetric(float64(cmds-cmds0-1)/float64(b.N), "redis-cmds/op")
			b.ReportMetric(float64(out-out0)/float64(b.N), "redis-bytes-out/op")
		})
	}
}

// populate writes the counters n customers leave after a year: every key the recorder
// keeps, with the shapes it gives them.
func populate(b *testing.B, ctx context.Context, rdb *redis.Client, n int, journeys []string) {
	b.Helper()
	const batch = 10_000
	for start := 0; start < n; start += batch {
		p := rdb.Pipeline()
		for i := start; i < start+batch && i < n; i++ {
			id := strconv.Itoa(i)
			p.HSet(ctx, "rapport:{c-"+id+"}:facts", "first_event", "e-"+id, "nps:id", "nps-"+id, "nps:at", now.UnixMilli(),
				"nps:v", "p", "nps:prev_id", "", "nps:prev_at", "", "nps:prev_v", "")
		}
		if _, err := p.Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
	p := rdb.Pipeline()
	p.HSet(ctx, "rapport:{stats}:totals", "customers", n, "buyers", n/2, "repeat_buyers", n/5, "orders", n, "revenue_cents", 4210*n)
	for m := 0; m < 24; m++ {
		month := now.AddDate(0, -m, 0).Format("2006-01")
		p.HSet(ctx, "rapport:{stats}:cohorts", month+":buyers", n/48, month+":returned_30d", n/200, month+":returned_90d", n/100)
	}
	for d := 0; d < 365; d++ {
		fields := []any{"nps:promoters", n / 1000, "nps:passives", n / 3000, "nps:detractors", n / 4000}
		for _, j := range journeys {
			fields = append(fields, "entered:"+j, n/500, "converted:"+j, n/5000, "revenue_cents:"+j, n*3)
		}
		p.HSet(ctx, "rapport:{stats}:day:"+now.AddDate(0, 0, -d).Format("2006-01-02"), fields...)
	}
	if _, err := p.Exec(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCountedBytesPerCustomer processes b.N customers the way the worker does (a
// first and a second order, one NPS answer, and an abandoned-cart enrolment that
// converts), after 500 such customers have filled the fixed keys (totals, cohorts, day
// hashes), and reports the Redis memory the counters add per customer: all of it while
// the week's duplicate markers live, and what stays after they expire. ns/op is the
// counting work of one such customer (three events, two enrolment changes).
func BenchmarkCountedBytesPerCustomer(b *testing.B) {
	rdb := redistest.Start(b).Client(b)
	ctx := context.Background()
	st := store.New(rdb)
	rec := stats.New(rdb, st, stats.Options{Now: func() time.Time { return now }})
	customer := func(c int) {
		cid := "customer-" + strconv.Itoa(c)
		for k, ev := range []event.Event{
			order(cid+"-o1", cid, "2026-10-01T10:00:00Z", 30),
			order(cid+"-o2", cid, "2026-10-20T10:00:00Z", 20),
			nps(cid+"-n", cid, "2026-11-10T10:00:00Z", (c%11+11)%11),
		} {
			a, err := st.ApplyEventChecking(ctx, ev, nil)
			if err != nil {
				b.Fatal(err)
			}
			if err := rec.Applied(ctx, ev, a); err != nil {
				b.Fatal(err)
			}
			if k == 1 {
				converted(ctx, rec, cid, ev)
			}
		}
	}
	for c := 0; c < 500; c++ {
		customer(-1 - c)
	}
	all0, markers0 := counterBytes(b, ctx, rdb)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		customer(i)
	}
	b.StopTimer()
	all, markers := counterBytes(b, ctx, rdb)
	b.ReportMetric(float64(all-all0)/float64(b.N), "bytes/customer")
	b.ReportMetric(float64((all-markers)-(all0-markers0))/float64(b.N), "bytes/customer-after-7d")
}

// counterBytes sums MEMORY USAGE over the recorder's keys and the facts kept per
// customer, and
// over the duplicate markers alone.
func counterBytes(b *testing.B, ctx context.Context, rdb *redis.Client) (all, markers int64) {
	for _, pattern := range []string{"rapport:{stats}:*", "rapport:{*}:facts"} {
		iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			n, err := rdb.MemoryUsage(ctx, iter.Val()).Result()
			if err != nil {
				b.Fatal(err)
			}
			all += n
			if strings.HasPrefix(iter.Val(), "rapport:{stats}:seen:") {
				markers += n
			}
		}
		if err := iter.Err(); err != nil {
			b.Fatal(err)
		}
	}
	return all, markers
}

func converted(ctx context.Context, rec *stats.Recorder, cid string, goal event.Event) {
	cart := env(event.Event{ID: cid + "-cart", Type: "cart.abandoned", CustomerID: cid, OccurredAt: goal.OccurredAt.Add(-time.Hour)})
	rec.Enrolment(ctx, engine.EnrolmentChange{Journey: "abandoned-cart", CustomerID: cid, Change: engine.Entered, Event: cart})
	rec.Enrolment(ctx, engine.EnrolmentChange{Journey: "abandoned-cart", CustomerID: cid, Change: engine.Exited, Event: env(goal)})
}

// serverStats reads how many commands Redis has processed and how many bytes it has
// sent.
func serverStats(b *testing.B, ctx context.Context, rdb *redis.Client) (cmds, out int64) {
	info, err := rdb.Info(ctx, "stats").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		k, v, _ := strings.Cut(line, ":")
		switch k {
		case "total_commands_processed":
			cmds, _ = strconv.ParseInt(v, 10, 64)
		case "total_net_output_bytes":
			out, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return cmds, out
}
