package queue_test

import (
	"strings"
	"testing"
	"time"

	"github.com/rapporthq/rapport/channels/telegram/telegramtest"
	"github.com/rapporthq/rapport/internal/testutil"
)

func TestABlockedBotMakesThisStepAndLaterOnesGoByEmail(t *testing.T) {
	m := startMessenger(t, `
id: two
trigger: {event: order.placed}
steps:
  - id: thanks
    send: {template: thank-you, channels: [telegram, email]}
  - id: again
    wait: 1s
    send: {template: thank-you, channels: [telegram, email]}
`)
	m.bot.Always("42", telegramtest.Blocked)
	m.event(t, "o-1", "order.placed", "anna", anna)
	msgs := m.smtp.WaitFor(t, 2, 15*time.Second)
	for _, e := range msgs {
		if e.To[0] != "anna@example.com" {
			t.Fatalf("email to %v", e.To)
		}
	}
	testutil.WaitFor(t, 5*time.Second, "both steps recorded", func() bool { return len(m.history("anna")) >= 2 })
	h := m.history("anna") // newest first
	if len(h) != 2 {
		t.Fatalf("history %+v, want two records", h)
	}
	for i, r := range h {
		if r.Outcome != "sent" || r.Channel != "email" {
			t.Errorf("record %d %+v: want sent by email", i, r)
		}
		if len(r.Passed) != 1 || r.Passed[0].Channel != "telegram" {
			t.Errorf("record %d passed over %+v, want telegram", i, r.Passed)
		}
	}
	if why := h[1].Passed[0].Reason; !strings.Contains(why, "403") || !strings.Contains(why, "blocked") {
		t.Errorf("the first step says telegram was passed over because %q, want the 403", why)
	}
	if why := h[0].Passed[0].Reason; why != "blocked" {
		t.Errorf("the later step says telegram was passed over because %q, want blocked", why)
	}
	if n := m.bot.Requests(); n != 1 {
		t.Errorf("the bot was asked %d times, want once: a blocked chat stays closed for later steps", n)
	}
	if len(m.bot.Messages()) != 0 {
		t.Fatal("the blocked chat got a message")
	}
}
