package engine

import (
	"context"
	"time"

	"github.com/rapporthq/rapport/workflows"
)

// Observer learns what the engine did: metrics, journey statistics and the like hang off
// this one seam. Each method is called once per fact, after it is recorded; it must be
// quick and safe for concurrent use, and it cannot fail the engine's work.
type Observer interface {
	// Outcome is called once per recorded outcome of a step's message.
	Outcome(ctx context.Context, o Observation)
	// Enrolment is called once when an enrolment starts or ends.
	Enrolment(ctx context.Context, c EnrolmentChange)
}

// Observation is one recorded outcome of a step's message.
type Observation struct {
	Journey, Step, CustomerID string
	// Channel is the channel the message went out on, or was stopped on; empty when
	// none was chosen.
	Channel string
	Outcome Outcome
	Reason  string
	// Due is when the step fell due, Ran when it ran.
	Due, Ran time.Time
	// SendDuration is how long the channel took; zero when nothing was sent.
	SendDuration time.Duration
	// ProviderID is the channel's own id of a sent message, when it gave one.
	ProviderID string
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

// Observers fans out to several observers in order.
type Observers []Observer

// Outcome calls every observer's Outcome.
func (os Observers) Outcome(ctx context.Context, o Observation) {
	for _, ob := range os {
		ob.Outcome(ctx, o)
	}
}

// Enrolment calls every observer's Enrolment.
func (os Observers) Enrolment(ctx context.Context, c EnrolmentChange) {
	for _, ob := range os {
		ob.Enrolment(ctx, c)
	}
}
