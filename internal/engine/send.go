package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/internal/duration"
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
	// OutcomeUncertain: the message was handed to its channel but whether it arrived is
	// unknown (the answer never came, or the worker died waiting for it); with
	// on_uncertain: skip it is not sent again.
	OutcomeUncertain Outcome = "uncertain"
	OutcomeFailed    Outcome = "failed"
)

// Delivery is one step's message on its way through the send pipeline:
// choose channel -> policies -> render -> reserve -> send -> commit. Each stage fills in
// more of it.
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
	// Passed lists the step's channels passed over so far, and why.
	Passed []store.Passed
	// Template is the template the message is rendered from: the step's, or its
	// variant's. Variant is the variant of a split step, "" otherwise.
	Template string
	Variant  string

	due     time.Time         // when the step fell due
	blocked map[string]string // channel -> digest of the address it is blocked at
	claim   store.Claim       // the message's claim as loaded
	event   json.RawMessage   // the enrolling event as the next step's task carries it
	token   string            // this attempt's claim token
	windows []store.Window    // the cap windows reserved with the claim
	move    store.Move        // where the enrolment goes once the outcome is recorded
	sent    channels.Receipt  // the channel's receipt
	took    time.Duration     // how long the channel took
	resent  string            // why this is a second send, if it is
	err     error             // the error behind a failed or uncertain outcome
	snap    *Snapshot         // the journeys, templates and channels the step runs with
	mode    workflows.UncertainMode
}

// Verdict is a policy's answer. The zero Verdict lets the message go on.
type Verdict struct {
	// Outcome, when set, stops the message and is recorded (e.g. OutcomeCapped).
	Outcome Outcome
	Reason  string
	// Until, when later than now, holds the step back until then (quiet hours): it is
	// rescheduled and runs the whole pipeline again.
	Until time.Time
	// Caps are cap windows the message must fit in. They are reserved together with the
	// message's claim in one step, so concurrent sends cannot pass one cap together; a
	// full one records the message capped.
	Caps []store.Window
}

// Policy is a check every message passes after its channel is chosen and before it is
// rendered and sent: frequency caps, quiet hours and the like plug in here.
type Policy interface {
	Check(ctx context.Context, d *Delivery) (Verdict, error)
}

// PolicyFunc adapts a function to the Policy interface.
type PolicyFunc func(ctx context.Context, d *Delivery) (Verdict, error)

// Check calls f(ctx, d).
func (f PolicyFunc) Check(ctx context.Context, d *Delivery) (Verdict, error) { return f(ctx, d) }

// passOver is the error kind of a channel that cannot reach the customer: the pipeline
// notes the channel passed over, and why, and tries the step's next channel.
type passOver struct{ channel, reason string }

func (p *passOver) Error() string { return "channel " + p.channel + " passed over: " + p.reason }

// held is the error kind of a step a policy holds back, like river's JobSnooze: it is
// rescheduled to run the whole pipeline again at until.
type held struct {
	until  time.Time
	reason string
}

func (h *held) Error() string {
	return "held back until " + h.until.Format(time.RFC3339) + ": " + h.reason
}

// deliver runs the send pipeline for d on the step's channels in order, falling back to
// the next one when a channel cannot reach the customer. It returns a *held when a
// policy holds the step back, and any other error only to ask for a retry.
func (e *Engine) deliver(ctx context.Context, d *Delivery) error {
	d.token = newToken()
	if err := e.choose(ctx, d); err != nil {
		return err
	}
	d.mode = d.Step.OnUncertain
	if d.mode == "" {
		d.mode = workflows.UncertainSkip
	}
	for _, name := range e.candidates(d) {
		err := e.try(ctx, d, name)
		var p *passOver
		if !errors.As(err, &p) {
			return err
		}
		d.pass(p.channel, p.reason)
	}
	d.Channel, d.Address = channels.Named{}, ""
	return e.record(ctx, d, OutcomeUnreachable, fmt.Sprintf("no channel of %v can reach the customer", d.Step.Send.Channels))
}

