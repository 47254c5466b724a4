package queue_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/queue"
	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/store"
	"github.com/rapporthq/rapport/templates"
	"github.com/rapporthq/rapport/workflows"
)

// BenchmarkBirthdayTimers arms a birthday timer for each of many customers on a real
// redis-server, then lets a real asynq worker run while exactly ten of them fall due. It
// reports the Redis memory one armed customer costs and how much work the due window did:
// it must be the ten, not the whole population.
//
//	go test -run '^$' -bench BirthdayTimers -benchtime 1x ./internal/queue/   (100 000 customers)
func BenchmarkBirthdayTimers(b *testing.B) {
	customers := 100_000
	if v := os.Getenv("RAPPORT_BENCH_CUSTOMERS"); v != "" {
		customers, _ = strconv.Atoi(v)
	}
	for i := 0; i < b.N; i++ {
		runBirthdays(b, customers, 10)
	}
}

// TestADayOfTenBirthdaysDoesTenCustomersWorth is the same on a smaller population, so CI
// checks the claim on every run.
func TestADayOfTenBirthdaysDoesTenCustomersWorth(t *testing.T) {
	runBirthdays(t, 2_000, 10)
}

func runBirthdays(tb testing.TB, population, due int) {
	ctx := context.Background()
	srv := redistest.Start(tb)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 64})
	defer rdb.Close()

	// The journey fires five seconds from now in Tokyo; due customers have their birthday
	// today there, everyone else on another day of the year.
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	fire := time.Now().In(tokyo).Add(5 * time.Second)
	if fire.Day() != time.Now().In(tokyo).Day() {
		tb.Skip("too close to midnight in Tokyo")
	}
	eng, sent := newEngine(tb, rdb, fmt.Sprintf(`
id: birthday
trigger: {date: customer.birthday, at: "%s"}
steps:
  - send: {template: hello, channels: [email]}
`, fire.Format("15:04:05")))

	before := usedMemory(tb, rdb)
	today := fire.Format("01-02")
	other := fire.AddDate(0, 0, 100).Format("01-02")
	armStart := time.Now()
	produce(tb, population, func(i int) error {
		day := other
		if i < due {
			day = today
		}
		return eng.HandleEvent(ctx, event.Event{ID: "p-" + strconv.Itoa(i), Type: "customer.updated", CustomerID: "c-" + strconv.Itoa(i),
			OccurredAt: time.Now(),
			Customer:   map[string]any{"email": "c" + strconv.Itoa(i) + "@x.example", "birthday": "1990-" + day, "timezone": "Asia/Tokyo"}})
	})
	armTook := time.Since(armStart)
	perCustomer := float64(usedMemory(tb, rdb)-before) / float64(population)

	insp := asynq.NewInspectorFromRedisClient(rdb)
	q, err := insp.GetQueueInfo(queue.Steps)
	if err != nil || q.Scheduled != population {
		tb.Fatalf("%d timers scheduled (%v), want one per customer: %d", q.Scheduled, err, population)
	}
	calls := commandCalls(tb, rdb)
	w := queue.NewWorker(rdb, eng, queue.WorkerConfig{Concurrency: 10})
	if err := w.Start(); err != nil {
		tb.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for sent.Load() < int64(due) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	// Keep the worker polling a little longer, as it would all day.
	time.Sleep(2 * time.Second)
	w.Shutdown()
	window := commandCalls(tb, rdb) - calls

	if got := sent.Load(); got != int64(due) {
		tb.Fatalf("%d greetings sent, want %d", got, due)
	}
	q, _ = insp.GetQueueInfo(queue.Steps)
	// Every greeted customer's timer was re-armed for next year: still one each.
	if q.Scheduled != population {
		tb.Fatalf("%d timers scheduled after the day, want %d", q.Scheduled, population)
	}
	if b, ok := tb.(*testing.B); ok {
		b.ReportMetric(perCustomer, "redis-bytes/customer")
		b.ReportMetric(float64(window), "redis-calls/day-window")
		b.ReportMetric(float64(population)/armTook.Seconds(), "customers-armed/s")
		b.ReportMetric(0, "ns/op")
	}
	tb.Logf("population %d: %.0f Redis bytes per armed customer; %d Redis calls while %d of them fell due",
		population, perCustomer, window, due)
	if window > 5_000 {
		tb.Errorf("the due window made %d Redis calls: the work grows with the population", window)
	}
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

// counter is a channel that counts what it sends, per address.
type counter struct {
	mu   sync.Mutex
	sent map[string]int
	n    atomic.Int64
}

func (c *counter) Send(_ context.Context, m channels.Message) (channels.Receipt, error) {
	c.mu.Lock()
	c.sent[m.To]++
	c.mu.Unlock()
	c.n.Add(1)
	return channels.Receipt{}, nil
}

func (c *counter) Load() int64 { return c.n.Load() }

func (c *counter) to(addr string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent[addr]
}

// newEngine builds an engine on rdb with the given journeys, the asynq scheduler and a
// counting email channel.
func newEngine(tb testing.TB, rdb redis.UniversalClient, journeys ...string) (*engine.Engine, *counter) {
	sent := &counter{sent: map[string]int{}}
	set := channels.Set{"email": {Name: "email", Type: channels.Type{Name: "count", Kind: channels.KindEmail, AddressKey: "email"}, Channel: sent}}
	return newEngineWith(tb, rdb, "testdata/templates", set, journeys...), sent
}

func newEngineWith(tb testing.TB, rdb redis.UniversalClient, templateDir string, chans channels.Set, journeys ...string) *engine.Engine {
	tb.Helper()
	return newEngineClock(tb, rdb, templateDir, chans, nil, journeys...)
}

// newEngineClock is newEngineWith on the given clock (nil: the system clock).
func newEngineClock(tb testing.TB, rdb redis.UniversalClient, templateDir string, chans channels.Set, clock engine.Clock, journeys ...string) *engine.Engine {
	tb.Helper()
	dir := tb.TempDir()
	for i, j := range journeys {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("j%d.yaml", i)), []byte(j), 0o644)
	}
	tmpl, err := templates.Load(templateDir)
	if err != nil {
		tb.Fatal(err)
	}
	set, err := workflows.Load(dir, workflows.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	eng, err := engine.New(engine.Config{
		Store: store.New(rdb), Scheduler: queue.NewScheduler(rdb), Journeys: set, Templates: tmpl, Channels: chans,
		Clock:          clock,
		Backlog:        queue.NewEventBacklog(rdb), // as rapport serve runs it
		UnsubscribeURL: func(cid, ch string) string { return "https://r.example/unsubscribe/" + ch + "/" + cid },
	})
	if err != nil {
		tb.Fatal(err)
	}
	return eng
}

func usedMemory(tb testing.TB, rdb *redis.Client) int64 {
	return infoField(tb, rdb, "memory", "used_memory")
}

// commandCalls is the total number of commands Redis has run.
func commandCalls(tb testing.TB, rdb *redis.Client) int64 {
	return infoField(tb, rdb, "stats", "total_commands_processed")
}

func infoField(tb testing.TB, rdb *redis.Client, section, field string) int64 {
	info, err := rdb.Info(context.Background(), section).Result()
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	tb.Fatalf("no %s in INFO %s", field, section)
	return 0
}
