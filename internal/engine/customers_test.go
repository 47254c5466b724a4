package engine_test

import (
	"errors"
	"testing"

	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/engine"
)

const welcome = `
id: welcome
trigger: {event: signed.up}
steps:
  - {id: hello, send: {template: hello, channels: [email]}}
`

func TestACustomerNobodyKnowsIsUnknown(t *testing.T) {
	h := newHarness(t, t0, welcome)
	if _, err := h.Engine.Customer(t.Context(), "nobody"); !errors.Is(err, engine.ErrUnknownCustomer) {
		t.Fatalf("Customer(nobody) = %v, want ErrUnknownCustomer", err)
	}
	h.Event(event.Event{Type: "signed.up", CustomerID: "anna", Customer: map[string]any{"email": "anna@x.example"}})
	if v, err := h.Engine.Customer(t.Context(), "anna"); err != nil || v.Profile["email"] != "anna@x.example" {
		t.Fatalf("Customer(anna) = %+v, %v", v, err)
	}
	if err := h.Engine.Forget(t.Context(), "anna"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Engine.Customer(t.Context(), "anna"); !errors.Is(err, engine.ErrUnknownCustomer) {
		t.Fatalf("Customer(anna) after erasing = %v, want ErrUnknownCustomer", err)
	}
}

func TestAnOptOutOutlivesTheErasure(t *testing.T) {
	h := newHarness(t, t0, welcome)
	ctx := t.Context()
	h.Event(event.Event{Type: "signed.up", CustomerID: "anna", Customer: map[string]any{"email": "Anna@X.example"}})
	if n := len(h.Sent.To("Anna@X.example")); n != 1 {
		t.Fatalf("%d welcome messages, want 1", n)
	}
	if err := h.Engine.SetConsent(ctx, "anna", "email", false); err != nil {
		t.Fatal(err)
	}
	if err := h.Engine.Forget(ctx, "anna"); err != nil {
		t.Fatal(err)
	}
	if on, err := h.Store.Suppressed(ctx, "email", "anna@x.example "); err != nil || !on {
		t.Fatalf("after unsubscribing and erasing: suppressed = %v, %v, want the address kept as suppressed", on, err)
	}
	if on, _ := h.Store.Suppressed(ctx, "chat", "anna@x.example"); on {
		t.Fatalf("suppressed on chat too, want email only")
	}
	for _, cid := range []string{"anna", "anna-again"} {
		h.Event(event.Event{ID: "back-" + cid, Type: "signed.up", CustomerID: cid, Customer: map[string]any{"email": "anna@x.example", "chat_id": "5"}})
		if n := len(h.Sent.To("anna@x.example")) + len(h.Sent.To("Anna@X.example")); n != 1 {
			t.Fatalf("the erased address came back as %s: %d messages in all, want still the 1 before the opt-out", cid, n)
		}
		v, err := h.Engine.Customer(ctx, cid)
		if err != nil || v.Consent["email"] || !v.Consent["chat"] {
			t.Fatalf("consent of %s = %v, %v, want email off and chat on", cid, v.Consent, err)
		}
		if hist := h.History(cid); len(hist) != 1 || hist[0].Outcome != "unreachable" {
			t.Fatalf("history of %s = %+v, want the welcome unreachable", cid, hist)
		}
	}

	t.Run("an opt-out recorded before erasure is kept by the erasure itself", func(t *testing.T) {
		h.Event(event.Event{Type: "signed.up", CustomerID: "ben", Customer: map[string]any{"email": "ben@x.example", "chat_id": "77"}})
		if err := h.Store.SetConsent(ctx, "ben", "chat", false); err != nil { // as stored before suppression lists
			t.Fatal(err)
		}
		if err := h.Engine.Forget(ctx, "ben"); err != nil {
			t.Fatal(err)
		}
		chat, _ := h.Store.Suppressed(ctx, "chat", "77")
		mail, _ := h.Store.Suppressed(ctx, "email", "ben@x.example")
		if !chat || mail {
			t.Fatalf("suppressed chat %v, email %v, want chat only", chat, mail)
		}
	})
	t.Run("subscribing again takes the address off the list", func(t *testing.T) {
		h.Event(event.Event{Type: "signed.up", CustomerID: "cleo", Customer: map[string]any{"email": "cleo@x.example"}})
		h.Engine.SetConsent(ctx, "cleo", "email", false)
		if err := h.Engine.SetConsent(ctx, "cleo", "email", true); err != nil {
			t.Fatal(err)
		}
		if on, _ := h.Store.Suppressed(ctx, "email", "cleo@x.example"); on {
			t.Fatal("still suppressed after subscribing again")
		}
	})
}
