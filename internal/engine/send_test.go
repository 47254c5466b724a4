package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/channels/email"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/duration"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/engine/enginetest"
	"github.com/rapporthq/rapport/internal/policy"
	"github.com/rapporthq/rapport/internal/smtptest"
	"github.com/rapporthq/rapport/internal/store"
	"github.com/rapporthq/rapport/workflows"
)

// tenJourneys are ten journeys that each send one email an hour after sign-up: ten steps
// that fall due for one customer at once.
func tenJourneys() []string {
	var out []string
	for i := range 10 {
		out = append(out, fmt.Sprintf("id: j%d\ntrigger: {event: signed.up}\nsteps:\n  - {id: hello, wait: 1h, send: {template: hello, channels: [email]}}\n", i))
	}
	return out
}

func signedUp(cid string) event.Event {
	return event.Event{Type: "signed.up", CustomerID: cid, Customer: map[string]any{"email": cid + "@x.example"}}
}

// outcomes counts the customer's history by outcome.
func outcomes(h *enginetest.Harness, cid string) map[string]int {
	n := map[string]int{}
	for _, r := range h.History(cid) {
		n[r.Outcome]++
	}
	return n
}

func TestCapsHoldWhenStepsFallDueAtOnce(t *testing.T) {
	h := enginetest.New(t, enginetest.Config{Start: t0, Journeys: tenJourneys(), Templates: "testdata/templates",
		Policies: func(*store.Store) []engine.Policy {
			return []engine.Policy{policy.NewCaps(map[string]policy.Limit{"email": {Limit: 2, Per: 24 * time.Hour}})}
		}})
	h.Event(signedUp("c"))
	h.AdvanceConcurrently(time.Hour) // ten steps at once, as ten workers would run them
	h.Advance(time.Hour)             // and whatever had to be retried
	if got := outcomes(h, "c"); got["sent"] != 2 || got["capped"] != 8 || len(got) != 2 {
		t.Fatalf("outcomes = %v, want exactly 2 sent and 8 capped", got)
	}
	if n := len(h.Sent.To("c@x.example")); n != 2 {
		t.Fatalf("%d emails went out under a cap of 2", n)
	}
}

