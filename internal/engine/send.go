package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/internal/store"
	"github.com/rapporthq/rapport/templates"
	"github.com/rapporthq/rapport/workflows"
)

// Outcome is what became of one step's message, as the customer's history records it.
type Outcome string

// The outcomes of a step.
const (
	OutcomeSent        Outcome = "sent"
	OutcomeSkipped     Outcome = "skipped"
	OutcomeCapped      Outcome = "capped"
	OutcomeUnreachable Outcome = "unreachable"
	OutcomeFailed      Outcome = "failed"
)

// Delivery is one step's message on its way through the send pipeline:
// choose channel -> policies -> render -> send -> record. Each stage fills in more of it.
type Delivery struct {
	Journey    *workflows.Journey
	Step       *workflows.Step
	CustomerID string
	Customer   map[string]any
	// Consent is the customer's recorded consent per channel name; a channel the
	// customer unsubscribed from is never chosen.
	Consent map[string]bool
	Event   workflows.EventEnv
	// MessageID is stable for this step of this enrolment.
	MessageID string
	Now       time.Time
	Attempt   Attempt

	// Channel and Address are set once a channel is chosen.
	Channel channels.Named
	Address string
	// Message is set once rendered.
	Message channels.Message
}

// Verdict is a policy's answer. The zero Verdict lets the message go on.
type Verdict struct {
	// Outcome, when set, stops the message and is recorded (e.g. OutcomeCapped).
	Outcome Outcome
	Reason  string
	// Until, when later than now, holds the step back until then (quiet hours): it is
	// rescheduled and runs the whole pipeline again.
	Until time.Time
}

// Policy is a check every message passes after its channel is chosen and before it is
// rendered and sent: frequency caps, quiet hours and the like plug in here.
type Policy interface {
	Check(ctx context.Context, d *Delivery) (Verdict, error)
}

// SentObserver is implemented by policies that need to know what was sent, such as
// frequency caps counting messages. Sent is called after every successful send.
type SentObserver interface {
	Sent(ctx context.Context, d *Delivery) error
}

// PolicyFunc adapts a function to the Policy interface.
type PolicyFunc func(ctx context.Context, d *Delivery) (Verdict, error)

// Check calls f(ctx, d).
func (f PolicyFunc) Check(ctx context.Context, d *Delivery) (Verdict, error) { return f(ctx, d) }

// deliver runs the send pipeline for d. It returns a time when a policy holds the step
// back until then, and an error only to ask for a retry.
func (e *Engine) deliver(ctx context.Context, d *Delivery) (time.Time, error) {
	if !e.chooseChannel(d) {
		return time.Time{}, e.record(ctx, d, OutcomeUnreachable, "no channel of "+fmt.Sprint(d.Step.Send.Channels)+" can reach the customer")
	}
	for _, p := range e.cfg.Policies {
		v, err := p.Check(ctx, d)
		if err != nil {
			return time.Time{}, err
		}
		if v.Until.After(d.Now) {
			return v.Until, nil
		}
		if v.Outcome != "" {
			return time.Time{}, e.record(ctx, d, v.Outcome, v.Reason)
		}
	}
	if err := e.render(d); err != nil {
		return time.Time{}, e.record(ctx, d, OutcomeFailed, err.Error())
	}
	return time.Time{}, e.send(ctx, d)
}

// chooseChannel picks the first channel of the step the customer can be reached on: the
// channel is configured, the customer has not unsubscribed from it, the profile has an
// address for its type, and the template has a version for its kind. Consent is assumed
// until the customer opts out (the soft opt-in of existing customers).
func (e *Engine) chooseChannel(d *Delivery) bool {
	for _, name := range d.Step.Send.Channels {
		if name == workflows.Preferred {
			name, _ = d.Customer["preferred_channel"].(string)
		}
		ch, ok := e.cfg.Channels.Get(name)
		if subscribed, recorded := d.Consent[name]; !ok || (recorded && !subscribed) {
			continue
		}
		addr := address(ch.Type.AddressKey, d)
		if addr == "" || !e.cfg.Templates.Has(d.Step.Send.Template, ch.Type.Kind) {
			continue
		}
		d.Channel, d.Address = ch, addr
		return true
	}
	return false
}

func address(key string, d *Delivery) string {
	if key == "customer_id" {
		return d.CustomerID
	}
	switch v := d.Customer[key].(type) {
	case string:
		return v
	case float64: // a chat id or phone sent as a JSON number
		return fmt.Sprintf("%.0f", v)
	}
	return ""
}

