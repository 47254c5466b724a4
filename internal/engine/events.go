package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/store"
	"github.com/rapporthq/rapport/workflows"
)

// HandleEvent processes one accepted event: it updates the profile, ends the enrolments the
// event is a goal of, enrols the customer where a trigger matches, and moves the customer's
// timers. Every part is idempotent, so a retried event changes nothing more.
func (e *Engine) HandleEvent(ctx context.Context, ev event.Event) error {
	if err := ev.Validate(); err != nil {
		return permanent("event %s: %v", ev.ID, err)
	}
	now := e.cfg.Clock.Now()
	if ev.OccurredAt.IsZero() {
		ev.OccurredAt = now
	}
	// The profile is updated and the addresses the event brings are looked up on the
	// suppression lists in one round trip.
	a, err := e.cfg.Store.ApplyEventChecking(ctx, ev, e.suppressionAddresses(ev.CustomerID, ev.Customer))
	if err != nil {
		return err
	}
	if a.Erased {
		e.log.Info("event of an erased customer dropped: it occurred before the erasure", "event", ev.ID,
			"type", ev.Type, "customer", ev.CustomerID)
		return nil
	}
	profile := a.Profile
	if err := e.applySuppression(ctx, ev.CustomerID, a.Suppressed); err != nil {
		return err
	}
	if e.cfg.Stats != nil {
		if err := e.cfg.Stats.Applied(ctx, ev, a); err != nil {
			return fmt.Errorf("count event %s: %w", ev.ID, err)
		}
	}
	set := e.Journeys()
	for _, j := range set.Exiting(ev.Type) {
		if err := e.exit(ctx, j, ev.CustomerID, eventEnv(ev)); err != nil {
			return err
		}
	}
	env := workflows.Env{Event: eventEnv(ev), Customer: profile, Now: now}
	for _, j := range set.Entering(ev.Type) {
		ok, err := j.Trigger.If.Eval(env)
		if err != nil {
			e.log.Warn("trigger condition failed", "journey", j.ID, "customer", ev.CustomerID, "err", err)
			continue
		}
		if ok {
			if err := e.enrol(ctx, j, ev.CustomerID, env); err != nil {
				return err
			}
		}
	}
	for _, j := range set.Inactivity(ev.Type) {
		if err := e.armInactivity(ctx, j, ev.CustomerID, ev.OccurredAt); err != nil {
			return err
		}
	}
	if len(ev.Customer) > 0 {
		for _, j := range set.Dated() {
			if err := e.armDate(ctx, j, ev.CustomerID, profile, now); err != nil {
				return err
			}
		}
	}
	return e.promote(ctx, ev, profile)
}

// eventEnv is the event as conditions and templates see it.
func eventEnv(ev event.Event) workflows.EventEnv {
	data := ev.Data
	if data == nil {
		data = map[string]any{}
	}
	return workflows.EventEnv{ID: ev.ID, Type: ev.Type, CustomerID: ev.CustomerID, OccurredAt: ev.OccurredAt.UTC(), Data: data}
}

// decodeEvent reads the enrolling event kept with an enrolment. A step whose event
// cannot be read fails for good rather than run with an empty event: its conditions
// and its message would read blanks.
func decodeEvent(raw json.RawMessage) (workflows.EventEnv, error) {
	var ev workflows.EventEnv
	if err := json.Unmarshal(raw, &ev); err != nil {
		return ev, permanent("the enrolling event: %v", err)
	}
	if ev.Data == nil {
		ev.Data = map[string]any{}
	}
	return ev, nil
}