func smtpChannel(t *testing.T, srv *smtptest.Server, timeout time.Duration) channels.Named {
	t.Helper()
	ch, err := email.NewSMTP(email.SMTPConfig{Host: srv.Host, Port: srv.Port, From: "Shop <hello@shop.example>",
		TLS: "none", Pool: 1, Timeout: duration.Duration(timeout)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	return channels.Named{Name: "email", Type: channels.Type{Name: "smtp", Kind: channels.KindEmail, AddressKey: "email"}, Channel: ch}
}

const oneStep = `
id: welcome
trigger: {event: signed.up}
steps:
  - {id: hello, wait: 1h, send: {template: hello, channels: [email]}}
  - {id: again, wait: 1d, send: {template: hello, channels: [email]}}
`

func TestALateAnswerAfterDataIsUncertainAndNeverSentAgain(t *testing.T) {
	// The server takes the whole message and answers long after the client gave up.
	srv := smtptest.Start(t, smtptest.WithDelay(time.Second))
	h := enginetest.New(t, enginetest.Config{Start: t0, Journeys: []string{oneStep}, Templates: "testdata/templates",
		Channels: channels.Set{"email": smtpChannel(t, srv, 200*time.Millisecond)}})
	h.Event(signedUp("c"))
	h.Advance(2 * time.Hour) // the step and any retries of it
	srv.WaitFor(t, 1, 5*time.Second)
	time.Sleep(1500 * time.Millisecond) // a second copy, had one been sent, would be in by now
	if n := srv.Count(); n != 1 {
		t.Fatalf("the server received %d copies, want 1", n)
	}
	hist := h.History("c")
	if len(hist) != 1 || hist[0].Outcome != "uncertain" || hist[0].Channel != "email" {
		t.Fatalf("history = %+v, want one uncertain email", hist)
	}
	h.Advance(24 * time.Hour) // the journey went on (the server is still slow)
	if hist := h.History("c"); len(hist) != 2 || hist[0].Step != "again" {
		t.Fatalf("history = %+v, want the next step run too", hist)
	}
}

func TestARedisRestartMidSendLosesNothingAndLeavesNothingUncertain(t *testing.T) {
	var h *enginetest.Harness
	restarted := make(chan error, 1)
	sent := 0
	restarting := channels.ChannelFunc(func(ctx context.Context, m channels.Message) (channels.Receipt, error) {
		if err := channels.HandOver(ctx); err != nil {
			return channels.Receipt{}, channels.Temporary(err)
		}
		sent++
		if sent == 1 { // Redis goes away while the first message is out, back two seconds later
			h.Redis.Stop()
			go func() {
				time.Sleep(2 * time.Second) // longer than go-redis's own retries
				restarted <- h.Redis.Resume()
			}()
		}
		return channels.Receipt{ProviderID: fmt.Sprintf("q-%d", sent)}, nil
	})
	h = enginetest.New(t, enginetest.Config{Start: t0, Journeys: []string{oneStep}, Templates: "testdata/templates",
		Channels: channels.Set{"email": {Name: "email", Type: channels.Type{Name: "f", Kind: channels.KindEmail, AddressKey: "email"}, Channel: restarting}}})
	h.Event(signedUp("c"))
	h.Advance(2 * time.Hour)
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	h.Advance(24 * time.Hour)
	if sent != 2 {
		t.Fatalf("%d sends, want one per step", sent)
	}
	hist := h.History("c")
	if len(hist) != 2 || hist[0].Outcome != "sent" || hist[1].Outcome != "sent" || hist[1].ProviderID != "q-1" {
		t.Fatalf("history = %+v, want both steps sent, the first with its provider id", hist)
	}
}

// flaky fails with err on the first n sends after handing the message over, then sends.
type flaky struct {
	mu    sync.Mutex
	n     int
	err   error
	calls int
}

func (f *flaky) Send(ctx context.Context, m channels.Message) (channels.Receipt, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := channels.HandOver(ctx); err != nil {
		return channels.Receipt{}, channels.Temporary(err)
	}
	f.calls++
	if f.calls <= f.n {
		return channels.Receipt{}, f.err
	}
	return channels.Receipt{}, nil
}

func TestOnUncertainChoosesBetweenAtMostAndAtLeastOnce(t *testing.T) {
	for _, c := range []struct {
		name, mode string
		calls      int
		outcome    string
	}{
		{"skip, the default, records it uncertain and sends nothing more", "", 1, "uncertain"},
		{"resend sends it again", "on_uncertain: resend\n", 2, "sent"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ch := &flaky{n: 1, err: channels.Uncertain(errors.New("no answer to the end of DATA"))}
			h := enginetest.New(t, enginetest.Config{Start: t0, Journeys: []string{c.mode + strings.TrimPrefix(oneStep, "\n")},
				Templates: "testdata/templates",
				Channels:  channels.Set{"email": {Name: "email", Type: channels.Type{Name: "f", Kind: channels.KindEmail, AddressKey: "email"}, Channel: ch}}})
			h.Event(signedUp("c"))
			h.Advance(2 * time.Hour)
			hist := h.History("c")
			if ch.calls != c.calls || len(hist) != 1 || hist[0].Outcome != c.outcome {
				t.Fatalf("%d sends, history %+v; want %d sends and %s", ch.calls, hist, c.calls, c.outcome)
			}
			if c.outcome == "sent" && !strings.Contains(hist[0].Reason, "uncertain") {
				t.Errorf("reason %q does not say the message was sent again after an uncertain attempt", hist[0].Reason)
			}
		})
	}
}

func TestAMessageHandedOverByADeadAttempt(t *testing.T) {
	for _, c := range []struct {
		name, mode string
		sends      int
		outcome    string
	}{
		{"is recorded uncertain with on_uncertain: skip", "", 0, "uncertain"},
		{"is sent again with on_uncertain: resend", "on_uncertain: resend\n", 1, "sent"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := enginetest.New(t, enginetest.Config{Start: t0, Journeys: []string{c.mode + strings.TrimPrefix(oneStep, "\n")},
				Templates: "testdata/templates"})
			h.Event(signedUp("c"))
			en, err := h.Store.Enrolment(t.Context(), "welcome", "c")
			if err != nil || en == nil {
				t.Fatal(en, err)
			}
			// A worker took the message, handed it to the channel, and was killed.
			msg := en.ID + "-hello"
			dead := store.Reservation{CustomerID: "c", MessageID: msg, Token: "dead", Channel: "email",
				Address: "c@x.example", At: t0, Lease: time.Millisecond}
			if r, err := h.Store.Reserve(t.Context(), dead); err != nil || r.Status != store.ReserveOK {
				t.Fatal(r, err)
			}
			if err := h.Store.HandOver(t.Context(), "c", msg, "dead", time.Millisecond); err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Millisecond)
			h.Advance(2 * time.Hour)
			hist := h.History("c")
			if n := len(h.Sent.To("c@x.example")); n != c.sends || len(hist) != 1 || hist[0].Outcome != c.outcome {
				t.Fatalf("%d sends, history %+v; want %d sends and %s", n, hist, c.sends, c.outcome)
			}
		})
	}
}

