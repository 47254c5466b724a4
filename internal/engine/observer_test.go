package engine_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/engine/enginetest"
	"github.com/rapporthq/rapport/internal/store"
)

// facts keeps every outcome and hold it hears of; it implements only those.
type facts struct {
	engine.NopObserver
	mu       sync.Mutex
	outcomes map[string]engine.Observation // by customer
	holds    []engine.Observation
}

func (f *facts) Outcome(_ context.Context, o engine.Observation) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.outcomes[o.CustomerID] = o
}

func (f *facts) Held(_ context.Context, o engine.Observation) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.holds = append(f.holds, o)
}

const chatThenEmail = `
id: facts
trigger: {event: signed.up}
steps:
  - {id: hello, send: {template: hello, channels: [chat, email]}}
`

// An observation carries the facts a timeline or a metric needs: the message id, the
// template, the channels passed over and why, the message sent, the error of a failure,
// and the holds.
func TestAnObservationCarriesTheFactsOfTheMessage(t *testing.T) {
	obs := &facts{outcomes: map[string]engine.Observation{}}
	var once sync.Once
	quiet := engine.PolicyFunc(func(_ context.Context, d *engine.Delivery) (engine.Verdict, error) {
		var v engine.Verdict
		once.Do(func() { v = engine.Verdict{Until: d.Now.Add(time.Hour), Reason: "quiet hours"} })
		return v, nil
	})
	h := enginetest.New(t, enginetest.Config{Start: t0, Journeys: []string{chatThenEmail}, Templates: "testdata/templates",
		Observer: obs, Policies: func(*store.Store) []engine.Policy { return []engine.Policy{quiet} }})
	boom := errors.New("550 mailbox disabled")
	h.Sent.Fail = func(m channels.Message) error {
		if m.CustomerID == "broken" {
			return boom
		}
		return nil
	}
	signUp := func(cid string) event.Event {
		return event.Event{Type: "signed.up", CustomerID: cid, Customer: map[string]any{"email": cid + "@x.example"}}
	}
	h.Event(signUp("anna"))
	h.Advance(2 * time.Hour)
	h.Event(signUp("broken"))
	h.Advance(time.Hour)

	obs.mu.Lock()
	defer obs.mu.Unlock()
	if len(obs.holds) != 1 {
		t.Fatalf("holds = %+v, want one", obs.holds)
	}
	if ho := obs.holds[0]; ho.CustomerID != "anna" || ho.Reason != "quiet hours" || !ho.Until.Equal(t0.Add(time.Hour)) ||
		ho.Outcome != "" || ho.Channel != "email" || ho.Template != "hello" || ho.MessageID == "" {
		t.Errorf("hold = %+v, want anna's hello on email held for quiet hours until %v", ho, t0.Add(time.Hour))
	}
	sent := obs.outcomes["anna"]
	passed := []store.Passed{{Channel: "chat", Reason: "no address"}}
	if sent.Outcome != engine.OutcomeSent || sent.Template != "hello" || sent.MessageID == "" ||
		sent.MessageID != obs.holds[0].MessageID || sent.Message.To != "anna@x.example" || sent.Err != nil ||
		len(sent.Passed) != 1 || sent.Passed[0] != passed[0] {
		t.Errorf("sent = %+v, want hello sent to anna@x.example, chat passed over for no address", sent)
	}
	if failed := obs.outcomes["broken"]; failed.Outcome != engine.OutcomeFailed || !errors.Is(failed.Err, boom) {
		t.Errorf("failed = %+v, want failed with the channel's error", failed)
	}
}
