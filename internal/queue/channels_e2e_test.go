package queue_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/channels/email"
	"github.com/rapporthq/rapport/channels/telegram"
	"github.com/rapporthq/rapport/channels/telegram/telegramtest"
	"github.com/rapporthq/rapport/channels/webhook"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/queue"
	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/smtptest"
	"github.com/rapporthq/rapport/internal/store"
	"github.com/rapporthq/rapport/internal/testutil"
)

// These tests run journeys through the real worker (asynq on a private redis-server) to
// the real telegram channel, against a fake Bot API that answers as Telegram does, with
// email over SMTP next to it.

// messenger is a running stack: a telegram channel on a fake Bot API and an SMTP channel
// on an in-process server, an engine with the journeys, and a worker retrying quickly.
type messenger struct {
	bot  *telegramtest.Server
	smtp *smtptest.Server
	rdb  *redis.Client
	eng  *engine.Engine
}

func startMessenger(t *testing.T, journeys ...string) *messenger {
	t.Helper()
	m := &messenger{bot: telegramtest.Start(t), smtp: smtptest.Start(t), rdb: redistest.Start(t).Client(t)}
	tg, err := telegram.New(telegram.Config{Token: telegramtest.Token, APIURL: m.bot.URL})
	if err != nil {
		t.Fatal(err)
	}
	mailer, err := email.NewSMTP(email.SMTPConfig{Host: m.smtp.Host, Port: m.smtp.Port, TLS: "none", From: "Shop <hello@shop.example>"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mailer.Close() })
	set := channels.Set{
		"telegram": {Name: "telegram", Type: channels.Type{Name: "telegram", Kind: channels.KindMsg, AddressKey: "telegram_chat_id"}, Channel: tg},
		"email":    {Name: "email", Type: channels.Type{Name: "smtp", Kind: channels.KindEmail, AddressKey: "email"}, Channel: mailer},
	}
	m.eng = newEngineWith(t, m.rdb, "../../templates", set, journeys...)
	w := queue.NewWorker(m.rdb, m.eng, queue.WorkerConfig{Concurrency: 4, PollInterval: 100 * time.Millisecond, RetryBase: 200 * time.Millisecond})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	return m
}

func (m *messenger) event(t *testing.T, id, typ, cid string, customer map[string]any) {
	t.Helper()
	err := m.eng.HandleEvent(context.Background(), event.Event{ID: id, Type: typ, CustomerID: cid, OccurredAt: time.Now(),
		Customer: customer, Data: map[string]any{"order_id": "A-1001", "total": 20.0}})
	if err != nil {
		t.Fatal(err)
	}
}

func (m *messenger) history(cid string) []store.Record {
	h, err := store.New(m.rdb).History(context.Background(), cid)
	if err != nil {
		return nil
	}
	return h
}

const thanks = `
id: thanks
trigger: {event: order.placed}
steps:
  - send: {template: thank-you, channels: [telegram, email]}
`

var anna = map[string]any{"email": "anna@example.com", "first_name": "Anna", "telegram_chat_id": "42"}

func TestATelegram5xxIsRetriedThenDeliveredOnce(t *testing.T) {
	m := startMessenger(t, thanks)
	m.bot.Script("42", telegramtest.BadGateway, telegramtest.Internal)
	m.event(t, "o-1", "order.placed", "anna", anna)
	testutil.WaitFor(t, 15*time.Second, "the thank-you recorded", func() bool { return len(m.history("anna")) > 0 })
	h := m.history("anna")
	if len(h) != 1 || h[0].Outcome != "sent" || h[0].Channel != "telegram" {
		t.Fatalf("history %+v, want one sent by telegram", h)
	}
	got := m.bot.Messages()
	if len(got) != 1 || got[0].ChatID != "42" || m.bot.Requests() != 3 {
		t.Fatalf("%d messages in %d requests, want 1 in 3", len(got), m.bot.Requests())
	}
	if want := strconv.FormatInt(got[0].MessageID, 10); h[0].ProviderID != want {
		t.Errorf("history keeps provider id %q, want the message_id %s", h[0].ProviderID, want)
	}
	if n := len(m.smtp.Messages()); n != 0 {
		t.Fatalf("%d emails: a retried telegram message must not change channel", n)
	}
}

