package engine

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/rapporthq/rapport/internal/store"
	"github.com/rapporthq/rapport/workflows"
)

// stepPayload is the payload of a step task.
type stepPayload struct {
	Journey   string `json:"j"`
	Customer  string `json:"c"`
	Enrolment string `json:"e"`
	Step      int    `json:"s"`
	// Due is when the step fell due (unix ms); the next step's wait counts from it, so
	// delays do not add up along a journey.
	Due int64 `json:"d"`
}

func stepTaskID(enrolment string, step int) string {
	return "step:" + enrolment + ":" + strconv.Itoa(step)
}

// scheduleStep schedules the enrolment's pending step under its task ID.
func (e *Engine) scheduleStep(ctx context.Context, en *store.Enrolment) error {
	payload, err := json.Marshal(pendingStep(en))
	if err != nil {
		return err
	}
	return e.cfg.Scheduler.Schedule(ctx, Task{Kind: KindStep, ID: en.Task, Payload: payload, At: en.Due})
}

func pendingStep(en *store.Enrolment) stepPayload {
	return stepPayload{Journey: en.Journey, Customer: en.CustomerID, Enrolment: en.ID, Step: en.Step, Due: en.Due.UnixMilli()}
}

// HandleStep runs one due step: if the enrolment is still at that step, it checks the
// step's condition, sends its message through the send pipeline, and schedules the next
// step or ends the enrolment. A stale task (the enrolment ended or moved on) does nothing.
//
// It returns an error only when the task should be retried: Redis trouble, or a temporary
// channel failure before the last attempt.
func (e *Engine) HandleStep(ctx context.Context, payload []byte, at Attempt) error {
	var p stepPayload
	if err := json.Unmarshal(payload, &p); err != nil {
		return permanent("step payload: %v", err)
	}
	state, err := e.cfg.Store.LoadStepState(ctx, p.Journey, p.Customer)
	if err != nil {
		return err
	}
	en := state.Enrolment
	switch {
	case en == nil || en.ID != p.Enrolment || en.Step < p.Step:
		return nil // ended, replaced or cancelled
	case en.Step > p.Step:
		// A previous attempt advanced the enrolment but may have died before scheduling
		// the next step; scheduling is idempotent, so make sure.
		return e.scheduleStep(ctx, en)
	}
	j, ok := e.Journeys().Get(p.Journey)
	if !ok || p.Step >= len(j.Steps) {
		e.log.Warn("journey or step no longer exists; enrolment ended", "journey", p.Journey, "customer", p.Customer, "step", p.Step)
		_, _, err := e.cfg.Store.End(ctx, p.Journey, p.Customer, en.ID)
		return err
	}
	step := &j.Steps[p.Step]
	d := &Delivery{
		Journey: j, Step: step, CustomerID: p.Customer, Customer: state.Profile, Consent: state.Consent,
		Event: decodeEvent(en.Event), MessageID: en.ID + "-" + strconv.Itoa(p.Step),
		Now: e.cfg.Clock.Now(), Attempt: at,
	}
	until, err := e.runStep(ctx, d)
	if err != nil {
		return err
	}
	if !until.IsZero() {
		return e.hold(ctx, en, p, until)
	}
	return e.advance(ctx, j, en, p)
}

// hold reschedules the step of p to run again at until, under a new task ID (the running
// task still holds the old one).
func (e *Engine) hold(ctx context.Context, en *store.Enrolment, p stepPayload, until time.Time) error {
	task := stepTaskID(en.ID, p.Step) + "@" + strconv.FormatInt(until.Unix(), 10)
	moved, err := e.cfg.Store.Advance(ctx, en.Journey, en.CustomerID, en.ID, p.Step, p.Step, until, task)
	if err != nil || !moved {
		return err
	}
	e.log.Debug("step held back", "journey", en.Journey, "customer", en.CustomerID, "step", p.Step, "until", until)
	en.Due, en.Task = until, task
	return e.scheduleStep(ctx, en)
}

// runStep checks the step's condition and sends. It returns a time when the step is held
// back until then, and an error only to ask for a retry.
func (e *Engine) runStep(ctx context.Context, d *Delivery) (time.Time, error) {
	env := workflows.Env{Event: d.Event, Customer: d.Customer, Now: d.Now}
	ok, err := d.Step.If.Eval(env)
	if err != nil {
		return time.Time{}, e.record(ctx, d, OutcomeFailed, "condition: "+err.Error())
	}
	if !ok {
		return time.Time{}, e.record(ctx, d, OutcomeSkipped, "condition is false")
	}
	return e.deliver(ctx, d)
}

// advance moves the enrolment past step p.Step: to the next step, due its wait after this
// one was due, or to its end.
func (e *Engine) advance(ctx context.Context, j *workflows.Journey, en *store.Enrolment, p stepPayload) error {
	next := p.Step + 1
	if next >= len(j.Steps) {
		_, _, err := e.cfg.Store.End(ctx, j.ID, en.CustomerID, en.ID)
		if err == nil {
			e.log.Debug("journey completed", "journey", j.ID, "customer", en.CustomerID)
		}
		return err
	}
	due := time.UnixMilli(p.Due).Add(j.Steps[next].Wait)
	moved, err := e.cfg.Store.Advance(ctx, j.ID, en.CustomerID, en.ID, p.Step, next, due, stepTaskID(en.ID, next))
	if err != nil || !moved {
		return err
	}
	en.Step, en.Due, en.Task = next, due, stepTaskID(en.ID, next)
	return e.scheduleStep(ctx, en)
}
