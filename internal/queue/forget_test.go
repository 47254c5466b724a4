package queue_test

import (
	"context"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/rapporthq/rapport/client"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/queue"
	"github.com/rapporthq/rapport/internal/redistest"
)

// An erased customer's events that failed for good leave the archive with them; other
// customers' stay.
func TestForgetArchivedDeletesOnlyTheCustomersFailedEvents(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	ctx := context.Background()
	insp := asynq.NewInspectorFromRedisClient(rdb)
	if n, err := queue.ForgetArchived(ctx, insp, "anna"); err != nil || n != 0 {
		t.Fatalf("with no events queue yet: %d, %v", n, err)
	}
	c := client.NewFromRedis(rdb)
	for _, ev := range []event.Event{
		{ID: "a1", Type: "signed.up", CustomerID: "anna", Customer: map[string]any{"email": "anna@example.com"}},
		{ID: "a2", Type: "order.placed", CustomerID: "anna", Data: map[string]any{"total": 5.0}},
		{ID: "b1", Type: "signed.up", CustomerID: "ben", Customer: map[string]any{"email": "ben@example.com"}},
		{ID: "a3", Type: "signed.up", CustomerID: "anna"}, // stays pending: the worker will drop it
	} {
		if _, err := c.Send(ctx, ev); err != nil {
			t.Fatal(err)
		}
		if ev.ID != "a3" {
			if err := insp.ArchiveTask(event.Queue, event.TaskID(ev.ID)); err != nil {
				t.Fatal(err)
			}
		}
	}
	n, err := queue.ForgetArchived(ctx, insp, "anna")
	if err != nil || n != 2 {
		t.Fatalf("ForgetArchived(anna) = %d, %v, want 2 deleted", n, err)
	}
	left, err := insp.ListArchivedTasks(event.Queue)
	if err != nil || len(left) != 1 || left[0].ID != event.TaskID("b1") {
		t.Fatalf("archive after erasing anna: %v, %v; want ben's event only", left, err)
	}
	if _, err := insp.GetTaskInfo(event.Queue, event.TaskID("a3")); err != nil {
		t.Fatalf("anna's pending event: %v; want it left to the worker", err)
	}
}