func TestATelegramRetryComesNoSoonerThanRetryAfter(t *testing.T) {
	for _, tc := range []struct{ name, wait string }{
		{"for a step that went through the queue", "1s"},
		{"for a step sent while its event was processed", "0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := startMessenger(t, `
id: thanks
trigger: {event: order.placed}
steps:
  - wait: `+tc.wait+`
    send: {template: thank-you, channels: [telegram, email]}
`)
			m.bot.Script("42", telegramtest.TooManyRequests(1), telegramtest.TooManyRequests(2))
			m.event(t, "o-1", "order.placed", "anna", anna)
			testutil.WaitFor(t, 15*time.Second, "the thank-you delivered", func() bool { return len(m.bot.Messages()) == 1 })
			log := m.bot.Log()
			if len(log) != 3 {
				t.Fatalf("requests %+v, want 429, 429, 200", log)
			}
			for i, wait := range []time.Duration{time.Second, 2 * time.Second} {
				if gap := log[i+1].At.Sub(log[i].At); gap < wait {
					t.Errorf("retry %d came %v after a 429 with retry_after %v", i+1, gap, wait)
				}
			}
			// The history is written once the channel has answered: wait for it.
			testutil.WaitFor(t, 10*time.Second, "the thank-you recorded", func() bool { return len(m.history("anna")) > 0 })
			if h := m.history("anna"); len(h) != 1 || h[0].Outcome != "sent" {
				t.Fatalf("history %+v", h)
			}
		})
	}
}

// A CRM receives the step as a signed webhook: the first POST is answered 503, the retry
// carries the same Idempotency-Key and a valid signature, and the message is kept once.
func TestAWebhookRetryIsSignedAndCarriesTheSameIdempotencyKey(t *testing.T) {
	const secret = "crm-hook-secret"
	var mu sync.Mutex
	var keys []string
	var kept []webhook.Payload
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := webhook.Verify(r, []byte(secret), 5*time.Minute, time.Now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		keys = append(keys, r.Header.Get(webhook.HeaderIdempotencyKey))
		if len(keys) == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		var p webhook.Payload
		if err := json.Unmarshal(body, &p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		kept = append(kept, p)
	}))
	defer crm.Close()
	hook, err := webhook.New(webhook.Config{URL: crm.URL, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	rdb := redistest.Start(t).Client(t)
	eng := newEngineWith(t, rdb, "../../templates", channels.Set{"crm": {Name: "crm",
		Type: channels.Type{Name: "webhook", Kind: channels.KindMsg, AddressKey: "customer_id"}, Channel: hook}}, `
id: call
trigger: {event: order.placed}
steps:
  - id: call
    send: {template: thank-you, channels: [crm]}
`)
	w := queue.NewWorker(rdb, eng, queue.WorkerConfig{Concurrency: 4, PollInterval: 100 * time.Millisecond, RetryBase: 200 * time.Millisecond})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown()
	err = eng.HandleEvent(context.Background(), event.Event{ID: "o-1", Type: "order.placed", CustomerID: "anna", OccurredAt: time.Now(),
		Customer: anna, Data: map[string]any{"order_id": "A-1001", "total": 20.0}})
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 15*time.Second, "the CRM to keep the message", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(kept) == 1
	})
	mu.Lock()
	defer mu.Unlock()
	if len(keys) != 2 || keys[0] == "" || keys[1] != keys[0] {
		t.Fatalf("Idempotency-Keys %q, want the same one twice", keys)
	}
	p := kept[0]
	if p.ID != keys[0] || p.CustomerID != "anna" || p.Journey != "call" || p.Step != "call" || p.Template != "thank-you" || p.Text == "" {
		t.Fatalf("payload %+v", p)
	}
}