func TestAStaleAttemptWaitsForALiveOne(t *testing.T) {
	h := enginetest.New(t, enginetest.Config{Start: t0, Journeys: []string{oneStep}, Templates: "testdata/templates"})
	h.Event(signedUp("c"))
	en, err := h.Store.Enrolment(t.Context(), "welcome", "c")
	if err != nil || en == nil {
		t.Fatalf("enrolment = %+v, %v", en, err)
	}
	live := store.Reservation{CustomerID: "c", MessageID: en.ID + "-hello", Token: "live", Channel: "email",
		Address: "c@x.example", At: t0, Lease: time.Hour}
	if r, err := h.Store.Reserve(t.Context(), live); err != nil || r.Status != store.ReserveOK {
		t.Fatal(r, err)
	}
	h.Advance(time.Hour) // due: the live owner is still at it
	if n := len(h.Sent.To("c@x.example")); n != 0 || len(h.History("c")) != 0 {
		t.Fatalf("%d sends and history %+v while another attempt owns the message", n, h.History("c"))
	}
}

const fallback = `
id: fb
trigger: {event: signed.up}
steps:
  - {id: hello, wait: 1h, send: {template: hello, channels: [preferred, chat, email]}}
`

func TestChannelsFallBackInOrderAndSayWhy(t *testing.T) {
	for _, c := range []struct {
		name     string
		customer map[string]any
		chatErr  error
		outcome  string
		channel  string
		passed   string
	}{
		{"no preferred channel", map[string]any{"chat_id": "42", "email": "a@x.example"}, nil, "sent", "chat",
			"preferred: no preferred_channel"},
		{"an unknown preferred channel", map[string]any{"preferred_channel": "fax", "chat_id": "42"}, nil, "sent", "chat",
			"fax: unknown channel"},
		{"no address on the preferred channel", map[string]any{"preferred_channel": "email", "chat_id": "42"}, nil, "sent", "chat",
			"email: no address"},
		{"a permanent unreachable moves on at once", map[string]any{"chat_id": "42", "email": "a@x.example"},
			channels.Unreachable(errors.New("bot was blocked by the user")), "sent", "email",
			"preferred: no preferred_channel, chat: unreachable: bot was blocked by the user"},
		{"none usable", map[string]any{"chat_id": "42"}, channels.Unreachable(errors.New("chat not found")), "unreachable", "",
			"preferred: no preferred_channel, chat: unreachable: chat not found, email: no address"},
	} {
		t.Run(c.name, func(t *testing.T) {
			chat := &flaky{n: 100, err: c.chatErr}
			if c.chatErr == nil {
				chat.n = 0
			}
			h := enginetest.New(t, enginetest.Config{Start: t0, Journeys: []string{fallback}, Templates: "testdata/templates",
				Channels: channels.Set{"chat": {Name: "chat", Type: channels.Type{Name: "f", Kind: channels.KindMsg, AddressKey: "chat_id"}, Channel: chat}}})
			h.Event(event.Event{Type: "signed.up", CustomerID: "c", Customer: c.customer})
			h.Advance(2 * time.Hour)
			hist := h.History("c")
			if len(hist) != 1 || hist[0].Outcome != c.outcome || hist[0].Channel != c.channel {
				t.Fatalf("history = %+v, want %s on %q", hist, c.outcome, c.channel)
			}
			var passed []string
			for _, p := range hist[0].Passed {
				passed = append(passed, p.Channel+": "+p.Reason)
			}
			if got := strings.Join(passed, ", "); got != c.passed {
				t.Errorf("passed over: %q, want %q", got, c.passed)
			}
		})
	}
}