// render fills d.Message from the step's template in the customer's locale.
func (e *Engine) render(d *Delivery) error {
	locale, _ := d.Customer["locale"].(string)
	if locale == "" {
		locale = e.cfg.Locale
	}
	unsub := ""
	if e.cfg.UnsubscribeURL != nil {
		unsub = e.cfg.UnsubscribeURL(d.CustomerID, d.Channel.Name)
	}
	data := templates.Data{
		Customer: d.Customer,
		Event: map[string]any{"id": d.Event.ID, "type": d.Event.Type, "customer_id": d.Event.CustomerID,
			"occurred_at": d.Event.OccurredAt, "data": d.Event.Data},
		Journey:        templates.Journey{ID: d.Journey.ID, Name: d.Journey.Name},
		Now:            d.Now,
		UnsubscribeURL: unsub,
	}
	if e.cfg.FeedbackURL != nil {
		data.FeedbackURL = e.cfg.FeedbackURL(d.CustomerID, locale)
	}
	r, err := e.cfg.Templates.Render(d.Step.Send.Template, d.Channel.Type.Kind, locale, data)
	if err != nil {
		return fmt.Errorf("render %s: %w", d.Step.Send.Template, err)
	}
	d.Message = channels.Message{
		ID: d.MessageID, To: d.Address, CustomerID: d.CustomerID,
		Subject: r.Subject, Preheader: r.Preheader, HTML: r.HTML, Text: r.Text,
		UnsubscribeURL: unsub,
		Meta:           map[string]string{"journey": d.Journey.ID, "step": d.Step.ID, "template": d.Step.Send.Template},
	}
	return nil
}

// send hands the message to its channel at most once: a claim in Redis is taken before
// the send and settled with the record after it, so a retried task never sends twice.
func (e *Engine) send(ctx context.Context, d *Delivery) error {
	st := e.cfg.Store
	claimed, state, err := st.ClaimSend(ctx, d.MessageID)
	if err != nil {
		return err
	}
	if !claimed {
		if state == store.ClaimDone {
			return nil // sent (or failed for good) by an earlier attempt, already recorded
		}
		// An earlier attempt died while sending: the message may have gone out. Sending
		// again could make a duplicate, so record it instead.
		return e.settle(ctx, d, OutcomeFailed, "interrupted while sending; not resent to avoid a duplicate")
	}
	_, sendErr := d.Channel.Send(ctx, d.Message)
	switch {
	case sendErr == nil:
		for _, p := range e.cfg.Policies {
			if o, ok := p.(SentObserver); ok {
				if err := o.Sent(ctx, d); err != nil {
					e.log.Warn("a policy could not count a sent message", "customer", d.CustomerID, "err", err)
				}
			}
		}
		return e.settle(ctx, d, OutcomeSent, "")
	case channels.IsTemporary(sendErr) && !d.Attempt.Last():
		if err := st.ReleaseSend(ctx, d.MessageID); err != nil {
			return errors.Join(sendErr, err)
		}
		e.log.Warn("send failed, will retry", "journey", d.Journey.ID, "step", d.Step.ID,
			"customer", d.CustomerID, "channel", d.Channel.Name, "attempt", d.Attempt.Retry, "err", sendErr)
		return sendErr
	case channels.IsTemporary(sendErr):
		return e.settle(ctx, d, OutcomeFailed, fmt.Sprintf("gave up after %d retries: %v", d.Attempt.Retry, sendErr))
	default:
		return e.settle(ctx, d, OutcomeFailed, sendErr.Error())
	}
}

// record writes the step's outcome to the customer's history and, for failures, the log.
func (e *Engine) record(ctx context.Context, d *Delivery, o Outcome, reason string) error {
	return e.write(ctx, d, o, reason, "")
}

// settle records the outcome of a claimed send and settles its claim, in one transaction.
func (e *Engine) settle(ctx context.Context, d *Delivery, o Outcome, reason string) error {
	return e.write(ctx, d, o, reason, d.MessageID)
}

func (e *Engine) write(ctx context.Context, d *Delivery, o Outcome, reason, claim string) error {
	r := store.Record{At: d.Now, Journey: d.Journey.ID, Step: d.Step.ID, Template: d.Step.Send.Template,
		Channel: d.Channel.Name, Outcome: string(o), Reason: reason, MessageID: d.MessageID}
	// One line per message is for debugging; failures are for everyone. The history
	// keeps every outcome.
	level := e.log.Debug
	if o == OutcomeFailed {
		level = e.log.Warn
	}
	level("step "+string(o), "journey", d.Journey.ID, "step", d.Step.ID, "customer", d.CustomerID,
		"channel", d.Channel.Name, "reason", reason)
	return e.cfg.Store.AddRecord(ctx, d.CustomerID, r, claim)
}
