package engine_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
	// The task as the scheduler would hold it, but with an event that is not an object;
	// as this version writes it, and as earlier versions did.
	for _, payload := range []string{
		`{"j": "welcome", "c": "c", "ev": "not an event"}`,
		fmt.Sprintf(`{"j": "welcome", "c": "c", "e": %q, "s": %q, "d": %d, "ev": "not an event"}`,
			en.ID, en.Step, t0.Add(time.Hour).UnixMilli()),
	} {
		err = h.Engine.HandleStep(t.Context(), en.Task, []byte(payload), engine.Attempt{MaxRetry: 3})
		if !errors.Is(err, engine.ErrPermanent) {
			t.Fatalf("HandleStep(%s) = %v, want a permanent error", payload, err)
		}
	}
	if n := len(h.Sent.To("c@x.example")); n != 0 {
		t.Fatalf("%d messages sent with an unreadable event, want none", n)
	}
}

// TestAStepTaskCarriesOnlyWhatItsIDAndEnrolmentDoNotSay: the enrolment and the step are
// in the task's ID, the index and the due time in the enrolment (and the due time, when
// not a whole second, in the queue's header): the payload is the journey, the customer
// and the enrolling event. A task of an earlier version, which carries them all, runs as
// before.
func TestAStepTaskCarriesOnlyWhatItsIDAndEnrolmentDoNotSay(t *testing.T) {
	h := enginetest.New(t, enginetest.Config{Start: t0, Journeys: []string{oneStep}, Templates: "testdata/templates"})
	h.Event(signedUp("c"))
	pending := h.Scheduler.Pending()
	if len(pending) != 1 {
		t.Fatalf("%d tasks pending, want the first step", len(pending))
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(pending[0].Payload, &fields); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if fmt.Sprint(keys) != "[c ev j]" {
		t.Fatalf("payload %s, want only j, c and ev", pending[0].Payload)
	}

	// The same step as an earlier version scheduled it.
	old := pending[0]
	en, err := h.Store.Enrolment(t.Context(), "welcome", "c")
	if err != nil || en == nil {
		t.Fatalf("enrolment = %+v, %v", en, err)
	}
	old.Payload = fmt.Appendf(nil, `{"j": "welcome", "c": "c", "e": %q, "s": %q, "d": %d, "ev": %s}`,
		en.ID, en.Step, en.Due.UnixMilli(), fields["ev"])
	if err := h.Scheduler.Cancel(t.Context(), old.ID); err != nil {
		t.Fatal(err)
	}
	if err := h.Scheduler.Schedule(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	h.Advance(2 * 24 * time.Hour)
	if got := steps(h, "c"); got != "hello:sent again:sent" {
		t.Fatalf("steps = %q, want both sent", got)
	}
}
