package queue_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/queue"
	"github.com/rapporthq/rapport/internal/redistest"
)

func TestStepsSpreadOverShardsAndCancelFindsThem(t *testing.T) {
	rs := redistest.Start(t)
	rdb := rs.Client(t)
	s := queue.NewScheduler(rdb, queue.Shards(4))
	insp := asynq.NewInspectorFromRedisClient(rdb)
	ctx := context.Background()
	later := time.Now().Add(time.Hour)

	used := map[string]int{}
	for i := 0; i < 40; i++ {
		id := fmt.Sprintf("step:enrolment-%d:hello", i)
		task := engine.Task{Kind: engine.KindStep, ID: id, Payload: []byte(`{}`), At: later}
		if err := s.Schedule(ctx, task); err != nil {
			t.Fatal(err)
		}
		if err := s.Schedule(ctx, task); err != nil {
			t.Fatalf("scheduling %s again: %v, want no error and no second task", id, err)
		}
		q := queue.StepQueue(id, 4)
		if _, err := insp.GetTaskInfo(q, id); err != nil {
			t.Fatalf("%s is not in its queue %s: %v", id, q, err)
		}
		used[q]++
	}
	if len(used) != 4 {
		t.Fatalf("40 tasks used the queues %v, want all 4 shards", used)
	}
	for q, n := range used {
		if info, err := insp.GetQueueInfo(q); err != nil || info.Scheduled != n {
			t.Fatalf("queue %s holds %+v (%v), want %d scheduled: scheduling twice made a second task", q, info, err, n)
		}
	}

	for i := 0; i < 40; i++ {
		if err := s.Cancel(ctx, fmt.Sprintf("step:enrolment-%d:hello", i)); err != nil {
			t.Fatal(err)
		}
	}
	for q := range used {
		if info, err := insp.GetQueueInfo(q); err != nil || info.Scheduled != 0 {
			t.Fatalf("after Cancel queue %s holds %+v (%v), want nothing", q, info, err)
		}
	}

	// A task scheduled before the steps were sharded is still found.
	legacy := queue.NewScheduler(rdb)
	if err := legacy.Schedule(ctx, engine.Task{Kind: engine.KindStep, ID: "step:old:1", Payload: []byte(`{}`), At: later}); err != nil {
		t.Fatal(err)
	}
	if err := s.Cancel(ctx, "step:old:1"); err != nil {
		t.Fatal(err)
	}
	if info, err := insp.GetQueueInfo(queue.Steps); err != nil || info.Scheduled != 0 {
		t.Fatalf("the unsharded queue holds %+v (%v) after Cancel, want nothing", info, err)
	}
}

func TestOneShardIsThePlainStepsQueue(t *testing.T) {
	for _, n := range []int{0, 1} {
		if q := queue.StepQueue("step:x:1", n); q != queue.Steps {
			t.Errorf("StepQueue with %d shards = %q, want %q", n, q, queue.Steps)
		}
	}
	if qs := queue.StepQueues(3); len(qs) != 4 || qs[0] != queue.Steps || qs[3] != "steps:2" {
		t.Errorf("StepQueues(3) = %v, want steps and steps:0..2", qs)
	}
}
