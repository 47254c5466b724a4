package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/engine/enginetest"
)

func TestTheNPSSurveyCarriesTheCustomersFeedbackLinks(t *testing.T) {
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	h := enginetest.New(t, enginetest.Config{Start: start, Templates: "../../templates", Journeys: []string{`
id: nps-survey
trigger: {event: order.placed}
reenter_after: 365d
steps:
  - {id: ask, wait: 14d, send: {template: nps-survey, channels: [email, chat]}}
`}})
	h.Event(event.Event{Type: "order.placed", CustomerID: "c-1", Customer: map[string]any{"email": "anna@example.com", "locale": "ru"}})
	h.Event(event.Event{Type: "order.placed", CustomerID: "c-2", Customer: map[string]any{"chat_id": "77"}})
	h.Advance(15 * 24 * time.Hour)
	email := h.Sent.To("anna@example.com")
	if len(email) != 1 {
		t.Fatalf("%d surveys to anna, want 1", len(email))
	}
	for _, want := range []string{`href="https://r.example/feedback/ru/c-1?score=0"`, `href="https://r.example/feedback/ru/c-1?score=10"`, "порекомендуете"} {
		if !strings.Contains(email[0].HTML, want) {
			t.Errorf("the email lacks %s", want)
		}
	}
	msg := h.Sent.To("77")
	if len(msg) != 1 || !strings.Contains(msg[0].Text, "https://r.example/feedback/en/c-2") {
		t.Errorf("the message = %+v, want the link in the default locale", msg)
	}
}
