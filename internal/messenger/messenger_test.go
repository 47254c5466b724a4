package messenger_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/channels/telegram"
	"github.com/rapporthq/rapport/channels/telegram/telegramtest"
	"github.com/rapporthq/rapport/client"
	"github.com/rapporthq/rapport/internal/messenger"
	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/signing"
	"github.com/rapporthq/rapport/internal/store"
)

const secret = "hook-secret"

// newHook returns the hook handler of a Listener with one Telegram channel, on a private
// redis-server, with chat 42 linked to customer c-1.
func newHook(tb testing.TB) (http.Handler, *store.Store) {
	bot := telegramtest.Start(tb)
	rdb := redistest.Start(tb).Client(tb)
	st := store.New(rdb)
	tg, err := telegram.New(telegram.Config{Token: telegramtest.Token, APIURL: bot.URL, WebhookSecret: secret})
	if err != nil {
		tb.Fatal(err)
	}
	typ, ok := channels.Lookup("telegram")
	if !ok {
		tb.Fatal("no telegram type")
	}
	set := channels.Set{"telegram": {Name: "telegram", Type: typ, Channel: tg}}
	l := messenger.New(messenger.Config{Store: st, Intake: client.NewFromRedis(rdb),
		Consent:  messenger.ConsentFunc(func(context.Context, string, string, bool) error { return nil }),
		Keys:     signing.NewKeys("a-test-secret-of-enough-length"),
		Channels: func() channels.Set { return set },
		Logger:   slog.New(slog.DiscardHandler)})
	if err := st.SetOwner(context.Background(), "telegram", "42", "c-1", 0); err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/hooks/{channel}", l.ServeHook)
	return mux, st
}

func post(h http.Handler, update string) int {
	r := httptest.NewRequest("POST", "/hooks/telegram", strings.NewReader(update))
	r.Header.Set(telegram.SecretHeader, secret)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

func TestAReplayedUpdateIsOneEvent(t *testing.T) {
	h, st := newHook(t)
	up := telegramtest.TextUpdate(9, 42, "hi")
	for range 3 {
		if code := post(h, up); code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	done, err := st.UpdateDone(context.Background(), messenger.UpdateEventID("123456", 9))
	if err != nil || !done {
		t.Fatalf("update not marked done: %v %v", done, err)
	}
}

// BenchmarkWebhookIntake measures the Telegram webhook taking text updates from a linked
// chat (secret check, decoding, the once-marker and the message.replied event durably in
// Redis) next to a bare net/http handler that only decodes the same JSON, in one run.
// Report: updates/s of each and their ratio.
func BenchmarkWebhookIntake(b *testing.B) {
	h, _ := newHook(b)
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var u telegram.Update
		body, err := io.ReadAll(r.Body)
		if err != nil || json.Unmarshal(body, &u) != nil {
			w.WriteHeader(400)
			return
		}
		w.WriteHeader(200)
	})
	var next atomic.Int64
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"rapport", h}} {
		b.Run(c.name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if code := post(c.h, telegramtest.TextUpdate(next.Add(1), 42, "where is my order?")); code != 200 {
						panic(fmt.Sprint("status ", code))
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
		})
	}
}
