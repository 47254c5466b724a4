package queue_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/client"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/queue"
	"github.com/rapporthq/rapport/internal/redistest"
)

// These tests run the triggers on a real redis-server and a real asynq worker, with waits
// of seconds.

func startWorker(t *testing.T, eng *engine.Engine, rdb *redis.Client) {
	w := queue.NewWorker(rdb, eng, queue.WorkerConfig{Concurrency: 4, PollInterval: 200 * time.Millisecond})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
}

func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestASecondOrderRestartsTheInactivityClock(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	eng, sent := newEngine(t, rdb, `
id: win-back
trigger: {inactivity: {event: order.placed, after: 3s}}
exit_on: [order.placed]
steps:
  - send: {template: hello, channels: [email]}
`)
	startWorker(t, eng, rdb)
	ctx := context.Background()
	order := func(id string) {
		err := eng.HandleEvent(ctx, event.Event{ID: id, Type: "order.placed", CustomerID: "w", OccurredAt: time.Now(),
			Customer: map[string]any{"email": "w@x.example"}})
		if err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	order("o1")
	time.Sleep(1500 * time.Millisecond) // the customer orders again half-way through
	order("o2")
	eventually(t, 10*time.Second, "the win-back message", func() bool { return sent.to("w@x.example") == 1 })
	if took := time.Since(start); took < 4500*time.Millisecond {
		t.Fatalf("the nudge came %v after the first order: the second order did not restart the clock", took)
	}
	time.Sleep(time.Second)
	if n := sent.to("w@x.example"); n != 1 {
		t.Fatalf("%d nudges, want 1", n)
	}
}

func TestMovingABirthdayMovesItsTimer(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	fire := time.Now().In(tokyo).Add(5 * time.Second)
	if fire.Day() != time.Now().In(tokyo).Day() {
		t.Skip("too close to midnight in Tokyo")
	}
	today, tomorrow := fire.Format("01-02"), fire.AddDate(0, 0, 1).Format("01-02")
	eng, sent := newEngine(t, rdb, fmt.Sprintf(`
id: birthday
trigger: {date: customer.birthday, at: "%s"}
steps:
  - send: {template: hello, channels: [email]}
`, fire.Format("15:04:05")))
	startWorker(t, eng, rdb)
	profile := func(cid, day string) {
		err := eng.HandleEvent(context.Background(), event.Event{Type: "customer.updated", CustomerID: cid, OccurredAt: time.Now(),
			ID:       cid + day,
			Customer: map[string]any{"email": cid + "@x.example", "birthday": "1990-" + day, "timezone": "Asia/Tokyo"}})
		if err != nil {
			t.Fatal(err)
		}
	}
	profile("moved-in", tomorrow)
	profile("moved-in", today) // now it is today, in five seconds
	profile("moved-out", today)
	profile("moved-out", tomorrow) // no longer today

	eventually(t, 20*time.Second, "the greeting", func() bool { return sent.to("moved-in@x.example") == 1 })
	time.Sleep(time.Second)
	if n := sent.to("moved-out@x.example"); n != 0 {
		t.Fatalf("the customer whose birthday moved away was greeted %d times", n)
	}
	if n := sent.to("moved-in@x.example"); n != 1 {
		t.Fatalf("greeted %d times, want once", n)
	}
}

func TestAProcessedEventIDStaysADuplicateForSevenDays(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	eng, _ := newEngine(t, rdb, `
id: hello
trigger: {event: signed.up}
steps:
  - send: {template: hello, channels: [email]}
`)
	startWorker(t, eng, rdb)
	cl := client.NewFromRedis(rdb)
	ev := event.Event{ID: "evt-7", Type: "signed.up", CustomerID: "c", Customer: map[string]any{"email": "c@x.example"}}
	if _, err := cl.Send(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspectorFromRedisClient(rdb)
	var info *asynq.TaskInfo
	eventually(t, 10*time.Second, "the event to be processed", func() bool {
		var err error
		info, err = insp.GetTaskInfo(event.Queue, event.TaskID("evt-7"))
		return err == nil && info.State == asynq.TaskStateCompleted
	})
	if info.Retention != event.DedupWindow {
		t.Fatalf("a processed event is kept %v, want %v", info.Retention, event.DedupWindow)
	}
	if res, err := cl.Send(context.Background(), ev); err != nil || !res.Duplicate {
		t.Fatalf("the id again after processing: %+v, %v; want a duplicate", res, err)
	}
}
