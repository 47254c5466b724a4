package queue

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/rapporthq/rapport/internal/engine"
)

// taskRuns records what the Observer hears of tasks.
type taskRuns struct {
	engine.NopObserver
	runs []engine.TaskRun
}

func (r *taskRuns) Task(_ context.Context, t engine.TaskRun) { r.runs = append(r.runs, t) }

func TestObservedTellsADeferredTaskFromAFailedOne(t *testing.T) {
	for _, c := range []struct {
		name     string
		err      error
		deferred bool
	}{
		{"a task that succeeded is not deferred", nil, false},
		{"a task that failed is not deferred", errors.New("smtp: 451"), false},
		{"a task of a newer format is deferred", fmt.Errorf("decode step: %w", engine.ErrUnknownFormat), true},
		{"a task of an unknown type is deferred", fmt.Errorf("%w: %q", ErrUnknownTaskType, "rapport:new"), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			obs := &taskRuns{}
			h := Observed(obs)(asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return c.err }))
			if err := h.ProcessTask(t.Context(), asynq.NewTask("rapport:step", nil)); !errors.Is(err, c.err) {
				t.Fatalf("the middleware returned %v, want the handler's %v", err, c.err)
			}
			if len(obs.runs) != 1 || obs.runs[0].Deferred != c.deferred || !errors.Is(obs.runs[0].Err, c.err) {
				t.Fatalf("observed %+v, want one run with Deferred %v and the handler's error", obs.runs, c.deferred)
			}
		})
	}
}
