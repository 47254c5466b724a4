package queue

import (
	"context"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"

	"github.com/rapporthq/rapport/event"
)

// ForgetArchived deletes the customer's events that failed for good. asynq keeps those in
// the events queue's archive with their payload (the customer's attributes among it),
// for ops to look at and run again, for up to 90 days; an erased customer's must not stay
// there. Processed events need no such care: their payload is trimmed (see Trimmer). It
// reads the archive (asynq bounds it to 10 000 tasks) and returns how many it deleted.
func ForgetArchived(ctx context.Context, insp *asynq.Inspector, cid string) (int, error) {
	const pageSize = 1000
	var ids []string
	for page := 1; ; page++ {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		tasks, err := insp.ListArchivedTasks(event.Queue, asynq.Page(page), asynq.PageSize(pageSize))
		if errors.Is(err, asynq.ErrQueueNotFound) {
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("list failed events: %w", err)
		}
		for _, t := range tasks {
			if ev, err := event.Unmarshal(t.Payload); err == nil && ev.CustomerID == cid {
				ids = append(ids, t.ID)
			}
		}
		if len(tasks) < pageSize {
			break
		}
	}
	n := 0
	for _, id := range ids {
		err := insp.DeleteTask(event.Queue, id)
		if errors.Is(err, asynq.ErrTaskNotFound) {
			continue // run again or expired meanwhile
		}
		if err != nil {
			return n, fmt.Errorf("delete failed event %s: %w", id, err)
		}
		n++
	}
	return n, nil
}