const twoChatSteps = `
id: chats
trigger: {event: signed.up}
steps:
  - {id: one, wait: 1h, send: {template: hello, channels: [chat, email]}}
  - {id: two, wait: 1h, send: {template: hello, channels: [chat, email]}}
  - {id: three, wait: 1h, send: {template: hello, channels: [chat, email]}}
`

func TestABlockedChannelStaysClosedUntilANewAddress(t *testing.T) {
	blocked := map[string]bool{"42": true}
	var chatSends []string
	chat := channels.ChannelFunc(func(ctx context.Context, m channels.Message) (channels.Receipt, error) {
		if blocked[m.To] {
			return channels.Receipt{}, channels.Unreachable(errors.New("bot was blocked by the user"))
		}
		chatSends = append(chatSends, m.To)
		return channels.Receipt{}, nil
	})
	h := enginetest.New(t, enginetest.Config{Start: t0, Journeys: []string{twoChatSteps}, Templates: "testdata/templates",
		Channels: channels.Set{"chat": {Name: "chat", Type: channels.Type{Name: "f", Kind: channels.KindMsg, AddressKey: "chat_id"}, Channel: chat}}})
	h.Event(event.Event{Type: "signed.up", CustomerID: "c", Customer: map[string]any{"chat_id": "42", "email": "c@x.example"}})
	h.Advance(2 * time.Hour) // one: chat unreachable, email; two: chat blocked, email
	hist := h.History("c")
	if len(hist) != 2 || hist[0].Channel != "email" || len(hist[0].Passed) != 1 || hist[0].Passed[0].Reason != "blocked" {
		t.Fatalf("history = %+v, want the second step on email, chat passed over as blocked", hist)
	}
	h.Event(event.Event{Type: "profile.updated", CustomerID: "c", Customer: map[string]any{"chat_id": "43"}})
	h.Advance(time.Hour)
	if len(chatSends) != 1 || chatSends[0] != "43" {
		t.Fatalf("chat sends = %v, want the third step on the new chat id", chatSends)
	}
}

func TestARetryStaysOnItsChannel(t *testing.T) {
	// The first attempt fails temporarily on chat; meanwhile the customer's preference
	// moves to email. The retry still goes to chat, so nothing arrives twice.
	var h *enginetest.Harness
	tries := 0
	chat := channels.ChannelFunc(func(ctx context.Context, m channels.Message) (channels.Receipt, error) {
		if tries++; tries == 1 {
			h.Event(event.Event{Type: "profile.updated", CustomerID: "c", Customer: map[string]any{"preferred_channel": "email"}})
			return channels.Receipt{}, channels.Temporary(errors.New("429 too many requests"))
		}
		return channels.Receipt{}, nil
	})
	h = enginetest.New(t, enginetest.Config{Start: t0, Journeys: []string{fallback}, Templates: "testdata/templates",
		Channels: channels.Set{"chat": {Name: "chat", Type: channels.Type{Name: "f", Kind: channels.KindMsg, AddressKey: "chat_id"}, Channel: chat}}})
	h.Event(event.Event{Type: "signed.up", CustomerID: "c", Customer: map[string]any{"preferred_channel": "chat", "chat_id": "42", "email": "c@x.example"}})
	h.Advance(2 * time.Hour)
	hist := h.History("c")
	if tries != 2 || len(h.Sent.To("c@x.example")) != 0 || len(hist) != 1 || hist[0].Channel != "chat" {
		t.Fatalf("%d chat tries, %d emails, history %+v; want the retry on chat", tries, len(h.Sent.To("c@x.example")), hist)
	}
}

// counter is an observer that counts what it hears.
type counter struct {
	engine.NopObserver
	mu       sync.Mutex
	outcomes map[string]int
	changes  map[engine.Change]int
	last     engine.Observation
}

func (c *counter) Outcome(_ context.Context, o engine.Observation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.outcomes[o.Step+":"+string(o.Outcome)]++
	c.last = o
}

func (c *counter) Enrolment(_ context.Context, ch engine.EnrolmentChange) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.changes[ch.Change]++
}

