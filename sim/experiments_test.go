package sim_test

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/sim"
	"github.com/rapporthq/rapport/workflows"
)

// splitJourney is a cart journey with a 20% holdout and a 50/50 split of its one step.
const splitJourney = `
id: split-cart
holdout: 20%
trigger: {event: cart.abandoned}
exit_on: [order.placed]
steps:
  - id: reminder
    wait: 1h
    send:
      channels: [email]
      variants:
        - {id: plain, template: cart-reminder, weight: 50}
        - {id: last, template: cart-last-chance, weight: 50}
`

func splitSetup(t *testing.T) *sim.Setup {
	t.Helper()
	setup := shipped(t)
	j, err := workflows.LoadFile("split-cart.yaml", []byte(splitJourney), workflows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	set, err := workflows.NewSet([]*workflows.Journey{j})
	if err != nil {
		t.Fatal(err)
	}
	setup.Journeys = set
	return setup
}

// enterAll enrols n customers and runs the clock past their step; fail, when set, is
// the recording channels' failure function for the run.
func enterAll(t *testing.T, s *sim.Sim, n int, fail func(string, channels.Message) error) {
	t.Helper()
	ctx := context.Background()
	s.Fail(fail)
	for i := range n {
		cid := fmt.Sprintf("c%d", i)
		must(t, s.Event(ctx, event.Event{Type: "cart.abandoned", CustomerID: cid,
			Customer: map[string]any{"email": cid + "@example.com"}, Data: map[string]any{"cart_id": "K" + cid}}))
	}
	must(t, s.Advance(ctx, 2*day))
}

// outcomes reads each customer's history: the outcome and variant of their step.
func outcomes(t *testing.T, s *sim.Sim, n int) (held map[string]bool, variant map[string]string) {
	t.Helper()
	held, variant = map[string]bool{}, map[string]string{}
	for i := range n {
		cid := fmt.Sprintf("c%d", i)
		hist, err := s.Store().History(context.Background(), cid)
		if err != nil {
			t.Fatal(err)
		}
		if len(hist) != 1 {
			t.Fatalf("customer %s has %d history lines, want 1: %+v", cid, len(hist), hist)
		}
		switch r := hist[0]; r.Outcome {
		case "held_out":
			held[cid] = true
		case "sent":
			variant[cid] = r.Variant
		default:
			t.Fatalf("customer %s: outcome %s (%s)", cid, r.Outcome, r.Reason)
		}
	}
	return held, variant
}

func TestAFifthHeldOutGetsNothingAndAHeldOutLineEach(t *testing.T) {
	const n = 1000
	s := newSim(t, splitSetup(t))
	enterAll(t, s, n, nil)
	held, variant := outcomes(t, s, n)
	share := float64(len(held)) / n
	if math.Abs(share-0.20) > 0.03 {
		t.Fatalf("held out %.3f of customers, want 0.20 ± 0.03", share)
	}
	for _, m := range s.Sent() {
		if held[m.Message.CustomerID] {
			t.Fatalf("held-out customer %s was sent %q", m.Message.CustomerID, m.Message.Subject)
		}
	}
	if len(s.Sent()) != n-len(held) {
		t.Fatalf("%d messages sent, want one to each of %d treated customers", len(s.Sent()), n-len(held))
	}
	counts := map[string]int{}
	for _, v := range variant {
		counts[v]++
	}
	if len(counts) != 2 || counts["plain"] < 300 || counts["last"] < 300 {
		t.Fatalf("variants %v, want plain and last about half each", counts)
	}
	t.Logf("held out %d of %d; variants %v", len(held), n, counts)
}

func TestAVariantIsTheSameOnRetryAndAfterARestart(t *testing.T) {
	const n = 200
	first := newSim(t, splitSetup(t))
	enterAll(t, first, n, nil)
	held1, v1 := outcomes(t, first, n)

	// A new simulation is a new worker with a new Redis; every first attempt fails and
	// is retried.
	again := newSim(t, splitSetup(t))
	tried := map[string]bool{}
	enterAll(t, again, n, func(_ string, m channels.Message) error {
		if !tried[m.ID] {
			tried[m.ID] = true
			return channels.Temporary(fmt.Errorf("try again"))
		}
		return nil
	})
	held2, v2 := outcomes(t, again, n)
	if len(tried) == 0 {
		t.Fatal("no attempt failed: the retry was not tested")
	}
	for i := range n {
		cid := fmt.Sprintf("c%d", i)
		if held1[cid] != held2[cid] || v1[cid] != v2[cid] {
			t.Fatalf("customer %s: held %v variant %q, then held %v variant %q", cid, held1[cid], v1[cid], held2[cid], v2[cid])
		}
	}
	for _, m := range again.Sent() {
		hist, err := again.Store().History(context.Background(), m.Message.CustomerID)
		if err != nil {
			t.Fatal(err)
		}
		if m.Message.Meta["variant"] != hist[0].Variant {
			t.Fatalf("sent variant %q, recorded %q", m.Message.Meta["variant"], hist[0].Variant)
		}
	}
}
