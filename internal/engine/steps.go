package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/rapporthq/rapport/internal/store"
	"github.com/rapporthq/rapport/workflows"
)

// stepPayload is a pending step: the payload of its task, and what the engine knows of it
// while running it. The payload carries only the journey, the customer and the enrolling
// event: the task's ID names the enrolment and the step (StepTaskID), and the enrolment
// keeps the step's index and due time, the header of a task due at no whole second too.
// Tasks scheduled by earlier versions carry e, s, i and d as well; those are read.
type stepPayload struct {
	// Format is the payload's format; zero is TaskFormat 1.
	Format   int    `json:"v,omitempty"`
	Journey  string `json:"j"`
	Customer string `json:"c"`
	// Enrolment and Step come from the task's ID.
	Enrolment string `json:"-"`
	// Step is the step's id; Index where it was in the journey, a hint for going on
	// when an edit removed the step. Both come from the enrolment.
	Step  string `json:"-"`
	Index int    `json:"-"`
	// Due is when the step fell due (unix ms); the next step's wait counts from it, so
	// delays do not add up along a journey. It comes from the enrolment.
	Due int64 `json:"-"`
	// Event is the enrolling event (JSON), carried from step to step by the pending
	// task rather than copied into the enrolment: one copy per pending step, as a bare
	// task would hold. Enrolments migrated from before keep it themselves.
	Event json.RawMessage `json:"ev,omitempty"`
}

// TaskFormat is the newest format of a step's or a timer's payload this build reads. A
// payload of a newer format (its "v") is retried later, never dropped, as
// ErrUnknownFormat: during a rolling deploy a newer worker takes it.
const TaskFormat = 1

// ErrUnknownFormat is returned, to be retried, for a task in a format this worker does
// not know.
var ErrUnknownFormat = errors.New("task format newer than this worker's")

// checkFormat returns ErrUnknownFormat for a payload format above TaskFormat.
func checkFormat(id string, v int) error {
	if v > TaskFormat {
		return fmt.Errorf("task %s of format %d: %w (%d)", id, v, ErrUnknownFormat, TaskFormat)
	}
	return nil
}

// marshal encodes p as its task's payload, without what the task's ID and the
// enrolment say.
func (p stepPayload) marshal() ([]byte, error) {
	return json.Marshal(stepPayload{Journey: p.Journey, Customer: p.Customer, Event: p.Event})
}

// decodeStep reads the payload of the step task id; the enrolment and the step come from
// the ID.
func decodeStep(id string, payload []byte) (stepPayload, error) {
	var p stepPayload
	if err := json.Unmarshal(payload, &p); err != nil {
		return p, permanent("step payload: %v", err)
	}
	if err := checkFormat(id, p.Format); err != nil {
		return p, err
	}
	var ok bool
	if p.Enrolment, p.Step, ok = store.ParseStepTaskID(id); !ok {
		return p, permanent("step task %q names no enrolment and step", id)
	}
	return p, nil
}

func stepTaskID(enrolment, step string) string { return store.StepTaskID(enrolment, step) }

// messageID is the stable id of a step's message in an enrolment.
func messageID(enrolment, step string) string { return enrolment + "-" + step }

// ErrUnknownJourney is returned, to be retried, for a step of a journey this worker has
// not loaded: during a rolling deploy another worker may know it already, and the
// enrolment must not end over it.
var ErrUnknownJourney = errors.New("journey not loaded in this worker")

// scheduleStep schedules the enrolment's pending step under its task ID, at its due time.
func (e *Engine) scheduleStep(ctx context.Context, en *store.Enrolment) error {
	return e.scheduleStepAt(ctx, en, en.Due)
}

// scheduleStepAt schedules the enrolment's pending step under its task ID, to run at at.
func (e *Engine) scheduleStepAt(ctx context.Context, en *store.Enrolment, at time.Time) error {
	payload, err := pendingStep(en).marshal()
	if err != nil {
		return err
	}
	return e.cfg.Scheduler.Schedule(ctx, Task{Kind: KindStep, ID: en.Task, Payload: payload, At: at})
}

func pendingStep(en *store.Enrolment) stepPayload {
	return stepPayload{Journey: en.Journey, Customer: en.CustomerID, Enrolment: en.ID, Step: en.Step, Index: en.Index,
		Due: en.Due.UnixMilli(), Event: en.Event}
}

// HandleStep runs one due step, the task id with payload: if the enrolment is still at that step, it checks the
// step's condition, sends its message through the send pipeline, and records the outcome
// together with the enrolment's move to the next step or its end. A stale task (the
// enrolment ended or moved on) does nothing. A step that an edit removed from its journey
// is recorded skipped and the journey goes on.
//
// It returns an error only when the task should be retried: Redis trouble, a temporary
// channel failure before the last attempt, another attempt sending the same message, or
// a journey this worker does not know (ErrUnknownJourney).
func (e *Engine) HandleStep(ctx context.Context, id string, payload []byte, at Attempt) error {
	p, err := decodeStep(id, payload)
	if err != nil {
		return err
	}
	msg := messageID(p.Enrolment, p.Step)
	state, err := e.cfg.Store.LoadStepState(ctx, p.Journey, p.Customer, msg)
	if err != nil {
		return err
	}
	en := state.Enrolment
	if en != nil && len(p.Event) > 0 {
		en.Event = p.Event // the task carries the event; older enrolments keep their own
	}
	switch {
	case en == nil || en.ID != p.Enrolment:
		return nil // ended, replaced or cancelled
	case en.Step != p.Step:
		// A previous attempt moved the enrolment on but may have died before scheduling
		// its next step; scheduling is idempotent, so make sure.
		return e.scheduleStep(ctx, en)
	}
	p.Index, p.Due = en.Index, en.Due.UnixMilli() // the enrolment keeps them
	ev, err := decodeEvent(en.Event)
	if err != nil {
		return fmt.Errorf("step %s of enrolment %s: %w", p.Step, en.ID, err)
	}
	return e.runPending(ctx, p, state, ev, at)
}

