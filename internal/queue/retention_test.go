package queue_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/rapporthq/rapport/client"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/queue"
	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/store"
	"github.com/rapporthq/rapport/internal/testutil"
)

// TestProcessedEventsKeepTheirIDNotTheirData sends 1 200 events carrying an email and a
// name through the real intake and worker: once processed, no retained task holds the
// data any more, asynq still reads every task, and each id is still a duplicate.
func TestProcessedEventsKeepTheirIDNotTheirData(t *testing.T) {
	rs := redistest.Start(t)
	rdb := rs.Client(t)
	eng, _ := newEngine(t, rdb, `
id: hello
trigger: {event: signed.up}
steps:
  - {wait: 1d, send: {template: hello, channels: [email]}}
`)
	w := queue.NewWorker(rdb, eng, queue.WorkerConfig{Concurrency: 4, PollInterval: 200 * time.Millisecond})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	c := client.NewFromRedis(rdb)
	ctx := context.Background()
	const n = 1200 // more than one batch of the trimmer, many completed within one second
	for i := range n {
		_, err := c.Send(ctx, event.Event{ID: fmt.Sprintf("e%d", i), Type: "signed.up", CustomerID: fmt.Sprintf("c%d", i),
			Customer: map[string]any{"email": fmt.Sprintf("anna.%d@example.com", i), "first_name": "Annabel"}})
		if err != nil {
			t.Fatal(err)
		}
	}
	insp := asynq.NewInspectorFromRedisClient(rdb)
	testutil.WaitFor(t, 30*time.Second, "every event processed", func() bool {
		q, err := insp.GetQueueInfo(event.Queue)
		return err == nil && q.Completed == n
	})
	leftover := func() int {
		left := 0
		for i := range n {
			msg, err := rdb.HGet(ctx, "asynq:{events}:t:"+event.TaskID(fmt.Sprintf("e%d", i)), "msg").Result()
			if err != nil {
				t.Fatalf("event e%d: its retained task is gone: %v", i, err)
			}
			if strings.Contains(msg, "@example.com") || strings.Contains(msg, "Annabel") {
				left++
			}
		}
		return left
	}
	testutil.WaitFor(t, 15*time.Second, "no retained event holding an email or a name", func() bool { return leftover() == 0 })

	p, err := store.New(rdb).Profile(ctx, "c7")
	if err != nil || p["email"] != "anna.7@example.com" {
		t.Fatalf("profile of c7 = %v, %v: the events were trimmed before they were applied", p, err)
	}
	for _, i := range []int{0, 499, 500, n - 1} {
		id := fmt.Sprintf("e%d", i)
		info, err := insp.GetTaskInfo(event.Queue, event.TaskID(id))
		if err != nil || info.State != asynq.TaskStateCompleted || info.Type != event.TaskType {
			t.Fatalf("task of %s = %+v, %v: want a completed task asynq reads", id, info, err)
		}
		if ev, err := event.Unmarshal(info.Payload); err != nil || ev.ID != id || ev.Type != "signed.up" || ev.CustomerID != "" || ev.Customer != nil {
			t.Fatalf("payload of %s = %s, %v: want the id and type only", id, info.Payload, err)
		}
		res, err := c.Send(ctx, event.Event{ID: id, Type: "signed.up", CustomerID: "c"})
		if err != nil || !res.Duplicate {
			t.Fatalf("%s sent again: %+v, %v, want a duplicate", id, res, err)
		}
	}
	if q, _ := insp.GetQueueInfo(event.Queue); q.Completed != n || q.Pending != 0 {
		t.Fatalf("events queue %+v after the duplicates, want %d completed and none pending", q, n)
	}

	t.Run("a new worker goes on from the saved cursor", func(t *testing.T) {
		w.Shutdown()
		if err := rdb.Del(ctx, "rapport:trimmer").Err(); err != nil { // the old holder's lease ran out
			t.Fatal(err)
		}
		tr := queue.NewTrimmer(rdb, nil)
		if changed, err := tr.Trim(ctx); err != nil || changed != 0 {
			t.Fatalf("Trim on trimmed events = %d, %v, want 0 changed", changed, err)
		}
		if n, err := rdb.Exists(ctx, "rapport:trimmer").Result(); err != nil || n != 1 {
			t.Fatalf("the new trimmer holds no lease (%d, %v): it did not look", n, err)
		}
	})
}
