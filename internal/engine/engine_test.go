package engine_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/workflows"
)

var t0 = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

const twoSteps = `
id: cart
trigger: {event: cart.abandoned, if: "(event.data.total ?? 0) >= 10"}
exit_on: [order.placed]
steps:
  - id: first
    wait: 1h
    send: {template: hello, channels: [preferred, email]}
  - id: second
    wait: 1d
    if: customer.orders_count == nil || customer.orders_count == 0
    send: {template: hello, channels: [email]}
`

func cart(cid string, total float64) event.Event {
	return event.Event{Type: "cart.abandoned", CustomerID: cid,
		Customer: map[string]any{"email": cid + "@x.example", "first_name": "Ann"},
		Data:     map[string]any{"total": total}}
}

func TestStepsRunAfterTheirWaitsCountedFromThePreviousStep(t *testing.T) {
	h := newHarness(t, t0, twoSteps)
	h.Event(cart("c1", 20))
	h.Advance(59 * time.Minute)
	if n := len(h.Sent.To("c1@x.example")); n != 0 {
		t.Fatalf("%d messages before the first wait ended", n)
	}
	h.Advance(time.Minute)
	first := h.Sent.To("c1@x.example")
	if len(first) != 1 || first[0].Subject != "Hello Ann" {
		t.Fatalf("after 1h: %+v, want one message with subject 'Hello Ann'", first)
	}
	if !strings.HasPrefix(first[0].UnsubscribeURL, "https://r.example/unsubscribe/email/c1") {
		t.Errorf("UnsubscribeURL = %q", first[0].UnsubscribeURL)
	}
	h.Advance(24*time.Hour - time.Second)
	if n := len(h.Sent.To("c1@x.example")); n != 1 {
		t.Fatalf("%d messages before the second wait ended", n)
	}
	h.Advance(time.Second)
	if n := len(h.Sent.To("c1@x.example")); n != 2 {
		t.Fatalf("%d messages after both waits, want 2", n)
	}
	if e, err := h.Store.Enrolment(t.Context(), "cart", "c1"); err != nil || e != nil {
		t.Errorf("the enrolment is still active after its last step: %+v, %v", e, err)
	}
}

func TestTriggerConditionAndGoalEvent(t *testing.T) {
	h := newHarness(t, t0, twoSteps)
	h.Event(cart("small", 5))   // below the trigger condition
	h.Event(cart("buyer", 50))  // will order before the first step
	h.Event(cart("keeper", 50)) // will get both steps
	h.Advance(30 * time.Minute)
	h.Event(event.Event{Type: "order.placed", CustomerID: "buyer", Data: map[string]any{"total": 50.0}})
	h.Advance(48 * time.Hour)

	for cid, want := range map[string]int{"small": 0, "buyer": 0, "keeper": 2} {
		if got := len(h.Sent.To(cid + "@x.example")); got != want {
			t.Errorf("%s got %d messages, want %d", cid, got, want)
		}
	}
	if h.Scheduler.Cancelled != 1 {
		t.Errorf("%d tasks cancelled, want the buyer's pending step", h.Scheduler.Cancelled)
	}
}

func TestAStepConditionSkipsAndTheJourneyGoesOn(t *testing.T) {
	// Without exit_on, an order does not end the enrolment; it makes the second
	// step's condition (no orders yet) false.
	h2 := newHarness(t, t0, strings.Replace(twoSteps, "exit_on: [order.placed]\n", "", 1))
	h2.Event(cart("c", 20))
	h2.Advance(2 * time.Hour)
	h2.Event(event.Event{Type: "order.placed", CustomerID: "c", Data: map[string]any{"total": 9.5}})
	h2.Advance(48 * time.Hour)
	if n := len(h2.Sent.To("c@x.example")); n != 1 {
		t.Fatalf("%d messages, want only the first: the second step's condition is false", n)
	}
	hist := h2.History("c")
	if len(hist) != 2 || hist[0].Outcome != "skipped" || hist[1].Outcome != "sent" {
		t.Fatalf("history = %+v, want sent then skipped", hist)
	}
}

func TestNoReentryWhileActiveUnlessReenterAfterPassed(t *testing.T) {
	h := newHarness(t, t0, twoSteps)
	h.Event(cart("c", 20))
	h.Advance(10 * time.Minute)
	h.Event(cart("c", 30)) // still active: ignored
	h.Advance(72 * time.Hour)
	if n := len(h.Sent.To("c@x.example")); n != 2 {
		t.Fatalf("%d messages, want 2 from a single enrolment", n)
	}
	h.Event(cart("c", 40)) // ended: enters again
	h.Advance(2 * time.Hour)
	if n := len(h.Sent.To("c@x.example")); n != 3 {
		t.Fatalf("%d messages, want a third from the new enrolment", n)
	}

	r := newHarness(t, t0, strings.Replace(twoSteps, "exit_on:", "reenter_after: 1d\nexit_on:", 1))
	r.Event(cart("c", 20))
	r.Advance(2 * time.Hour)
	r.Event(cart("c", 20)) // within a day of the first entry: refused
	r.Advance(23 * time.Hour)
	r.Event(cart("c", 20)) // 25h after the first entry: replaces the active one
	r.Advance(time.Hour)
	if n := len(r.Sent.To("c@x.example")); n != 3 {
		t.Fatalf("%d messages with reenter_after, want 3 (first, second, first again)", n)
	}
}

