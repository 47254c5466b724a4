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
	"github.com/rapporthq/rapport/internal/store"
	"github.com/rapporthq/rapport/internal/testutil"
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

// drained waits until every step and timer task due by until has run: none is pending,
// running or waiting for a retry, and none is scheduled for until or earlier. After it,
// nothing due by until will be sent any more.
func drained(t *testing.T, rdb *redis.Client, until time.Time) {
	t.Helper()
	insp := asynq.NewInspectorFromRedisClient(rdb)
	testutil.WaitFor(t, 20*time.Second, "every step and timer due by "+until.Format(time.StampMilli)+" to have run", func() bool {
		q, err := insp.GetQueueInfo(queue.Steps)
		if err != nil || q.Pending+q.Active+q.Retry != 0 {
			return false
		}
		scheduled, err := insp.ListScheduledTasks(queue.Steps)
		if err != nil {
			return false
		}
		for _, task := range scheduled {
			if !task.NextProcessAt.After(until) {
				return false
			}
		}
		return true
	})
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
	order := func(id string, at time.Time) {
		err := eng.HandleEvent(ctx, event.Event{ID: id, Type: "order.placed", CustomerID: "w", OccurredAt: at,
			Customer: map[string]any{"email": "w@x.example"}})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The customer orders again half-way through: the clock runs from the second order,
	// to the whole second (timers keep whole seconds and never fire early).
	first := time.Now().Truncate(time.Second)
	second := first.Add(1500 * time.Millisecond)
	order("o1", first)
	order("o2", second)
	due := first.Add(5 * time.Second)
	st := store.New(rdb)
	if at, err := st.Timer(ctx, "win-back", "w"); err != nil || !at.Equal(due) {
		t.Fatalf("timer = %v, %v; want %v, 3s after the second order", at, err, due)
	}
	testutil.WaitFor(t, 20*time.Second, "the win-back message", func() bool { return sent.to("w@x.example") == 1 })
	drained(t, rdb, due.Add(time.Minute))
	if n := sent.to("w@x.example"); n != 1 {
		t.Fatalf("%d nudges, want 1: the first order's timer fired too", n)
	}
	h, err := st.History(ctx, "w")
	if err != nil || len(h) != 1 || h[0].Journey != "win-back" {
		t.Fatalf("history = %+v, %v; want the one nudge", h, err)
	}
	if h[0].At.Before(due) {
		t.Fatalf("the nudge went out at %s, before the clock the second order restarted ran out at %s",
			h[0].At.Format(time.StampMilli), due.Format(time.StampMilli))
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

	testutil.WaitFor(t, 20*time.Second, "the greeting", func() bool { return sent.to("moved-in@x.example") == 1 })
	drained(t, rdb, fire.Add(time.Minute)) // the moved-out greeting would be due at fire
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
	testutil.WaitFor(t, 10*time.Second, "the event to be processed", func() bool {
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

// An inactivity timer that falls due while a newer order still waits in the events
// queue (a backlog longer than the journey's after) must not tell that customer they
// have been quiet. The queue is paused to hold the order, so the order of things is
// fixed: the timer falls due with the order waiting, then the order is processed.
func TestAnInactivityTimerWaitsForAnOrderStillInTheQueue(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	eng, sent := newEngine(t, rdb, `
id: win-back
trigger: {inactivity: {event: order.placed, after: 2s}}
exit_on: [order.placed]
steps:
  - send: {template: hello, channels: [email]}
`)
	startWorker(t, eng, rdb)
	ctx := context.Background()
	st := store.New(rdb)
	c := client.NewFromRedis(rdb)
	insp := asynq.NewInspectorFromRedisClient(rdb)
	order := func(id string) {
		if _, err := c.Send(ctx, event.Event{ID: id, Type: "order.placed", CustomerID: "w",
			Customer: map[string]any{"email": "w@x.example"}}); err != nil {
			t.Fatal(err)
		}
	}
	timer := func() time.Time {
		due, err := st.Timer(ctx, "win-back", "w")
		if err != nil {
			t.Fatal(err)
		}
		return due
	}

	order("o1")
	testutil.WaitFor(t, 10*time.Second, "the first order's timer", func() bool { return !timer().IsZero() })
	first := timer()
	if err := insp.PauseQueue(event.Queue); err != nil {
		t.Fatal(err)
	}
	order("o2") // accepted before the timer falls due, and held in the queue
	testutil.WaitFor(t, 10*time.Second, "the first timer to fall due", func() bool {
		return sent.to("w@x.example") > 0 || !timer().Equal(first)
	})
	if n := sent.to("w@x.example"); n != 0 {
		t.Fatalf("%d win-back messages while the customer's newer order waited in the queue", n)
	}
	if err := insp.UnpauseQueue(event.Queue); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 15*time.Second, "the win-back message after the second order, and its timer cleared", func() bool {
		return sent.to("w@x.example") > 0 && timer().IsZero()
	})
	if n := sent.to("w@x.example"); n != 1 {
		t.Fatalf("%d win-back messages after the second order, want 1", n)
	}
}
