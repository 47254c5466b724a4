package sim

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/workflows"
)

// Kind says what a timeline entry is about.
type Kind string

// The kinds of timeline entries.
const (
	// KindEvent is an event taken in (Reason says when it was a duplicate).
	KindEvent Kind = "event"
	// KindMessage is a step's recorded outcome: sent, skipped, capped, unreachable or
	// failed.
	KindMessage Kind = "message"
	// KindHeld is a step a policy held back (quiet hours) until Until.
	KindHeld Kind = "held"
	// KindEnrolment is an enrolment starting (Outcome entered) or ending early (exited:
	// by a goal event; ended: replaced, erased).
	KindEnrolment Kind = "enrolment"
	// KindError is a task or event that failed for good.
	KindError Kind = "error"
)

// OutcomeHeld is the Outcome of a KindHeld entry.
const OutcomeHeld = "held"

// Entry is one line of a simulation's timeline.
type Entry struct {
	At       time.Time
	Kind     Kind
	Customer string
	// Event and EventID name the event (KindEvent).
	Event, EventID string
	// Journey, Step, Template and Channel name the message (KindMessage, KindHeld).
	Journey, Step, Template, Channel string
	// Variant is the variant of a split step's message.
	Variant string
	// Outcome is sent, skipped, capped, unreachable, uncertain, failed or held; for an
	// enrolment entered, exited or ended.
	Outcome string
	// Reason says why, for everything but a plain send.
	Reason string
	// Until is when a held step runs again.
	Until time.Time
	// Passed are the channels of the step passed over before Channel, and why (no
	// address, unsubscribed, no template, ...).
	Passed []Pass
	// MessageID is the message's stable id.
	MessageID string
	// To, Subject, Text and HTML are what was sent (outcome sent).
	To, Subject, Text, HTML string
}

// Pass is a channel a step passed over, and why.
type Pass struct {
	Channel, Reason string
}

// Sent is one message a recording channel accepted.
type Sent struct {
	Channel string
	At      time.Time
	channels.Message
}

// Timeline returns everything that happened so far, in order.
func (s *Sim) Timeline() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Entry(nil), s.timeline...)
}

// Messages returns the timeline's message outcomes (KindMessage), in order.
func (s *Sim) Messages() []Entry {
	var out []Entry
	for _, e := range s.Timeline() {
		if e.Kind == KindMessage {
			out = append(out, e)
		}
	}
	return out
}

func (s *Sim) add(e Entry) {
	s.mu.Lock()
	s.timeline = append(s.timeline, e)
	s.mu.Unlock()
}

// observer turns what the engine reports through its Observer seam into timeline
// entries: every recorded outcome of a step's message, every hold, and enrolments
// entering and ending (completions are left out: the last message says as much).
type observer struct {
	engine.NopObserver
	sim *Sim
}

// Outcome adds the message outcome, with the channels passed over on the way and, when
// a recording channel sent it, what was sent.
func (o observer) Outcome(_ context.Context, ob engine.Observation) {
	e := Entry{At: ob.Ran, Kind: KindMessage, Customer: ob.CustomerID, Journey: ob.Journey, Step: ob.Step,
		Template: ob.Template, Channel: ob.Channel, Outcome: string(ob.Outcome), Reason: ob.Reason, Variant: ob.Variant}
	for _, p := range ob.Passed {
		if p.Channel != workflows.Preferred { // a customer without a preferred channel is no news
			e.Passed = append(e.Passed, Pass{Channel: p.Channel, Reason: p.Reason})
		}
	}
	if _, given := o.sim.opts.Channels[ob.Channel]; !given && ob.Outcome == engine.OutcomeSent {
		m := ob.Message
		e.MessageID, e.To, e.Subject, e.Text, e.HTML = m.ID, m.To, m.Subject, m.Text, m.HTML
	}
	o.sim.add(e)
}

// Held adds a step a policy held back.
func (o observer) Held(_ context.Context, ob engine.Observation) {
	reason := ob.Reason
	if reason == "" {
		reason = "held back by a policy"
	}
	o.sim.add(Entry{At: ob.Ran, Kind: KindHeld, Customer: ob.CustomerID, Journey: ob.Journey, Step: ob.Step,
		Template: ob.Template, Variant: ob.Variant, Channel: ob.Channel, Outcome: OutcomeHeld, Reason: reason, Until: ob.Until,
		MessageID: ob.MessageID})
}

