package queue_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/hibiken/asynq"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/channels/email"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/queue"
	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/smtptest"
	"github.com/rapporthq/rapport/internal/store"
	"github.com/rapporthq/rapport/internal/testutil"
)

// TestSMTPFailuresAreRetriedOrRecordedThroughAsynq runs a step against a real SMTP server
// that answers 451 twice for one customer and 550 for another: the first message arrives
// once after asynq's retries, the second is recorded as failed without a retry.
func TestSMTPFailuresAreRetriedOrRecordedThroughAsynq(t *testing.T) {
	var busy atomic.Int32
	sink := smtptest.Start(t, smtptest.WithReject(func(rcpt string) *smtp.SMTPError {
		switch {
		case strings.HasPrefix(rcpt, "busy@") && busy.Add(1) <= 2:
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "greylisted, try later"}
		case strings.HasPrefix(rcpt, "gone@"):
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
		}
		return nil
	}))
	mailer, err := email.NewSMTP(email.SMTPConfig{Host: sink.Host, Port: sink.Port, TLS: "none", From: "Shop <hello@shop.example>"})
	if err != nil {
		t.Fatal(err)
	}
	defer mailer.Close()
	rdb := redistest.Start(t).Client(t)
	eng := newEngineWith(t, rdb, "testdata/templates", channels.Set{"email": {Name: "email",
		Type: channels.Type{Name: "smtp", Kind: channels.KindEmail, AddressKey: "email"}, Channel: mailer}}, `
id: hello
trigger: {event: signed.up}
steps:
  - send: {template: hello, channels: [email]}
`)
	w := queue.NewWorker(rdb, eng, queue.WorkerConfig{Concurrency: 4, PollInterval: 100 * time.Millisecond, RetryBase: 200 * time.Millisecond})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Shutdown()
	for _, cid := range []string{"busy", "gone"} {
		err := eng.HandleEvent(context.Background(), event.Event{ID: cid, Type: "signed.up", CustomerID: cid, OccurredAt: time.Now(),
			Customer: map[string]any{"email": cid + "@example.com"}})
		if err != nil {
			t.Fatal(err)
		}
	}
	st := store.New(rdb)
	outcome := func(cid string) string {
		h, _ := st.History(context.Background(), cid)
		if len(h) == 0 {
			return ""
		}
		return h[0].Outcome
	}
	testutil.WaitFor(t, 15*time.Second, "both outcomes recorded", func() bool { return outcome("busy") == "sent" && outcome("gone") == "failed" })
	if n := len(sink.Messages()); n != 1 || sink.Messages()[0].To[0] != "busy@example.com" {
		t.Fatalf("%d messages delivered, want busy's only", n)
	}
	if n := busy.Load(); n != 3 {
		t.Errorf("busy was tried %d times, want 3 (two 451s, then accepted)", n)
	}
	insp := asynq.NewInspectorFromRedisClient(rdb)
	if q, _ := insp.GetQueueInfo(queue.Steps); q.Retry != 0 || q.Archived != 0 {
		t.Errorf("steps left in retry %d or archived %d: a 550 must not be retried", q.Retry, q.Archived)
	}
	if h, _ := st.History(context.Background(), "gone"); len(h) != 1 || !strings.Contains(h[0].Reason, "550") {
		t.Errorf("gone's history = %+v, want one failure naming the 550", h)
	}
}
