package telegram_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/channels/telegram"
	"github.com/rapporthq/rapport/channels/telegram/telegramtest"
	"github.com/rapporthq/rapport/internal/duration"
	"github.com/rapporthq/rapport/internal/testutil"
)

func newChannel(t testing.TB, url string) *telegram.Telegram {
	t.Helper()
	tg, err := telegram.New(telegram.Config{Token: telegramtest.Token, APIURL: url, Timeout: duration.Duration(5 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func msg(chat, text string) channels.Message {
	return channels.Message{ID: "e1/s1", To: chat, CustomerID: "c-42", Text: text}
}

func TestAMessageIsDeliveredAsPlainTextWithItsMessageID(t *testing.T) {
	srv := telegramtest.Start(t)
	tg := newChannel(t, srv.URL)
	text := "Hi Anna! Order *A-1001* <b>is</b> on its way_ [link](x)"
	r, err := tg.Send(context.Background(), msg("123456789", text))
	if err != nil {
		t.Fatal(err)
	}
	got := srv.Messages()
	if len(got) != 1 || got[0].ChatID != "123456789" || got[0].Text != text {
		t.Fatalf("server got %+v", got)
	}
	if want := "1001"; r.ProviderID != want || got[0].MessageID != 1001 {
		t.Fatalf("provider id %q, want %q", r.ProviderID, want)
	}
	for _, chat := range []string{"-1001234567890", "@shop_news"} {
		if _, err := tg.Send(context.Background(), msg(chat, "hello")); err != nil {
			t.Fatalf("chat %s: %v", chat, err)
		}
	}
	if got := srv.Messages(); len(got) != 3 || got[1].ChatID != "-1001234567890" || got[2].ChatID != "@shop_news" {
		t.Fatalf("server got %+v", got)
	}
}

func TestEachAnswerBecomesTheErrorKindThatSaysWhatToDoNext(t *testing.T) {
	tests := []struct {
		name        string
		reply       telegramtest.Reply
		temporary   bool
		unreachable bool
		retryAfter  time.Duration
	}{
		{"too many requests waits at least retry_after", telegramtest.TooManyRequests(7), true, false, 7 * time.Second},
		{"a blocked bot makes the customer unreachable", telegramtest.Blocked, false, true, 0},
		{"a deactivated user is unreachable", telegramtest.Deactivated, false, true, 0},
		{"chat not found is unreachable", telegramtest.ChatNotFound, false, true, 0},
		{"a message too long is permanent", telegramtest.TooLong, false, false, 0},
		{"a bad gateway page is retried", telegramtest.BadGateway, true, false, 0},
		{"an internal error is retried", telegramtest.Internal, true, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := telegramtest.Start(t)
			tg := newChannel(t, srv.URL)
			srv.Script("42", tc.reply)
			_, err := tg.Send(context.Background(), msg("42", "hello"))
			if err == nil {
				t.Fatal("want an error")
			}
			var temp *channels.TemporaryError
			var unr *channels.UnreachableError
			if errors.As(err, &temp) != tc.temporary || errors.As(err, &unr) != tc.unreachable {
				t.Fatalf("error %v: temporary %v unreachable %v, want %v %v", err, errors.As(err, &temp), errors.As(err, &unr), tc.temporary, tc.unreachable)
			}
			if tc.temporary && temp.RetryAfter < tc.retryAfter {
				t.Fatalf("retry after %s, want at least %s", temp.RetryAfter, tc.retryAfter)
			}
			var api *telegram.Error
			if !errors.As(err, &api) || api.Status != tc.reply.Status {
				t.Fatalf("error %v carries no *telegram.Error with status %d", err, tc.reply.Status)
			}
			if len(srv.Messages()) != 0 {
				t.Fatal("a refused message was recorded as accepted")
			}
		})
	}
}

func TestA5xxThenSuccessDeliversOnce(t *testing.T) {
	srv := telegramtest.Start(t)
	tg := newChannel(t, srv.URL)
	srv.Script("42", telegramtest.BadGateway)
	if _, err := tg.Send(context.Background(), msg("42", "hello")); !channels.IsTemporary(err) {
		t.Fatalf("first send: %v, want temporary", err)
	}
	r, err := tg.Send(context.Background(), msg("42", "hello"))
	if err != nil || r.ProviderID == "" {
		t.Fatalf("retry: %v %+v", err, r)
	}
	if n := len(srv.Messages()); n != 1 || srv.Requests() != 2 {
		t.Fatalf("%d messages in %d requests, want 1 in 2", n, srv.Requests())
	}
}

func TestAWrongTokenIsPermanentAndNeverShown(t *testing.T) {
	srv := telegramtest.Start(t)
	tg, err := telegram.New(telegram.Config{Token: "999:wrong-SECRET", APIURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = tg.Send(context.Background(), msg("42", "hello"))
	if err == nil || channels.IsTemporary(err) || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("got %v, want a permanent error without the token", err)
	}
	if err := tg.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "token was refused") || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("check: %v", err)
	}
	if err := newChannel(t, srv.URL).Check(context.Background()); err != nil {
		t.Fatalf("check with the right token: %v", err)
	}
}

func TestABadChatIDIsUnreachableWithoutARequest(t *testing.T) {
	srv := telegramtest.Start(t)
	tg := newChannel(t, srv.URL)
	for _, to := range []string{"", "anna", "12 34", "+7999", "007", "-0"} {
		_, err := tg.Send(context.Background(), msg(to, "hello"))
		var unr *channels.UnreachableError
		if !errors.As(err, &unr) {
			t.Errorf("chat %q: %v, want unreachable", to, err)
		}
	}
	if srv.Requests() != 0 {
		t.Fatalf("%d requests made for bad chat ids", srv.Requests())
	}
}

func TestTheHandOverComesRightBeforeTheRequestAndItsRefusalSendsNothing(t *testing.T) {
	srv := telegramtest.Start(t)
	tg := newChannel(t, srv.URL)
	var handed atomic.Int32
	ctx := channels.WithHandOver(context.Background(), func(context.Context) error {
		if srv.Requests() != 0 {
			t.Error("hand-over after the request")
		}
		handed.Add(1)
		return nil
	})
	if _, err := tg.Send(ctx, msg("42", "hello")); err != nil || handed.Load() != 1 {
		t.Fatalf("send: %v, hand-overs %d", err, handed.Load())
	}
	refuse := channels.WithHandOver(context.Background(), func(context.Context) error { return errors.New("claim lost") })
	if _, err := tg.Send(refuse, msg("43", "hello")); !channels.IsTemporary(err) {
		t.Fatalf("refused hand-over: %v, want temporary", err)
	}
	if srv.Requests() != 1 {
		t.Fatalf("%d requests, want only the first", srv.Requests())
	}
}

func TestNoAnswerAfterTheRequestLeftIsUncertainAndNoConnectionIsTemporary(t *testing.T) {
	release := make(chan struct{})
	var got atomic.Int32
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	tg, err := telegram.New(telegram.Config{Token: telegramtest.Token, APIURL: slow.URL, Timeout: duration.Duration(300 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = tg.Send(context.Background(), msg("42", "hello"))
	var unc *channels.UncertainError
	if !errors.As(err, &unc) || got.Load() != 1 {
		t.Fatalf("timeout after the request: %v (requests %d), want uncertain", err, got.Load())
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := tg.Send(ctx, msg("42", "hello")); done <- err }()
	testutil.WaitFor(t, 5*time.Second, "the second request to reach the server", func() bool { return got.Load() >= 2 })
	cancel()
	if err := <-done; !errors.As(err, &unc) {
		t.Fatalf("cancelled while awaiting the answer: %v, want uncertain", err)
	}

	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	down := newChannel(t, closed.URL)
	if _, err := down.Send(context.Background(), msg("42", "hello")); !channels.IsTemporary(err) {
		t.Fatalf("no server: %v, want temporary", err)
	}
	cancelled, stop := context.WithCancel(context.Background())
	stop()
	if _, err := newChannel(t, slow.URL).Send(cancelled, msg("42", "hello")); !channels.IsTemporary(err) {
		t.Fatalf("ended context: %v, want temporary", err)
	}
}

func TestTheConfigIsChecked(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  telegram.Config
		want string
	}{
		{"no token", telegram.Config{}, "token is required"},
		{"a token of another shape", telegram.Config{Token: "abc"}, "does not look like a bot token"},
		{"an api url without scheme", telegram.Config{Token: telegramtest.Token, APIURL: "api.telegram.org"}, "api_url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := telegram.New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// BenchmarkSend measures messages per second through the telegram channel to a local
// fake Bot API, with no rate limit, from as many goroutines as GOMAXPROCS*8.
func BenchmarkSend(b *testing.B) {
	srv := telegramtest.Start(b)
	tg := newChannel(b, srv.URL)
	b.SetParallelism(8)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := tg.Send(context.Background(), msg("42", "Hi Anna, your order is on its way")); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkBareHTTP is the bare stack BenchmarkSend is measured against: the same JSON
// POST to the same fake with a plain net/http client and the same connection reuse, no
// channel around it.
func BenchmarkBareHTTP(b *testing.B) {
	srv := telegramtest.Start(b)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	client := &http.Client{Transport: tr}
	url := srv.URL + "/bot" + telegramtest.Token + "/sendMessage"
	body := `{"chat_id":42,"text":"Hi Anna, your order is on its way"}`
	b.SetParallelism(8)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(url, "application/json", strings.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				b.Error(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}