// candidates lists the step's channel names in order, preferred resolved and each once.
// A retry stays on the channel an earlier attempt of the message was on, if it can.
func (e *Engine) candidates(d *Delivery) []string {
	var out []string
	seen := map[string]bool{}
	add := func(name string) {
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	if c := d.claim; c.Channel != "" && c.State != store.ClaimFree {
		add(c.Channel)
	}
	for _, name := range d.Step.Send.Channels {
		if name == workflows.Preferred {
			p, _ := d.Customer["preferred_channel"].(string)
			if p == "" {
				d.pass(workflows.Preferred, "no preferred_channel")
				continue
			}
			name = p
		}
		add(name)
	}
	return out
}

func (d *Delivery) pass(channel, reason string) {
	d.Passed = append(d.Passed, store.Passed{Channel: channel, Reason: reason})
}

// route is a channel that can reach the customer, and their address on it.
type route struct {
	channel channels.Named
	address string
}

// usable returns the route to the customer on the channel, or a *passOver saying why
// there is none: the channel is configured, the customer did not unsubscribe from it,
// the profile has an address for its type that it is not blocked at, and the template
// has a version for its kind. Consent is assumed until the customer opts out (the soft
// opt-in of existing customers).
func (e *Engine) usable(d *Delivery, name string) (route, error) {
	ch, ok := d.snap.Channels.Get(name)
	why := func(reason string) (route, error) { return route{}, &passOver{channel: name, reason: reason} }
	if !ok {
		return why("unknown channel")
	}
	if subscribed, recorded := d.Consent[name]; recorded && !subscribed {
		return why("unsubscribed")
	}
	addr := address(ch.Type.AddressKey, d)
	switch {
	case addr == "":
		return why("no address")
	case d.blocked[name] != "" && d.blocked[name] == store.AddressDigest(addr):
		if store.BlockReason(d.blocked, name) == store.BlockedBounced {
			return why(store.BlockedBounced)
		}
		return why("blocked")
	case !d.snap.Templates.Has(d.Template, ch.Type.Kind):
		return why("no template")
	}
	return route{channel: ch, address: addr}, nil
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

// try runs the pipeline on one channel. It returns nil once the message's outcome is
// recorded, a *passOver when the channel cannot reach the customer and the next one
// should be tried, a *held when a policy holds the step back, and any other error to
// ask for a retry.
func (e *Engine) try(ctx context.Context, d *Delivery, name string) error {
	r, err := e.usable(d, name)
	if err != nil {
		return err
	}
	d.Channel, d.Address, d.windows = r.channel, r.address, nil
	for _, p := range e.cfg.Policies {
		v, err := p.Check(ctx, d)
		if err != nil {
			return err
		}
		if v.Until.After(d.Now) {
			return &held{until: v.Until, reason: v.Reason}
		}
		if v.Outcome != "" {
			return e.record(ctx, d, v.Outcome, v.Reason)
		}
		d.windows = append(d.windows, v.Caps...)
	}
	if err := e.render(d); err != nil {
		d.err = err
		return e.record(ctx, d, OutcomeFailed, err.Error())
	}
	if d.Message.WhatsApp != nil && e.cfg.FreeForm != nil && d.Message.Text != "" {
		free, err := e.cfg.FreeForm(ctx, name, r.address, d.Now)
		if err != nil {
			return err
		}
		if free {
			d.Message.WhatsApp = nil // inside the window: its text, free of template rules
		}
	}
	if err := e.name(ctx, d); err != nil {
		return err
	}
	res, err := e.cfg.Store.Reserve(ctx, store.Reservation{CustomerID: d.CustomerID, MessageID: d.MessageID,
		Token: d.token, Channel: name, Address: r.address, At: d.Now, Lease: e.cfg.SendLease, Windows: d.windows,
		Resend: d.mode == workflows.UncertainResend})
	if err != nil {
		return err
	}
	switch res.Status {
	case store.ReserveOK:
	case store.ReserveCapped:
		w := res.Full
		return e.record(ctx, d, OutcomeCapped, fmt.Sprintf("cap %s: %d per %s reached", w.Counter, w.Limit, duration.Format(w.Per)))
	case store.ReserveDone:
		return e.moveOn(ctx, d)
	case store.ReserveBusy:
		// Leases are wall-clock time (they time out processes, not journeys), so the
		// wait is too, whatever clock the engine runs on.
		wait := time.Until(res.Found.Lease) + time.Second
		e.log.Debug("another attempt is sending the message", "journey", d.Journey.ID, "step", d.Step.ID,
			"customer", d.CustomerID, "retry_in", wait)
		return &channels.TemporaryError{RetryAfter: wait,
			Err: fmt.Errorf("message %s is being sent by another attempt", d.MessageID)}
	case store.ReserveUnsubscribed, store.ReserveBlocked:
		return &passOver{channel: name, reason: string(res.Status)}
	case store.ReserveHanded:
		if c, ok := d.snap.Channels.Get(res.Found.Channel); ok {
			d.Channel = c
		}
		return e.settle(ctx, d, OutcomeUncertain,
			"an earlier attempt handed the message to its channel and died before the answer; not resent (on_uncertain: skip)")
	default:
		return fmt.Errorf("reserve message %s: unexpected answer %q", d.MessageID, res.Status)
	}
	switch {
	case res.Found.State == store.ClaimHanded:
		d.resent = "resent (on_uncertain: resend): an earlier attempt handed it over and died before the answer"
	case res.Found.Note != "":
		d.resent = res.Found.Note
	}
	return e.send(ctx, d)
}

// send hands the reserved message to its channel and settles the claim by the result.
// It returns what try does, never a *held.
func (e *Engine) send(ctx context.Context, d *Delivery) error {
	st := e.cfg.Store
	hctx := channels.WithHandOver(ctx, func(ctx context.Context) error {
		return st.HandOver(ctx, d.CustomerID, d.MessageID, d.token, e.cfg.SendLease)
	})
	start := time.Now()
	receipt, sendErr := d.Channel.Send(hctx, d.Message)
	d.took = time.Since(start)
	var unreachable *channels.UnreachableError
	var uncertain *channels.UncertainError
	switch {
	case sendErr == nil:
		d.sent = receipt
		return e.settle(ctx, d, OutcomeSent, d.resent)
	case errors.As(sendErr, &unreachable):
		// Nothing was delivered, and this address will not do: close the channel for
		// the customer at it and fall back to the next channel of the step at once.
		if err := e.release(ctx, d, "", true); err != nil {
			return err
		}
		d.blocked[d.Channel.Name] = store.AddressDigest(d.Address)
		e.log.Info("channel cannot reach the customer; falling back", "journey", d.Journey.ID, "step", d.Step.ID,
			"customer", d.CustomerID, "channel", d.Channel.Name, "err", sendErr)
		return &passOver{channel: d.Channel.Name, reason: sendErr.Error()}
	case errors.As(sendErr, &uncertain) && d.mode == workflows.UncertainResend && !d.Attempt.Last():
		if err := e.release(ctx, d, "resent (on_uncertain: resend) after an uncertain attempt: "+sendErr.Error(), false); err != nil {
			return err
		}
		e.log.Warn("send uncertain, will send again", "journey", d.Journey.ID, "step", d.Step.ID,
			"customer", d.CustomerID, "channel", d.Channel.Name, "err", sendErr)
		return channels.Temporary(sendErr)
	case errors.As(sendErr, &uncertain):
		d.err = sendErr
		return e.settle(ctx, d, OutcomeUncertain, sendErr.Error())
	case channels.IsTemporary(sendErr) && !d.Attempt.Last():
		if err := e.release(ctx, d, "", false); err != nil {
			return errors.Join(sendErr, err)
		}
		e.log.Warn("send failed, will retry", "journey", d.Journey.ID, "step", d.Step.ID,
			"customer", d.CustomerID, "channel", d.Channel.Name, "attempt", d.Attempt.Retry, "err", sendErr)
		return sendErr
	default:
		d.err = sendErr
		reason := sendErr.Error()
		if channels.IsTemporary(sendErr) {
			reason = fmt.Sprintf("gave up after %d retries: %v", d.Attempt.Retry, sendErr)
		}
		return e.settle(ctx, d, OutcomeFailed, reason)
	}
}

// release gives the claim and its cap windows back after a send that surely delivered
// nothing; block also closes the channel at the address. Another attempt owning the claim
// by now is no error: it will record the message.
func (e *Engine) release(ctx context.Context, d *Delivery, note string, block bool) error {
	r := store.Release{CustomerID: d.CustomerID, MessageID: d.MessageID, Token: d.token, Windows: d.windows,
		Note: note, Block: block, Channel: d.Channel.Name, Address: d.Address}
	_, err := persist(ctx, e.cfg.SendLease, func() (struct{}, error) { return struct{}{}, e.cfg.Store.Release(ctx, r) })
	if errors.Is(err, store.ErrClaimLost) {
		e.log.Warn("another attempt took the message over", "journey", d.Journey.ID, "step", d.Step.ID, "customer", d.CustomerID)
		return nil
	}
	return err
}

// render fills d.Message from the step's template in the customer's locale.
func (e *Engine) render(d *Delivery) error {
	locale, _ := d.Customer["locale"].(string)
	if locale == "" {
		locale = e.cfg.Locale
	}
	data := templates.NewData(templates.Input{CustomerID: d.CustomerID, Customer: d.Customer,
		Event: templates.Event{ID: d.Event.ID, Type: d.Event.Type, CustomerID: d.Event.CustomerID,
			OccurredAt: d.Event.OccurredAt, Data: d.Event.Data},
		Journey: templates.Journey{ID: d.Journey.ID, Name: d.Journey.Name}, Channel: d.Channel.Name,
		MessageID: d.MessageID, Locale: locale, Now: d.Now, UnsubscribeURL: e.cfg.UnsubscribeURL, FeedbackURL: e.cfg.FeedbackURL,
		PreferencesURL: e.cfg.PreferencesURL})
	if e.cfg.ClickURL != nil {
		ref := d.ref()
		data.Track = func(url string) string { return e.cfg.ClickURL(ref, url) }
	}
	r, err := d.snap.Templates.Render(d.Template, d.Channel.Type.Kind, locale, data)
	if err != nil {
		return fmt.Errorf("render %s: %w", d.Template, err)
	}
	d.Message = channels.Message{
		ID: d.MessageID, To: d.Address, CustomerID: d.CustomerID,
		Channel: d.Channel.Name, Customer: d.Customer,
		Subject: r.Subject, Preheader: r.Preheader, HTML: r.HTML, Text: r.Text, WhatsApp: r.WhatsApp,
		UnsubscribeURL: data.UnsubscribeURL,
		Meta:           map[string]string{"journey": d.Journey.ID, "step": d.Step.ID, "template": d.Template},
	}
	if d.Variant != "" {
		d.Message.Meta["variant"] = d.Variant
	}
	return nil
}

// name gives the rendered message what lets the channel's feedback find it: its return
// addresses and the ref its Message-ID carries.
func (e *Engine) name(ctx context.Context, d *Delivery) error {
	if e.cfg.Return == nil {
		return nil
	}
	r, err := e.cfg.Return(ctx, d.ref())
	if err != nil {
		return err
	}
	d.Message.Return = r
	return nil
}

// ref names d's message for what comes back of it.
func (d *Delivery) ref() store.Ref {
	return store.Ref{CustomerID: d.CustomerID, MessageID: d.MessageID, Channel: d.Channel.Name,
		Journey: d.Journey.ID, Step: d.Step.ID, Address: store.AddressDigest(d.Address)}
}

// record writes an outcome reached without the message's claim (skipped, capped,
// unreachable, a failed render) and moves the enrolment on.
func (e *Engine) record(ctx context.Context, d *Delivery, o Outcome, reason string) error {
	return e.write(ctx, d, o, reason, "")
}

// settle writes the outcome of a claimed message, marks its claim done and moves the
// enrolment on.
func (e *Engine) settle(ctx context.Context, d *Delivery, o Outcome, reason string) error {
	return e.write(ctx, d, o, reason, d.token)
}

// write is the one place outcomes are written: one script records the history line,
// settles the claim and moves the enrolment, retried while Redis is briefly away; then
// the observer hears of it once, and the next step is scheduled.
func (e *Engine) write(ctx context.Context, d *Delivery, o Outcome, reason, token string) error {
	rec := store.Record{At: d.Now, Journey: d.Journey.ID, Step: d.Step.ID, Template: d.Template, Variant: d.Variant,
		Channel: d.Channel.Name, Outcome: string(o), Reason: reason, Passed: d.Passed, MessageID: d.MessageID,
		ProviderID: d.sent.ProviderID}
	c := store.Commit{CustomerID: d.CustomerID, MessageID: d.MessageID, Token: token, Record: rec, Move: d.move}
	if o == OutcomeFailed {
		c.Free = d.windows // a message that surely did not go out does not count towards the caps
	}
	tries := 0
	res, err := persist(ctx, e.cfg.SendLease, func() (store.CommitResult, error) { tries++; return e.cfg.Store.Commit(ctx, c) })
	if errors.Is(err, store.ErrClaimLost) {
		e.log.Warn("another attempt took the message over; its outcome is theirs to record", "journey", d.Journey.ID,
			"step", d.Step.ID, "customer", d.CustomerID, "outcome", o)
		return nil
	}
	if err != nil {
		return err
	}
	if !res.Recorded && token == "" {
		if tries > 1 {
			// Perhaps an earlier try did record it and its answer was lost: a retry of
			// the task makes sure the next step is scheduled.
			return errors.New("record " + d.MessageID + ": interrupted; retrying to make sure the journey goes on")
		}
		return nil // the enrolment moved on meanwhile: this attempt was stale
	}
	// One line per message is for debugging; failures are for everyone. The history
	// keeps every outcome.
	level := e.log.Debug
	if o == OutcomeFailed || o == OutcomeUncertain {
		level = e.log.Warn
	}
	level("step "+string(o), "journey", d.Journey.ID, "step", d.Step.ID, "customer", d.CustomerID,
		"channel", d.Channel.Name, "reason", reason)
	ob := d.observation()
	ob.Outcome, ob.Reason, ob.Err, ob.ProviderID = o, reason, d.err, d.sent.ProviderID
	if token != "" {
		ob.SendDuration, ob.Message = d.took, d.Message
	}
	e.cfg.Observer.Outcome(ctx, ob)
	return e.moved(ctx, d.move, res.Move, d.event)
}

// observation is what an Observer learns of d as it stands.
func (d *Delivery) observation() Observation {
	tmpl := d.Template
	if tmpl == "" {
		tmpl = d.Step.Send.Template // recorded before a variant was chosen (held out, skipped)
	}
	return Observation{MessageID: d.MessageID, Journey: d.Journey.ID, Step: d.Step.ID, CustomerID: d.CustomerID,
		Template: tmpl, Variant: d.Variant, Channel: d.Channel.Name, Passed: append([]store.Passed(nil), d.Passed...),
		Due: d.due, Ran: d.Now}
}

// moveOn moves the enrolment past a message an earlier attempt recorded.
func (e *Engine) moveOn(ctx context.Context, d *Delivery) error {
	r, err := e.cfg.Store.Advance(ctx, d.move)
	if err != nil {
		return err
	}
	return e.moved(ctx, d.move, r, d.event)
}

// moved follows a move: the next step is scheduled, carrying the enrolling event, or the
// enrolment's end observed.
func (e *Engine) moved(ctx context.Context, m store.Move, r store.MoveResult, event json.RawMessage) error {
	switch r {
	case store.Advanced:
		return e.scheduleStep(ctx, &store.Enrolment{ID: m.Enrolment, Journey: m.Journey, CustomerID: m.CustomerID,
			Step: m.To, Index: m.Index, Due: m.Due, Task: m.Task, Event: event})
	case store.Ended:
		e.log.Debug("journey completed", "journey", m.Journey, "customer", m.CustomerID)
		e.cfg.Observer.Enrolment(ctx, EnrolmentChange{Journey: m.Journey, CustomerID: m.CustomerID, Change: Completed})
	}
	return nil
}

// persist runs f until it succeeds, f's answer is final (another attempt owns the
// claim), ctx ends or bound passes: a Redis that is briefly away (a restart, a failover)
// does not fail a message that was sent.
func persist[T any](ctx context.Context, bound time.Duration, f func() (T, error)) (T, error) {
	deadline := time.Now().Add(bound)
	wait := 20 * time.Millisecond
	for {
		v, err := f()
		if err == nil || errors.Is(err, store.ErrClaimLost) || ctx.Err() != nil || time.Now().After(deadline) {
			return v, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return v, err
		case <-t.C:
		}
		wait = min(2*wait, time.Second)
	}
}

// newToken is a random token for one attempt's claim.
func newToken() string {
	b := make([]byte, 12)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
