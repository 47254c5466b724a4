package queue_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/queue"
	"github.com/rapporthq/rapport/internal/redistest"
)

// TestATaskOfANewerWorkerIsRetriedNeverDropped: during a rolling deploy a newer worker
// may schedule a step in a newer payload format, or a task of a type this worker has no
// handler for. This worker retries both without counting a failure, so they are never
// archived (here with one retry allowed, and tried more often), and a newer worker takes
// them later.
func TestATaskOfANewerWorkerIsRetriedNeverDropped(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	eng := newEngineWith(t, rdb, "testdata/templates", channels.Set{}, `
id: hello
trigger: {event: signed.up}
steps:
  - send: {template: hello, channels: [email]}
`)
	w := queue.NewWorker(rdb, eng, queue.WorkerConfig{Concurrency: 2, PollInterval: 100 * time.Millisecond, RetryBase: 100 * time.Millisecond})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown()
	ctx := context.Background()
	client := asynq.NewClientFromRedisClient(rdb)
	tasks := map[string]*asynq.Task{
		"step:a1:s1": asynq.NewTask("rapport:step", []byte(`{"v":99,"j":"hello","c":"x"}`)),
		"future:1":   asynq.NewTask("rapport:from-the-future", []byte(`{}`)),
	}
	for id, task := range tasks {
		if _, err := client.Enqueue(task, asynq.Queue(queue.Steps), asynq.TaskID(id), asynq.MaxRetry(1)); err != nil {
			t.Fatal(err)
		}
	}
	insp := asynq.NewInspectorFromRedisClient(rdb)
	deadline := time.Now().Add(10 * time.Second)
	for id := range tasks {
		var first time.Time
		for {
			info, err := insp.GetTaskInfo(queue.Steps, id)
			if err != nil {
				t.Fatal(err)
			}
			if info.State == asynq.TaskStateArchived || info.Retried != 0 {
				t.Fatalf("task %s was counted as failed: %s, retried %d, %s", id, info.State, info.Retried, info.LastErr)
			}
			if info.LastErr != "" && !strings.Contains(info.LastErr, "unknown") && !strings.Contains(info.LastErr, "newer") {
				t.Fatalf("task %s failed with %q, want an unknown type or format", id, info.LastErr)
			}
			if !info.LastFailedAt.IsZero() {
				if first.IsZero() {
					first = info.LastFailedAt
				} else if !info.LastFailedAt.Equal(first) {
					break // tried twice, more than MaxRetry allows failures
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("task %s: %+v, want it tried twice and waiting to be retried", id, info)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !errors.Is(eng.HandleTimer(ctx, "timer:x:1", []byte(`{"v":2,"j":"hello","c":"x"}`)), engine.ErrUnknownFormat) {
		t.Fatal("a timer of a newer format is not ErrUnknownFormat")
	}
}