func TestTheSameEventTwiceEnrolsOnce(t *testing.T) {
	h := newHarness(t, t0, twoSteps)
	ev := cart("c", 20)
	ev.ID = "evt-1"
	h.Event(ev)
	h.Event(ev)
	h.Advance(72 * time.Hour)
	if n := len(h.Sent.To("c@x.example")); n != 2 {
		t.Fatalf("%d messages, want 2", n)
	}
}

func TestOrderStatisticsCountEachOrderOnce(t *testing.T) {
	h := newHarness(t, t0, twoSteps)
	order := event.Event{ID: "o-1", Type: "order.placed", CustomerID: "c", Data: map[string]any{"total": 10.5}}
	h.Event(order)
	h.Event(order) // a retried event
	h.Event(event.Event{ID: "o-2", Type: "order.placed", CustomerID: "c", Data: map[string]any{"total": 4.5}})
	p, err := h.Store.Profile(t.Context(), "c")
	if err != nil {
		t.Fatal(err)
	}
	if p["orders_count"] != 2.0 || p["total_spent"] != 15.0 {
		t.Fatalf("profile = %v, want orders_count 2 and total_spent 15", p)
	}
	if _, ok := p["last_order_at"].(time.Time); !ok {
		t.Errorf("last_order_at = %#v, want a time", p["last_order_at"])
	}
}

func TestChannelChoiceFallsBackFromPreferred(t *testing.T) {
	h := newHarness(t, t0, twoSteps)
	ev := cart("chatty", 20)
	ev.Customer["preferred_channel"] = "chat"
	ev.Customer["chat_id"] = 123456.0
	h.Event(ev)
	noAddr := cart("silent", 20)
	delete(noAddr.Customer, "email")
	noAddr.Customer["preferred_channel"] = "chat" // but no chat_id either
	h.Event(noAddr)
	h.Advance(2 * time.Hour)

	if got := h.Sent.To("123456"); len(got) != 1 || got[0].Text == "" {
		t.Fatalf("preferred chat got %+v, want one text message", got)
	}
	hist := h.History("silent")
	if len(hist) != 1 || hist[0].Outcome != "unreachable" {
		t.Fatalf("history of a customer with no address = %+v, want unreachable", hist)
	}
}

func TestTemporaryFailuresAreRetriedAndPermanentOnesRecorded(t *testing.T) {
	h := newHarness(t, t0, twoSteps)
	fails := map[string]int{}
	h.Sent.Fail = func(m channels.Message) error {
		switch m.To {
		case "flaky@x.example":
			if fails[m.To]++; fails[m.To] <= 2 {
				return channels.Temporary(errors.New("451 try later"))
			}
		case "gone@x.example":
			return errors.New("550 no such mailbox")
		case "down@x.example":
			return channels.Temporary(errors.New("connection refused"))
		}
		return nil
	}
	for _, c := range []string{"flaky", "gone", "down"} {
		h.Event(cart(c, 20))
	}
	h.Advance(2 * time.Hour)

	if n := len(h.Sent.To("flaky@x.example")); n != 1 {
		t.Errorf("flaky got %d messages, want exactly 1 after two temporary failures", n)
	}
	for cid, want := range map[string]string{"flaky": "sent", "gone": "failed", "down": "failed"} {
		hist := h.History(cid)
		if len(hist) != 1 || hist[0].Outcome != want {
			t.Errorf("%s history = %+v, want one %q record", cid, hist, want)
		}
	}
	if hist := h.History("down"); len(hist) == 1 && !strings.Contains(hist[0].Reason, "gave up after 3 retries") {
		t.Errorf("down's reason = %q, want it to say it gave up", hist[0].Reason)
	}
	// The journey goes on after a failed step.
	h.Advance(24 * time.Hour)
	if hist := h.History("gone"); len(hist) != 2 {
		t.Errorf("gone history = %+v, want the second step recorded too", hist)
	}
}

