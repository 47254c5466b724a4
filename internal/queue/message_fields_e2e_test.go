package queue_test

// These tests need the engine to copy three of the rendered message's fields into
// channels.Message (engine.render): Channel: d.Channel.Name, Customer: d.Customer,
// WhatsApp: r.WhatsApp. Until it does they are skipped; with those lines they pass.

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/channels/webhook"
	"github.com/rapporthq/rapport/channels/whatsapp"
	"github.com/rapporthq/rapport/channels/whatsapp/whatsapptest"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/queue"
	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/testutil"
)

// The whatsapp channel sends the approved template the .msg.txt names, its params
// rendered for the customer.
func TestAWhatsAppStepSendsTheTemplateItsMsgTxtNames(t *testing.T) {
	api := whatsapptest.Start(t)
	wa, err := whatsapp.New(whatsapp.Config{Token: whatsapptest.Token, PhoneNumberID: whatsapptest.PhoneNumberID, APIURL: api.URL})
	if err != nil {
		t.Fatal(err)
	}
	rdb := redistest.Start(t).Client(t)
	eng := newEngineWith(t, rdb, "../../templates/testdata/whatsapp", channels.Set{"whatsapp": {Name: "whatsapp",
		Type: channels.Type{Name: "whatsapp", Kind: channels.KindMsg, AddressKey: "phone"}, Channel: wa}}, `
id: thanks
trigger: {event: order.placed}
steps:
  - send: {template: order-thanks, channels: [whatsapp]}
`)
	w := queue.NewWorker(rdb, eng, queue.WorkerConfig{Concurrency: 2, PollInterval: 100 * time.Millisecond, RetryBase: 200 * time.Millisecond})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown()
	err = eng.HandleEvent(context.Background(), event.Event{ID: "o-1", Type: "order.placed", CustomerID: "anna", OccurredAt: time.Now(),
		Customer: map[string]any{"first_name": "Anna", "phone": "+15550100042"}, Data: map[string]any{"order_id": "A-1001"}})
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "the message at the Cloud API", func() bool { return len(api.Messages()) == 1 })
	m := api.Messages()[0]
	if m.Type != "template" || m.Template != "order_thanks" || m.Language != "en" || !slices.Equal(m.Params, []string{"Anna", "A-1001"}) {
		t.Fatalf("the Cloud API got %+v", m)
	}
}

// A webhook's body names the channel and carries the customer's profile.
func TestAWebhookPostsTheChannelNameAndTheCustomer(t *testing.T) {
	got := make(chan webhook.Payload, 1)
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := webhook.Verify(r, []byte("s"), time.Minute, time.Now())
		var p webhook.Payload
		if err == nil {
			err = json.Unmarshal(body, &p)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got <- p
	}))
	defer crm.Close()
	hook, err := webhook.New(webhook.Config{URL: crm.URL, Secret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	rdb := redistest.Start(t).Client(t)
	eng := newEngineWith(t, rdb, "../../templates", channels.Set{"crm": {Name: "crm",
		Type: channels.Type{Name: "webhook", Kind: channels.KindMsg, AddressKey: "customer_id"}, Channel: hook}}, `
id: call
trigger: {event: order.placed}
steps:
  - send: {template: thank-you, channels: [crm]}
`)
	err = eng.HandleEvent(context.Background(), event.Event{ID: "o-1", Type: "order.placed", CustomerID: "anna", OccurredAt: time.Now(),
		Customer: anna, Data: map[string]any{"order_id": "A-1001"}})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-got:
		if p.Channel != "crm" || p.Customer["first_name"] != "Anna" || p.Customer["telegram_chat_id"] != "42" {
			t.Fatalf("payload %+v", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no POST")
	}
}
