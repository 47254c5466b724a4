package workflows

import (
	"testing"
	"time"
)

func TestTheFeedbackJourneysReactToTheRightAnswers(t *testing.T) {
	set, err := Load(".", testOpts)
	if err != nil {
		t.Fatal(err)
	}
	enters := func(id, typ string, data map[string]any) bool {
		t.Helper()
		j, ok := set.Get(id)
		if !ok {
			t.Fatalf("journey %s is not shipped", id)
		}
		if j.Trigger.Event != typ {
			return false
		}
		ok, err := j.Trigger.If.Eval(Env{Event: EventEnv{Type: typ, Data: data}, Customer: map[string]any{}, Now: time.Now()})
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		return ok
	}
	for _, c := range []struct {
		score               float64
		detractor, promoter bool
	}{{0, true, false}, {6, true, false}, {7, false, false}, {8, false, false}, {9, false, true}, {10, false, true}} {
		data := map[string]any{"score": c.score, "comment": "x"}
		if got := enters("detractor-follow-up", "nps.submitted", data); got != c.detractor {
			t.Errorf("score %v: detractor-follow-up enrols = %v", c.score, got)
		}
		if got := enters("promoter-referral", "nps.submitted", data); got != c.promoter {
			t.Errorf("score %v: promoter-referral enrols = %v", c.score, got)
		}
	}
	if enters("detractor-follow-up", "nps.submitted", map[string]any{}) || enters("promoter-referral", "nps.submitted", map[string]any{}) {
		t.Error("an answer without a score enrols")
	}
	for rating, want := range map[float64]bool{1: true, 2: true, 3: false, 5: false} {
		if got := enters("low-review-follow-up", "review.submitted", map[string]any{"rating": rating}); got != want {
			t.Errorf("rating %v: low-review-follow-up enrols = %v", rating, got)
		}
	}
	if j, _ := set.Get("nps-survey"); j.ReenterAfter != 365*24*time.Hour {
		t.Errorf("nps-survey reenter_after = %v, want a year", j.ReenterAfter)
	}
	for _, id := range []string{"detractor-follow-up", "low-review-follow-up"} {
		j, _ := set.Get(id)
		if ch := j.Steps[0].Send.Channels; len(ch) != 1 || ch[0] != "support" || j.Steps[0].Send.Caps != CapsBypass {
			t.Errorf("%s first step goes to %v (caps %s), want the support channel whatever the caps", id, ch, j.Steps[0].Send.Caps)
		}
	}
}