func TestGoalEventsWorkInWhicheverOrderEventsArrive(t *testing.T) {
	h := newHarness(t, t0, twoSteps)
	// The order came after the cart was abandoned, but is processed first.
	late := cart("late", 20)
	late.OccurredAt = t0.Add(-time.Minute)
	h.Event(event.Event{Type: "order.placed", CustomerID: "late", OccurredAt: t0})
	h.Event(late)
	// A new cart abandoned after an order, processed before that order.
	fresh := cart("fresh", 20)
	fresh.OccurredAt = t0
	h.Event(fresh)
	h.Event(event.Event{Type: "order.placed", CustomerID: "fresh", OccurredAt: t0.Add(-time.Minute)})
	h.Advance(2 * time.Hour)

	if n := len(h.Sent.To("late@x.example")); n != 0 {
		t.Errorf("late got %d reminders for a cart it had already ordered", n)
	}
	if n := len(h.Sent.To("fresh@x.example")); n != 1 {
		t.Errorf("fresh got %d reminders, want 1: its order came before this cart", n)
	}
}

func TestAnUnsubscribedChannelIsNeverChosen(t *testing.T) {
	h := newHarness(t, t0, twoSteps)
	ev := cart("c", 20)
	ev.Customer["chat_id"] = "777"
	ev.Customer["preferred_channel"] = "chat"
	if err := h.Engine.SetConsent(t.Context(), "c", "chat", false); err != nil {
		t.Fatal(err)
	}
	h.Event(ev)
	h.Advance(2 * time.Hour) // first step: [preferred, email] falls back to email
	if len(h.Sent.To("777")) != 0 || len(h.Sent.To("c@x.example")) != 1 {
		t.Fatalf("chat got %d, email %d; want the email only", len(h.Sent.To("777")), len(h.Sent.To("c@x.example")))
	}
	if err := h.Engine.SetConsent(t.Context(), "c", "email", false); err != nil {
		t.Fatal(err)
	}
	h.Advance(24 * time.Hour) // second step: [email] only, now unsubscribed
	if n := len(h.Sent.To("c@x.example")); n != 1 {
		t.Fatalf("%d emails after unsubscribing, want still 1", n)
	}
	if hist := h.History("c"); hist[0].Outcome != "unreachable" {
		t.Fatalf("history = %+v, want the second step unreachable", hist)
	}
	if err := h.Engine.SetConsent(t.Context(), "c", "fax", false); !errors.Is(err, engine.ErrUnknownChannel) {
		t.Fatalf("consent on an unknown channel: %v", err)
	}
	v, err := h.Engine.Customer(t.Context(), "c")
	if err != nil || v.Consent["email"] || v.Consent["chat"] || len(v.History) != 2 {
		t.Fatalf("customer view = %+v, %v", v, err)
	}
}

func TestForgetErasesTheCustomerAndCancelsWhatIsPending(t *testing.T) {
	h := newHarness(t, t0, twoSteps, birthday)
	ev := cart("gone", 20)
	ev.Customer["birthday"] = "06-01"
	h.Event(ev)
	if n := h.Scheduler.Len(); n != 2 {
		t.Fatalf("%d tasks pending, want the first step and the birthday timer", n)
	}
	if err := h.Engine.Forget(t.Context(), "gone"); err != nil {
		t.Fatal(err)
	}
	if n := h.Scheduler.Len(); n != 0 {
		t.Fatalf("%d tasks still pending after erasing the customer", n)
	}
	h.Advance(365 * 24 * time.Hour)
	v, _ := h.Engine.Customer(t.Context(), "gone")
	if len(h.Sent.To("gone@x.example")) != 0 || len(v.Profile) != 0 || len(v.Enrolments) != 0 || len(v.History) != 0 {
		t.Fatalf("after erasing: sent %d, view %+v", len(h.Sent.To("gone@x.example")), v)
	}
	keys, err := h.Redis.Client(t).Keys(t.Context(), "rapport:{gone}:*").Result()
	if err != nil || len(keys) != 1 || keys[0] != "rapport:{gone}:erased" {
		t.Fatalf("keys left after erasing: %v, %v; want only when the customer was erased", keys, err)
	}
}

// An event accepted before the customer asked to be forgotten, and processed after, does
// not bring them back.
func TestAnEventQueuedBeforeTheErasureDoesNotBringTheCustomerBack(t *testing.T) {
	h := newHarness(t, t0, twoSteps)
	h.Event(cart("gone", 20))
	queued := cart("gone", 30) // accepted now, processed after the erasure
	queued.ID, queued.OccurredAt = "queued", t0
	h.Advance(time.Minute)
	if err := h.Engine.Forget(t.Context(), "gone"); err != nil {
		t.Fatal(err)
	}
	if err := h.Engine.HandleEvent(t.Context(), queued); err != nil {
		t.Fatal(err)
	}
	h.Advance(30 * 24 * time.Hour)
	if _, err := h.Engine.Customer(t.Context(), "gone"); !errors.Is(err, engine.ErrUnknownCustomer) {
		t.Fatalf("Customer(gone) after a queued event = %v, want ErrUnknownCustomer", err)
	}
	if n := len(h.Sent.To("gone@x.example")); n != 0 {
		t.Fatalf("%d messages to the erased customer", n)
	}
}