func TestTheObserverHearsOfEachOutcomeAndEnrolmentOnce(t *testing.T) {
	obs := &counter{outcomes: map[string]int{}, changes: map[engine.Change]int{}}
	h := enginetest.New(t, enginetest.Config{Start: t0, Journeys: []string{twoSteps}, Templates: "testdata/templates", Observer: obs})
	fails := 0
	h.Sent.Fail = func(m channels.Message) error {
		if fails++; fails == 1 {
			return channels.Temporary(errors.New("451 try later")) // retried: not an outcome
		}
		return nil
	}
	h.Event(cart("done", 20))  // completes: two sends
	h.Event(cart("buyer", 20)) // exits by a goal event
	h.Event(cart("gone", 20))  // erased
	h.Advance(30 * time.Minute)
	h.Event(event.Event{Type: "order.placed", CustomerID: "buyer"})
	if err := h.Engine.Forget(t.Context(), "gone"); err != nil {
		t.Fatal(err)
	}
	h.Advance(48 * time.Hour)
	if obs.outcomes["first:sent"] != 1 || obs.outcomes["second:sent"] != 1 || len(obs.outcomes) != 2 {
		t.Errorf("outcomes = %v, want first and second sent once each", obs.outcomes)
	}
	want := map[engine.Change]int{engine.Entered: 3, engine.Completed: 1, engine.Exited: 1, engine.Ended: 1}
	for k, n := range want {
		if obs.changes[k] != n {
			t.Errorf("enrolment changes = %v, want %v", obs.changes, want)
			break
		}
	}
	if o := obs.last; !o.Due.Equal(t0.Add(25*time.Hour)) || o.Ran.Before(o.Due) || o.Channel != "email" {
		t.Errorf("last observation = %+v, want due at %v on email", o, t0.Add(25*time.Hour))
	}
}

const threeIDs = `
id: edit
trigger: {event: signed.up}
steps:
  - {id: a, wait: 1h, send: {template: hello, channels: [email]}}
  - {id: b, wait: 1d, send: {template: hello, channels: [email]}}
  - {id: c, wait: 1d, send: {template: hello, channels: [email]}}
`

// reload loads journeys as a live reload would.
func reload(t *testing.T, h *enginetest.Harness, journey string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "j.yaml"), []byte(journey), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := workflows.Load(dir, workflows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h.Engine.SetJourneys(set)
}

func steps(h *enginetest.Harness, cid string) string {
	var out []string
	for _, r := range h.History(cid) {
		out = append([]string{r.Step + ":" + r.Outcome}, out...)
	}
	return strings.Join(out, " ")
}

func TestEnrolmentsKeepTheirPlaceWhenAJourneyIsEdited(t *testing.T) {
	t.Run("a step inserted before the one a customer waits for", func(t *testing.T) {
		h := enginetest.New(t, enginetest.Config{Start: t0, Journeys: []string{threeIDs}, Templates: "testdata/templates"})
		h.Event(signedUp("c"))
		h.Advance(2 * time.Hour) // a sent; waiting for b
		reload(t, h, strings.Replace(threeIDs, "  - {id: b,", "  - {id: new, wait: 1d, send: {template: hello, channels: [email]}}\n  - {id: b,", 1))
		h.Advance(3 * 24 * time.Hour)
		if got := steps(h, "c"); got != "a:sent b:sent c:sent" {
			t.Fatalf("steps = %q, want b and c as before the edit, not the inserted step", got)
		}
	})
	t.Run("the step a customer waits for removed", func(t *testing.T) {
		h := enginetest.New(t, enginetest.Config{Start: t0, Journeys: []string{threeIDs}, Templates: "testdata/templates"})
		h.Event(signedUp("c"))
		h.Advance(2 * time.Hour) // a sent; waiting for b
		reload(t, h, strings.Replace(threeIDs, "  - {id: b, wait: 1d, send: {template: hello, channels: [email]}}\n", "", 1))
		h.Advance(3 * 24 * time.Hour)
		if got := steps(h, "c"); got != "a:sent b:skipped c:sent" {
			t.Fatalf("steps = %q, want b skipped and the journey gone on to c", got)
		}
		if r := h.History("c")[1]; r.Reason != "step removed from the journey" {
			t.Errorf("reason = %q", r.Reason)
		}
	})
}

