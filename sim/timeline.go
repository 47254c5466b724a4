package sim

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/store"
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
	// Outcome is sent, skipped, capped, unreachable, failed, or held.
	Outcome string
	// Reason says why, for everything but a plain send.
	Reason string
	// Until is when a held step runs again.
	Until time.Time
	// MessageID is the message's stable id.
	MessageID string
	// To, Subject, Text and HTML are what was sent (outcome sent).
	To, Subject, Text, HTML string
}

// Sent is one message a recording channel accepted.
type Sent struct {
	Channel string
	At      time.Time
	channels.Message
}

// Timeline returns everything that happened so far, in order.
func (s *Sim) Timeline() []Entry { return append([]Entry(nil), s.timeline...) }

// Messages returns the timeline's message outcomes (KindMessage), in order.
func (s *Sim) Messages() []Entry {
	var out []Entry
	for _, e := range s.timeline {
		if e.Kind == KindMessage {
			out = append(out, e)
		}
	}
	return out
}

func (s *Sim) add(e Entry) { s.timeline = append(s.timeline, e) }

func (s *Sim) track(cid string) {
	if _, ok := s.heads[cid]; !ok {
		s.heads[cid] = ""
		s.customers = append(s.customers, cid)
	}
}

func recordKey(r store.Record) string {
	return strconv.FormatInt(r.At.UnixNano(), 10) + "|" + r.MessageID + "|" + r.Journey + "|" + r.Step + "|" + r.Outcome + "|" + r.Reason
}

// collect turns the history records written since the last look into message entries.
// The engine records every outcome of a step in the customer's history; that record is
// the simulation's source, so the timeline says what production's history would say.
func (s *Sim) collect(ctx context.Context) error {
	for _, cid := range s.customers {
		hist, err := s.st.History(ctx, cid)
		if err != nil {
			return fmt.Errorf("sim: %w", err)
		}
		head := s.heads[cid]
		n := 0
		for n < len(hist) && recordKey(hist[n]) != head {
			n++
		}
		if n == 0 {
			continue
		}
		s.heads[cid] = recordKey(hist[0])
		for i := n - 1; i >= 0; i-- { // oldest first
			r := hist[i]
			e := Entry{At: r.At, Kind: KindMessage, Customer: cid, Journey: r.Journey, Step: r.Step,
				Template: r.Template, Channel: r.Channel, Outcome: r.Outcome, Reason: r.Reason, MessageID: r.MessageID}
			if r.Outcome == string(engine.OutcomeSent) {
				if k, ok := s.byMsg[r.MessageID]; ok {
					m := s.sent[k]
					e.To, e.Subject, e.Text, e.HTML = m.To, m.Subject, m.Text, m.HTML
				}
			}
			s.add(e)
		}
	}
	return nil
}

// recorder is the channel every configured channel is replaced with: it keeps what it is
// asked to send. Like a real channel it calls channels.HandOver before "sending".
type recorder struct {
	name string
	sim  *Sim
}

// Send records m, or fails as the simulation's Fail function says.
func (r recorder) Send(ctx context.Context, m channels.Message) (channels.Receipt, error) {
	s := r.sim
	if s.fail != nil {
		if err := s.fail(r.name, m); err != nil {
			return channels.Receipt{}, err
		}
	}
	if err := channels.HandOver(ctx); err != nil {
		return channels.Receipt{}, channels.Temporary(err)
	}
	s.byMsg[m.ID] = len(s.sent)
	s.sent = append(s.sent, Sent{Channel: r.name, At: s.Now(), Message: m})
	return channels.Receipt{ProviderID: "sim-" + strconv.Itoa(len(s.sent))}, nil
}

// holdRecorder passes a policy's verdicts through unchanged and notes the holds in the
// timeline. It forwards Sent to policies that count sent messages (caps).
type holdRecorder struct {
	engine.Policy
	sim *Sim
}

// Check runs the policy and records a hold.
func (h holdRecorder) Check(ctx context.Context, d *engine.Delivery) (engine.Verdict, error) {
	v, err := h.Policy.Check(ctx, d)
	if err == nil && v.Until.After(d.Now) {
		reason := v.Reason
		if reason == "" {
			reason = "held back by a policy"
		}
		h.sim.add(Entry{At: d.Now, Kind: KindHeld, Customer: d.CustomerID, Journey: d.Journey.ID, Step: d.Step.ID,
			Template: d.Step.Send.Template, Channel: d.Channel.Name, Outcome: OutcomeHeld, Reason: reason,
			Until: v.Until, MessageID: d.MessageID})
	}
	return v, err
}

// Sent forwards to the policy when it counts sent messages.
func (h holdRecorder) Sent(ctx context.Context, d *engine.Delivery) error {
	if o, ok := h.Policy.(engine.SentObserver); ok {
		return o.Sent(ctx, d)
	}
	return nil
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
	default:
		fmt.Fprintf(&b, "%-11s %s/%s", e.Outcome, e.Journey, e.Step)
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