// TestErasureCancelsTheTimersOfJourneysSinceRemoved: the customer's timers are fields of
// their hash, so erasure finds and cancels every one, also of a journey the config no
// longer has.
func TestErasureCancelsTheTimersOfJourneysSinceRemoved(t *testing.T) {
	h := newHarness(t, t0, twoSteps, birthday)
	ev := cart("gone", 20)
	ev.Customer["birthday"] = "06-01"
	h.Event(ev)
	reload(t, h, twoSteps)
	ctx := t.Context()
	rdb := h.Redis.Client(t)
	if n := h.Scheduler.Len(); n != 2 {
		t.Fatalf("%d tasks pending, want the first step and the timer", n)
	}
	v, err := h.Engine.Customer(ctx, "gone")
	if err != nil || len(v.Enrolments) != 1 || v.Enrolments[0].NextStep != "first" || !v.Enrolments[0].Due.Equal(t0.Add(time.Hour)) {
		t.Fatalf("customer = %+v, %v; want the cart enrolment, its first step due in an hour", v, err)
	}
	for k := range v.Profile {
		if strings.HasPrefix(k, event.ReservedPrefix) {
			t.Errorf("the profile shows Rapport's own field %s", k)
		}
	}
	if err := h.Engine.Forget(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if n := h.Scheduler.Len(); n != 0 {
		t.Fatalf("%d tasks still pending after erasing the customer", n)
	}
	if keys, err := rdb.Keys(ctx, "rapport:{gone}:*").Result(); err != nil || len(keys) != 1 || keys[0] != "rapport:{gone}:erased" {
		t.Fatalf("keys left after erasing: %v, %v; want only when the customer was erased", keys, err)
	}
}

func TestOncePerCartRemindsOncePerCartAndFollowsTheNewest(t *testing.T) {
	h := newHarness(t, t0, `
id: cart
trigger: {event: cart.abandoned, once_per: event.data.cart_id}
exit_on: [order.placed]
steps:
  - {id: reminder, wait: 1h, send: {template: hello, channels: [email]}}
`)
	abandon := func(cart string) {
		h.Event(event.Event{Type: "cart.abandoned", CustomerID: "c", Customer: map[string]any{"email": "c@x.example"},
			Data: map[string]any{"cart_id": cart}})
	}
	abandon("A")
	h.Advance(30 * time.Minute)
	abandon("B") // a new cart replaces the pending reminder about A
	h.Advance(2 * time.Hour)
	abandon("B") // the same cart again, after its reminder: ignored
	abandon("A") // and the older one too
	h.Advance(2 * time.Hour)
	msgs := h.Sent.To("c@x.example")
	if len(msgs) != 1 || h.Scheduler.Cancelled != 1 {
		t.Fatalf("%d reminders, %d cancelled; want one reminder (for B) and A's cancelled", len(msgs), h.Scheduler.Cancelled)
	}
	if !strings.Contains(msgs[0].HTML, "about cart B") {
		t.Fatalf("the reminder was not about the newest cart:\n%s", msgs[0].HTML)
	}
	abandon("C") // a third cart, later: reminded
	h.Advance(2 * time.Hour)
	if n := len(h.Sent.To("c@x.example")); n != 2 {
		t.Fatalf("%d reminders after a new cart, want 2", n)
	}
}

func TestAJourneyThisWorkerDoesNotKnowIsRetriedNotEnded(t *testing.T) {
	h := newHarness(t, t0, twoSteps)
	h.Event(cart("c", 20))
	full := h.Engine.Journeys()
	empty, err := workflows.NewSet(nil)
	if err != nil {
		t.Fatal(err)
	}
	// A rolling deploy: this worker runs without the journey for a while.
	h.Engine.SetJourneys(empty)
	h.Advance(time.Hour + time.Minute) // due, tried, retried a minute later
	if n := len(h.Sent.To("c@x.example")); n != 0 {
		t.Fatalf("%d messages from a journey this worker does not know", n)
	}
	if en, err := h.Store.Enrolment(t.Context(), "cart", "c"); err != nil || en == nil {
		t.Fatalf("the enrolment ended because one worker did not know its journey (%v)", err)
	}
	h.Engine.SetJourneys(full)
	h.Advance(time.Minute)
	if n := len(h.Sent.To("c@x.example")); n != 1 {
		t.Fatalf("%d messages once the journey is known again, want the retried step's one", n)
	}
}
