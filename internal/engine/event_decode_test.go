package engine_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/engine/enginetest"
)

func TestAStepWhoseEventCannotBeReadFailsForGoodAndSendsNothing(t *testing.T) {
	h := enginetest.New(t, enginetest.Config{Start: t0, Journeys: []string{oneStep}, Templates: "testdata/templates"})
	h.Event(signedUp("c"))
	en, err := h.Store.Enrolment(t.Context(), "welcome", "c")
	if err != nil || en == nil {
		t.Fatalf("enrolment = %+v, %v", en, err)
	}
	// The task as the scheduler would hold it, but with an event that is not an object.
	payload := fmt.Sprintf(`{"j": "welcome", "c": "c", "e": %q, "s": %q, "d": %d, "ev": "not an event"}`,
		en.ID, en.Step, t0.Add(time.Hour).UnixMilli())
	err = h.Engine.HandleStep(t.Context(), []byte(payload), engine.Attempt{MaxRetry: 3})
	if !errors.Is(err, engine.ErrPermanent) {
		t.Fatalf("HandleStep = %v, want a permanent error", err)
	}
	if n := len(h.Sent.To("c@x.example")); n != 0 {
		t.Fatalf("%d messages sent with an unreadable event, want none", n)
	}
}