func TestEveryKeyOfACustomerSharesOneClusterSlot(t *testing.T) {
	h := enginetest.New(t, enginetest.Config{Start: t0, Journeys: []string{oneStep}, Templates: "testdata/templates",
		Policies: func(*store.Store) []engine.Policy {
			return []engine.Policy{policy.NewCaps(map[string]policy.Limit{"email": {Limit: 2, Per: 24 * time.Hour}, "all": {Limit: 3, Per: 24 * time.Hour}})}
		}})
	h.Event(event.Event{Type: "order.placed", CustomerID: "c-42", Customer: map[string]any{"email": "a@x.example"}, Data: map[string]any{"total": 5}})
	h.Event(signedUp("c-42"))
	h.Advance(2 * time.Hour)
	if err := h.Engine.SetConsent(t.Context(), "c-42", "email", true); err != nil {
		t.Fatal(err)
	}
	rdb := h.Redis.Client(t)
	keys, err := rdb.Keys(t.Context(), "rapport:*").Result()
	if err != nil || len(keys) < 6 {
		t.Fatalf("keys = %v, %v", keys, err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "rapport:{c-42}:") {
			t.Errorf("key %q does not carry the customer as its hash tag", k)
		}
	}
	// Erasure takes the send claims along; the order's dedup marker expires on its own,
	// and so does the time of the erasure.
	if err := h.Engine.Forget(t.Context(), "c-42"); err != nil {
		t.Fatal(err)
	}
	keys, err = rdb.Keys(t.Context(), "rapport:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "rapport:{c-42}:applied:") && k != "rapport:{c-42}:erased" {
			t.Errorf("key %q outlived the customer's erasure", k)
		}
	}
}

func TestAnEnrollingEventReplayedAfterItsJourneyEndedSendsNothingAgain(t *testing.T) {
	h := enginetest.New(t, enginetest.Config{Start: t0, Journeys: []string{oneStep}, Templates: "testdata/templates"})
	ev := signedUp("c")
	ev.ID = "signup-1"
	h.Event(ev)
	h.Advance(3 * 24 * time.Hour) // both steps; the enrolment ended
	h.Event(ev)                   // the event task runs again (a retry after a crash, say)
	h.Advance(3 * 24 * time.Hour)
	if n := len(h.Sent.To("c@x.example")); n != 2 {
		t.Fatalf("%d messages, want the 2 of the first run only", n)
	}
	if n := len(h.History("c")); n != 2 {
		t.Fatalf("%d history lines, want 2", n)
	}
}

func TestAFailedMessageDoesNotCountTowardsTheCaps(t *testing.T) {
	h := enginetest.New(t, enginetest.Config{Start: t0, Journeys: []string{oneStep}, Templates: "testdata/templates",
		Policies: func(*store.Store) []engine.Policy {
			return []engine.Policy{policy.NewCaps(map[string]policy.Limit{"email": {Limit: 1, Per: 7 * 24 * time.Hour}})}
		}})
	first := true
	h.Sent.Fail = func(channels.Message) error {
		if first {
			first = false
			return errors.New("550 mailbox unavailable")
		}
		return nil
	}
	h.Event(signedUp("c"))
	h.Advance(3 * 24 * time.Hour)
	if got := steps(h, "c"); got != "hello:failed again:sent" {
		t.Fatalf("steps = %q, want the second one sent: the failed one never went out", got)
	}
}

func TestAnImmediateStepWaitsOutTheChannelsRetryAfter(t *testing.T) {
	h := enginetest.New(t, enginetest.Config{Start: t0, Templates: "testdata/templates", Journeys: []string{`
id: now
trigger: {event: signed.up}
steps:
  - {id: hello, send: {template: hello, channels: [email]}}
`}})
	first := true
	h.Sent.Fail = func(channels.Message) error {
		if first {
			first = false
			return &channels.TemporaryError{Err: errors.New("429 too many requests"), RetryAfter: 90 * time.Second}
		}
		return nil
	}
	h.Event(signedUp("c")) // the step runs at once, inside the event's task, and is refused
	h.Advance(89 * time.Second)
	if n := len(h.Sent.To("c@x.example")); n != 0 {
		t.Fatalf("%d messages before the channel's retry-after passed", n)
	}
	h.Advance(time.Second)
	if n := len(h.Sent.To("c@x.example")); n != 1 {
		t.Fatalf("%d messages once the retry-after passed, want 1", n)
	}
}