// Enrolment adds an enrolment entering or ending, but not completing.
func (o observer) Enrolment(_ context.Context, c engine.EnrolmentChange) {
	if c.Change == engine.Completed {
		return
	}
	o.sim.add(Entry{At: o.sim.Now(), Kind: KindEnrolment, Customer: c.CustomerID, Journey: c.Journey, Outcome: string(c.Change)})
}

// recorder is the channel every configured channel is replaced with: it keeps what it is
// asked to send. Like a real channel it calls channels.HandOver before "sending".
type recorder struct {
	name string
	sim  *Sim
}

// Send records m, or fails as the simulation's Fail function says. Its receipt's
// provider id, "sim-N" for the Nth message sent, is only for the history to show.
func (r recorder) Send(ctx context.Context, m channels.Message) (channels.Receipt, error) {
	s := r.sim
	s.mu.Lock()
	fail := s.fail
	s.mu.Unlock()
	if fail != nil {
		if err := fail(r.name, m); err != nil {
			return channels.Receipt{}, err
		}
	}
	if err := channels.HandOver(ctx); err != nil {
		return channels.Receipt{}, channels.Temporary(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, Sent{Channel: r.name, At: s.Now(), Message: m})
	return channels.Receipt{ProviderID: "sim-" + strconv.Itoa(len(s.sent))}, nil
}

// Offset formats the time from start to t the way scenarios write offsets, in days and
// smaller units: +0s, +30m, +7d1h.
func Offset(start, t time.Time) string {
	d := t.Sub(start).Truncate(time.Second)
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	if d == 0 {
		return "+0s"
	}
	var b strings.Builder
	b.WriteString(sign)
	for _, u := range []struct {
		unit string
		d    time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}} {
		if n := d / u.d; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.unit)
			d -= n * u.d
		}
	}
	return b.String()
}

// Line is the entry as one line of a timeline: the offset from start, the time in loc
// (nil: UTC), what happened and why.
func (e Entry) Line(start time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-10s %s  ", Offset(start, e.At), e.At.In(loc).Format("Mon 2006-01-02 15:04 MST"))
	switch e.Kind {
	case KindEvent:
		fmt.Fprintf(&b, "%-11s %s", "event", e.Event)
		if e.Customer != "" {
			fmt.Fprintf(&b, " (customer %s)", e.Customer)
		}
	case KindError:
		fmt.Fprintf(&b, "%-11s", "ERROR")
	case KindEnrolment:
		fmt.Fprintf(&b, "%-11s %s (customer %s)", e.Outcome, e.Journey, e.Customer)
		if e.Outcome == string(engine.Exited) {
			b.WriteString(": ended by a goal event, pending steps cancelled")
		}
	default:
		fmt.Fprintf(&b, "%-11s %s/%s", e.Outcome, e.Journey, e.Step)
		if e.Variant != "" {
			fmt.Fprintf(&b, " variant %s", e.Variant)
		}
		if e.Channel != "" {
			fmt.Fprintf(&b, " on %s", e.Channel)
		}
		if e.Subject != "" {
			fmt.Fprintf(&b, " %q", e.Subject)
		} else if e.Outcome == "sent" && e.Text != "" {
			fmt.Fprintf(&b, " %q", firstLine(e.Text, 60))
		}
	}
	if e.Kind == KindHeld {
		fmt.Fprintf(&b, ": %s, until %s", e.Reason, Offset(start, e.Until))
	} else if e.Reason != "" {
		fmt.Fprintf(&b, ": %s", e.Reason)
	}
	for i, p := range e.Passed {
		if i == 0 {
			b.WriteString(" (passed over ")
		} else {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: %s", p.Channel, p.Reason)
		if i == len(e.Passed)-1 {
			b.WriteString(")")
		}
	}
	return b.String()
}

func firstLine(s string, n int) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if r := []rune(s); len(r) > n {
		s = string(r[:n]) + "…"
	}
	return s
}
