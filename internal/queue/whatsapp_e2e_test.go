package queue_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/channels/whatsapp"
	"github.com/rapporthq/rapport/channels/whatsapp/whatsapptest"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/queue"
	"github.com/rapporthq/rapport/internal/redistest"
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
	eventually(t, 10*time.Second, "the message at the Cloud API", func() bool { return len(api.Messages()) == 1 })
	m := api.Messages()[0]
	if m.Type != "template" || m.Template != "order_thanks" || m.Language != "en" || !slices.Equal(m.Params, []string{"Anna", "A-1001"}) {
		t.Fatalf("the Cloud API got %+v", m)
	}
}