// enrol starts the customer in journey j, triggered by env.Event at env.Now, and schedules
// the first step. The enrolment ID comes from the journey, customer and event, so a
// retried event finds its own enrolment and only makes sure the first step is scheduled.
func (e *Engine) enrol(ctx context.Context, j *workflows.Journey, cid string, env workflows.Env) error {
	ev, now := env.Event, env.Now
	raw, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode event of %s: %w", j.ID, err)
	}
	id := shortHash(j.ID, cid, ev.ID)
	first := j.Steps[0]
	due := now.Add(first.Wait)
	en := store.Enrolment{ID: id, Journey: j.ID, CustomerID: cid, StartedAt: now, Step: first.ID, Index: 0, Due: due,
		Task: stepTaskID(id, first.ID), Event: raw, Since: ev.OccurredAt}
	rule := store.Rule{ReenterAfter: j.ReenterAfter,
		Once: j.Trigger.OncePer.String(env)}
	// The enrolment keeps no copy of the event: the pending step's task carries it.
	kept := en
	kept.Event = nil
	outcome, replaced, err := e.cfg.Store.Enrol(ctx, kept, rule)
	if err != nil {
		return err
	}
	switch outcome {
	case store.Refused:
		e.log.Debug("not enrolled: already in journey", "journey", j.ID, "customer", cid)
		return nil
	case store.AlreadyStarted:
		cur, err := e.cfg.Store.Enrolment(ctx, j.ID, cid)
		if err != nil || cur == nil {
			return err
		}
		if len(cur.Event) == 0 {
			cur.Event = raw
		}
		return e.scheduleStep(ctx, cur)
	}
	if replaced != "" {
		e.cfg.Observer.Enrolment(ctx, EnrolmentChange{Journey: j.ID, CustomerID: cid, Change: Ended})
		if err := e.cfg.Scheduler.Cancel(ctx, replaced); err != nil {
			return err
		}
	}
	e.cfg.Observer.Enrolment(ctx, EnrolmentChange{Journey: j.ID, CustomerID: cid, Change: Entered, Event: ev,
		HeldOut: e.HeldOut(j, cid)})
	e.log.Debug("enrolled", "journey", j.ID, "customer", cid, "first_step", first.ID, "due", due)
	return e.startStep(ctx, &en, env)
}

// startStep runs a first step that is due already right here, sparing it a trip through
// the queue (a thank-you goes out while its order event is being processed). A step due
// later, or one whose send must be retried, goes to the scheduler; its send claim keeps
// it to one message either way.
//
// The enrolment, the event and the profile are in hand: the step runs on them, without
// encoding its own task payload, loading its state or decoding the event again.
func (e *Engine) startStep(ctx context.Context, en *store.Enrolment, env workflows.Env) error {
	if en.Due.After(e.cfg.Clock.Now()) {
		return e.scheduleStep(ctx, en)
	}
	first := Attempt{Retry: 0, MaxRetry: 1}
	var err error
	if e.reachable(en, env.Customer) {
		state := store.StepState{Enrolment: en, Profile: env.Customer}
		err = e.runPending(ctx, pendingStep(en), state, env.Event, first)
	} else {
		// The profile as this event left it has no address for the step: another event
		// of the customer's, processed at the same time, may be bringing one. The step
		// loads its state fresh, as a queued step does.
		var payload []byte
		if payload, err = pendingStep(en).marshal(); err != nil {
			return err
		}
		err = e.HandleStep(ctx, en.Task, payload, first)
	}
	if err != nil {
		e.log.Debug("immediate step goes to the queue", "journey", en.Journey, "customer", en.CustomerID, "err", err)
		at := en.Due
		var te *channels.TemporaryError
		if errors.As(err, &te) && te.RetryAfter > 0 {
			// The channel asked for a pause; queues keep whole seconds, so round up.
			at = e.cfg.Clock.Now().Add(te.RetryAfter + time.Second - time.Nanosecond).Truncate(time.Second)
		}
		return e.scheduleStepAt(ctx, en, at)
	}
	return nil
}

// reachable reports whether the profile has an address for one of the channels of the
// enrolment's pending step.
func (e *Engine) reachable(en *store.Enrolment, profile map[string]any) bool {
	snap := e.Snapshot()
	j, ok := snap.Journeys.Get(en.Journey)
	if !ok {
		return false
	}
	i, ok := j.StepIndex(en.Step)
	if !ok {
		return false
	}
	for _, name := range j.Steps[i].Send.Channels {
		if name == workflows.Preferred {
			name, _ = profile["preferred_channel"].(string)
		}
		if ch, ok := snap.Channels.Get(name); ok && address(ch.Type.AddressKey, &Delivery{CustomerID: en.CustomerID, Customer: profile}) != "" {
			return true
		}
	}
	return false
}

// exit ends the customer's enrolment in j, if its event came no later than the goal
// event, and cancels its pending step. The goal is remembered, so an enrolling event that
// occurred before it but is processed after it enrols no one.
func (e *Engine) exit(ctx context.Context, j *workflows.Journey, cid string, goal workflows.EventEnv) error {
	task, ended, err := e.cfg.Store.Exit(ctx, j.ID, cid, goal.OccurredAt)
	if err != nil || !ended {
		return err
	}
	e.log.Debug("enrolment ended", "journey", j.ID, "customer", cid, "reason", "goal event "+goal.Type)
	e.cfg.Observer.Enrolment(ctx, EnrolmentChange{Journey: j.ID, CustomerID: cid, Change: Exited, Event: goal,
		HeldOut: e.HeldOut(j, cid)})
	if task == "" {
		return nil
	}
	return e.cfg.Scheduler.Cancel(ctx, task)
}