// runPending runs step p of the enrolment in state, which is at that step, enrolled by
// ev. state holds what LoadStepState loads; for a step run right after enrolling, only
// the enrolment and the profile (consent, blocked channels and the claim are checked
// again when Reserve takes the claim).
func (e *Engine) runPending(ctx context.Context, p stepPayload, state store.StepState, ev workflows.EventEnv, at Attempt) error {
	en := state.Enrolment
	snap := e.Snapshot()
	j, ok := snap.Journeys.Get(p.Journey)
	if !ok {
		return fmt.Errorf("step %s of %s: %w", p.Step, p.Journey, ErrUnknownJourney)
	}
	blocked := state.Blocked
	if blocked == nil {
		blocked = map[string]string{}
	}
	d := &Delivery{
		Journey: j, CustomerID: p.Customer, Customer: state.Profile, Consent: state.Consent,
		Event: ev, MessageID: messageID(p.Enrolment, p.Step), Now: e.cfg.Clock.Now(), Attempt: at,
		due: time.UnixMilli(p.Due), blocked: blocked, claim: state.Claim, event: en.Event, snap: snap,
	}
	i, ok := j.StepIndex(p.Step)
	if !ok {
		// Removed by an edit: the step now at its place comes next.
		d.Step = &workflows.Step{ID: p.Step, Index: p.Index}
		d.move = nextMove(j, en, p, p.Index)
		return e.record(ctx, d, OutcomeSkipped, "step removed from the journey")
	}
	d.Step = &j.Steps[i]
	d.move = nextMove(j, en, p, i+1)
	err := e.runStep(ctx, d)
	var h *held
	if errors.As(err, &h) {
		return e.hold(ctx, d, en, p, h)
	}
	return err
}

// nextMove is the move of en past step p to the journey's step at index next, due its
// wait after p was due, or to its end.
func nextMove(j *workflows.Journey, en *store.Enrolment, p stepPayload, next int) store.Move {
	m := store.Move{Journey: j.ID, CustomerID: en.CustomerID, Enrolment: en.ID, From: p.Step}
	if next >= 0 && next < len(j.Steps) {
		s := &j.Steps[next]
		m.To, m.Index, m.Due, m.Task = s.ID, next, time.UnixMilli(p.Due).Add(s.Wait), stepTaskID(en.ID, s.ID)
	}
	return m
}

// hold reschedules the step of p to run again when h says, under a new task ID (the
// running task still holds the old one), and tells the observer.
func (e *Engine) hold(ctx context.Context, d *Delivery, en *store.Enrolment, p stepPayload, h *held) error {
	task := stepTaskID(en.ID, p.Step) + "@" + strconv.FormatInt(h.until.Unix(), 10)
	m := store.Move{Journey: en.Journey, CustomerID: en.CustomerID, Enrolment: en.ID, From: p.Step, To: p.Step,
		Index: p.Index, Due: h.until, Task: task}
	r, err := e.cfg.Store.Advance(ctx, m)
	if err != nil || r != store.Advanced {
		return err
	}
	e.log.Debug("step held back", "journey", en.Journey, "customer", en.CustomerID, "step", p.Step, "until", h.until)
	ob := d.observation()
	ob.Reason, ob.Until = h.reason, h.until
	e.cfg.Observer.Held(ctx, ob)
	return e.moved(ctx, m, r, en.Event)
}

// runStep checks the step's condition and sends. It returns a *held when the step is
// held back, and any other error only to ask for a retry.
func (e *Engine) runStep(ctx context.Context, d *Delivery) error {
	if d.claim.State == store.ClaimDone {
		// An earlier attempt recorded this message: an enrolling event replayed after
		// its enrolment ended made the same enrolment again. Never twice.
		return e.moveOn(ctx, d)
	}
	env := workflows.Env{Event: d.Event, Customer: d.Customer, Now: d.Now}
	ok, err := d.Step.If.Eval(env)
	if err != nil {
		d.err = err
		return e.record(ctx, d, OutcomeFailed, "condition: "+err.Error())
	}
	if !ok {
		return e.record(ctx, d, OutcomeSkipped, "condition is false")
	}
	if d.Step.Send.Caps != workflows.CapsBypass && e.HeldOut(d.Journey, d.CustomerID) {
		// The control group: recorded where a message would have gone, nothing sent,
		// nothing counted towards the caps. Transactional steps go to both groups.
		return e.record(ctx, d, OutcomeHeldOut, "held out: the journey's control group gets no message")
	}
	return e.deliver(ctx, d)
}
