package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/engine/enginetest"
)

// A step due at once runs inside its event's task on what the event brought, without
// loading its state. What it does not load, Reserve checks: consent, blocked channels and
// a message recorded before are honoured as they are for a queued step.

const atOnce = `
id: welcome
trigger: {event: signed.up}
steps:
  - {id: hi, send: {template: hello, channels: [chat, email]}}
`

func TestAStepRunAtOncePassesOverAnUnsubscribedChannel(t *testing.T) {
	h := enginetest.New(t, enginetest.Config{Start: t0, Journeys: []string{atOnce}, Templates: "testdata/templates"})
	if err := h.Engine.SetConsent(t.Context(), "c", "chat", false); err != nil {
		t.Fatal(err)
	}
	h.Event(event.Event{ID: "s1", Type: "signed.up", CustomerID: "c", Customer: map[string]any{"chat_id": "7", "email": "c@x.example"}})
	if len(h.Sent.To("7")) != 0 || len(h.Sent.To("c@x.example")) != 1 {
		t.Fatalf("chat got %d, email %d; want the email only", len(h.Sent.To("7")), len(h.Sent.To("c@x.example")))
	}
	hist := h.History("c")
	if len(hist) != 1 || hist[0].Outcome != "sent" || len(hist[0].Passed) != 1 ||
		hist[0].Passed[0].Channel != "chat" || hist[0].Passed[0].Reason != "unsubscribed" {
		t.Fatalf("history = %+v, want sent by email, chat passed over as unsubscribed", hist)
	}
}

func TestAReplayedEventDoesNotSendItsAtOnceStepAgain(t *testing.T) {
	h := enginetest.New(t, enginetest.Config{Start: t0, Journeys: []string{atOnce}, Templates: "testdata/templates"})
	ev := event.Event{ID: "s1", Type: "signed.up", CustomerID: "c", Customer: map[string]any{"email": "c@x.example"}}
	h.Event(ev)
	// The enrolment ended with its only step; the same event again starts the same
	// enrolment, whose message was recorded already.
	h.Event(ev)
	if n := len(h.Sent.To("c@x.example")); n != 1 {
		t.Fatalf("%d emails, want 1", n)
	}
	var outcomes []string
	for _, r := range h.History("c") {
		outcomes = append(outcomes, r.Outcome)
	}
	if got := strings.Join(outcomes, ","); got != "sent" {
		t.Fatalf("history outcomes %q, want one sent", got)
	}
}

// The enrolment keeps no copy of its event: each pending step's task carries it to the
// next. Every step still sees the event, and the enrolment stays small.
func TestEveryStepSeesTheEventTheEnrolmentDoesNotCopy(t *testing.T) {
	h := enginetest.New(t, enginetest.Config{Start: t0, Journeys: []string{`
id: cart
trigger: {event: cart.abandoned}
steps:
  - {id: one, send: {template: hello, channels: [email]}}
  - {id: two, wait: 1h, send: {template: hello, channels: [email]}}
  - {id: three, wait: 1d, send: {template: hello, channels: [email]}}
`}, Templates: "testdata/templates"})
	h.Event(event.Event{ID: "e1", Type: "cart.abandoned", CustomerID: "c", Customer: map[string]any{"email": "c@x.example"},
		Data: map[string]any{"cart_id": "K-9"}})
	rdb := h.Redis.Client(t)
	packed, err := rdb.HGet(t.Context(), "rapport:{c}:customer", event.ReservedPrefix+"e:cart").Result()
	if err != nil {
		t.Fatalf("the enrolment in the customer's hash: %v", err)
	}
	if strings.Contains(packed, "K-9") || len(packed) > 64 {
		t.Fatalf("enrolment %q: want no copy of the event, and 64 bytes at most to keep the hash a listpack", packed)
	}
	if keys, err := rdb.Keys(t.Context(), "*enrol*").Result(); err != nil || len(keys) != 0 {
		t.Fatalf("enrolment keys %v (%v), want none: the enrolment is a field of the customer's hash", keys, err)
	}
	h.Advance(2 * 24 * time.Hour)
	sent := h.Sent.To("c@x.example")
	if len(sent) != 3 {
		t.Fatalf("%d emails, want 3", len(sent))
	}
	for i, m := range sent {
		if !strings.Contains(m.HTML, "about cart K-9") {
			t.Errorf("email %d lacks the event's cart: %s", i+1, m.HTML)
		}
	}
}
