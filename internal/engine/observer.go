package engine

import (
	"context"
	"time"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/internal/store"
	"github.com/rapporthq/rapport/workflows"
)

// Observer learns what Rapport did: metrics, journey statistics, the simulator's timeline
// and the like hang off this one seam. Each method is called once per fact, after it is
// recorded; it must be quick and safe for concurrent use, and it cannot fail the work.
//
// Embed NopObserver in an implementation so that a method added here later breaks none:
// it then hears nothing of the new fact until it says otherwise.
type Observer interface {
	// Outcome is called once per recorded outcome of a step's message.
	Outcome(ctx context.Context, o Observation)
	// Held is called once per step a policy held back (quiet hours), after it is
	// rescheduled; o.Until is when it runs again and o.Outcome is empty.
	Held(ctx context.Context, o Observation)
	// Enrolment is called once when an enrolment starts or ends.
	Enrolment(ctx context.Context, c EnrolmentChange)
	// Intake is called once per event the intake answered.
	Intake(ctx context.Context, r IntakeResult)
	// Task is called once per task the worker ran, with how long it took.
	Task(ctx context.Context, t TaskRun)
}

// NopObserver hears everything and does nothing. Embed it in an Observer to implement
// only the methods it cares about.
type NopObserver struct{}

// Outcome does nothing.
func (NopObserver) Outcome(context.Context, Observation) {}

// Held does nothing.
func (NopObserver) Held(context.Context, Observation) {}

// Enrolment does nothing.
func (NopObserver) Enrolment(context.Context, EnrolmentChange) {}

// Intake does nothing.
func (NopObserver) Intake(context.Context, IntakeResult) {}

// Task does nothing.
func (NopObserver) Task(context.Context, TaskRun) {}

// Observation is the facts of one step's message: a recorded outcome, or a hold.
type Observation struct {
	// MessageID is the message's id, stable for this step of this enrolment.
	MessageID                 string
	Journey, Step, CustomerID string
	// Template is the step's template; Variant the experiment's variant of it, empty
	// when the step runs no experiment.
	Template, Variant string
	// Channel is the channel the message went out on, or was stopped on; empty when
	// none was chosen.
	Channel string
	// Passed are the step's channels passed over before Channel, and why ("no address",
	// "unsubscribed", "blocked", "no template", "unknown channel", "no
	// preferred_channel", a channel's unreachable error, ...), in order.
	Passed []store.Passed
	// Outcome is what became of the message; empty for a hold.
	Outcome Outcome
	// Reason says why, in the words the customer's history records.
	Reason string
	// Err is the error behind a failed or uncertain outcome (a channel's, a render's),
	// when there was one.
	Err error
	// Until is when a held step runs again; zero for an outcome.
	Until time.Time
	// Due is when the step fell due, Ran when it ran.
	Due, Ran time.Time
	// SendDuration is how long the channel took; zero when nothing was sent.
	SendDuration time.Duration
	// ProviderID is the channel's own id of a sent message, when it gave one.
	ProviderID string
	// Message is what was handed to Channel (sent, uncertain, failed by the channel);
	// zero when nothing was.
	Message channels.Message
}

// EnrolmentChange is one enrolment starting or ending.
type EnrolmentChange struct {
	Journey, CustomerID string
	Change              Change
	// Event is the event behind the change: the enrolling event when Entered (a
	// synthetic date or inactivity event for those triggers), the goal event when
	// Exited; zero otherwise. Journey statistics date the change and find the revenue
	// of a converting order here.
	Event workflows.EventEnv
	// HeldOut is set when the customer is in the journey's holdout group.
	HeldOut bool
}

// Change is what happened to an enrolment.
type Change string

// The changes of an enrolment.
const (
	Entered   Change = "entered"   // enrolled
	Completed Change = "completed" // ran its last step
	Exited    Change = "exited"    // ended by a goal event (exit_on)
	Ended     Change = "ended"     // ended otherwise: replaced, erased, journey removed
)

// IntakeResult is what the intake answered to one posted event.
type IntakeResult string

// The intake's answers.
const (
	IntakeAccepted    IntakeResult = "accepted"    // durably queued
	IntakeDuplicate   IntakeResult = "duplicate"   // its id was seen before; nothing changed
	IntakeRejected    IntakeResult = "rejected"    // refused as invalid (400, 413)
	IntakeUnavailable IntakeResult = "unavailable" // not accepted: Redis could not be reached (503)
)

// TaskRun is one task the worker ran.
type TaskRun struct {
	// Type is the task's type, e.g. "rapport:step".
	Type string
	// Took is how long the handler ran.
	Took time.Duration
	// Err is the handler's error; nil when the task succeeded.
	Err error
	// Deferred says Err is no failure: the task is one this worker cannot read yet (a
	// newer worker's, during a rolling deploy) and waits for a worker that can.
	Deferred bool
}

// Observers fans out to several observers in order.
type Observers []Observer

// Outcome calls every observer's Outcome.
func (os Observers) Outcome(ctx context.Context, o Observation) {
	for _, ob := range os {
		ob.Outcome(ctx, o)
	}
}

// Held calls every observer's Held.
func (os Observers) Held(ctx context.Context, o Observation) {
	for _, ob := range os {
		ob.Held(ctx, o)
	}
}

// Enrolment calls every observer's Enrolment.
func (os Observers) Enrolment(ctx context.Context, c EnrolmentChange) {
	for _, ob := range os {
		ob.Enrolment(ctx, c)
	}
}

// Intake calls every observer's Intake.
func (os Observers) Intake(ctx context.Context, r IntakeResult) {
	for _, ob := range os {
		ob.Intake(ctx, r)
	}
}

// Task calls every observer's Task.
func (os Observers) Task(ctx context.Context, t TaskRun) {
	for _, ob := range os {
		ob.Task(ctx, t)
	}
}
