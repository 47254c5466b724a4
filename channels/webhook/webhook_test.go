package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/channels/webhook"
)

const secret = "crm-hook-secret-0123456789"

// receiver is what a CRM would run: it verifies every request, drops repeated
// Idempotency-Keys, and answers with the statuses it is told to, in order.
type receiver struct {
	mu       sync.Mutex
	statuses []int
	keys     []string // Idempotency-Key of every verified request
	stored   map[string]webhook.Payload
	bad      int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := webhook.Verify(r, []byte(secret), 5*time.Minute, time.Now())
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err != nil {
		rc.bad++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	key := r.Header.Get(webhook.HeaderIdempotencyKey)
	rc.keys = append(rc.keys, key)
	if len(rc.statuses) > 0 {
		s := rc.statuses[0]
		rc.statuses = rc.statuses[1:]
		if s == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "30")
		}
		http.Error(w, http.StatusText(s), s)
		return
	}
	var p webhook.Payload
	if err := json.Unmarshal(body, &p); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if _, dup := rc.stored[key]; !dup {
		rc.stored[key] = p
	}
	w.WriteHeader(http.StatusAccepted)
}

func start(t *testing.T, statuses ...int) (*receiver, *webhook.Webhook) {
	rc := &receiver{statuses: statuses, stored: map[string]webhook.Payload{}}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	w, err := webhook.New(webhook.Config{URL: srv.URL + "/hooks/rapport", Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	return rc, w
}

func message() channels.Message {
	return channels.Message{ID: "enr-1/call", To: "c-42", CustomerID: "c-42", Channel: "crm", Text: "Call Anna about her order A-1001",
		Meta:     map[string]string{"journey": "win-back", "step": "call", "template": "win-back-call"},
		Customer: map[string]any{"first_name": "Anna", "phone": "+15550100042"}}
}

func TestTheReceiverVerifiesTheSignatureAndGetsTheWholeMessage(t *testing.T) {
	rc, w := start(t)
	if _, err := w.Send(context.Background(), message()); err != nil {
		t.Fatal(err)
	}
	p, ok := rc.stored["enr-1/call"]
	if !ok || rc.bad != 0 {
		t.Fatalf("stored %+v, bad %d", rc.stored, rc.bad)
	}
	want := webhook.Payload{ID: "enr-1/call", CustomerID: "c-42", Channel: "crm", Journey: "win-back", Step: "call",
		Template: "win-back-call", Text: "Call Anna about her order A-1001"}
	if p.ID != want.ID || p.CustomerID != want.CustomerID || p.Channel != want.Channel || p.Journey != want.Journey ||
		p.Step != want.Step || p.Template != want.Template || p.Text != want.Text || p.Customer["first_name"] != "Anna" {
		t.Fatalf("payload %+v", p)
	}
}

func TestARetrySendsTheSameIdempotencyKeyAndTheReceiverKeepsOne(t *testing.T) {
	rc, w := start(t, http.StatusServiceUnavailable)
	if _, err := w.Send(context.Background(), message()); !channels.IsTemporary(err) {
		t.Fatalf("first: %v, want temporary", err)
	}
	if _, err := w.Send(context.Background(), message()); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Send(context.Background(), message()); err != nil { // a duplicate, say after an uncertain send
		t.Fatal(err)
	}
	if len(rc.keys) != 3 || rc.keys[0] != "enr-1/call" || rc.keys[1] != rc.keys[0] || rc.keys[2] != rc.keys[0] || len(rc.stored) != 1 {
		t.Fatalf("keys %v, stored %d", rc.keys, len(rc.stored))
	}
}

func TestEachStatusBecomesTheErrorKindTheSpecSays(t *testing.T) {
	for _, tc := range []struct {
		status     int
		temporary  bool
		retryAfter time.Duration
	}{
		{408, true, 0}, {429, true, 30 * time.Second}, {500, true, 0}, {502, true, 0}, {503, true, 0},
		{400, false, 0}, {404, false, 0}, {410, false, 0}, {422, false, 0}, {301, false, 0},
	} {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			_, w := start(t, tc.status)
			_, err := w.Send(context.Background(), message())
			var temp *channels.TemporaryError
			var we *webhook.Error
			if err == nil || errors.As(err, &temp) != tc.temporary || !errors.As(err, &we) || we.Status != tc.status {
				t.Fatalf("got %v, want temporary=%v with status %d", err, tc.temporary, tc.status)
			}
			if tc.temporary && temp.RetryAfter != tc.retryAfter {
				t.Fatalf("retry after %s, want %s", temp.RetryAfter, tc.retryAfter)
			}
		})
	}
}

func TestVerifyRefusesWhatRapportDidNotSign(t *testing.T) {
	body := []byte(`{"id":"x"}`)
	now := time.Unix(1_800_000_000, 0)
	ts := strconv.FormatInt(now.Unix(), 10)
	req := func(ts, sig, body string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		if ts != "" {
			r.Header.Set(webhook.HeaderTimestamp, ts)
		}
		if sig != "" {
			r.Header.Set(webhook.HeaderSignature, sig)
		}
		return r
	}
	good := webhook.Sign([]byte(secret), ts, body)
	for _, tc := range []struct {
		name string
		r    *http.Request
		want error
	}{
		{"a signed request passes", req(ts, good, string(body)), nil},
		{"an unsigned request", req("", "", string(body)), webhook.ErrNoSignature},
		{"an altered body", req(ts, good, `{"id":"y"}`), webhook.ErrBadSignature},
		{"another secret", req(ts, webhook.Sign([]byte("other"), ts, body), string(body)), webhook.ErrBadSignature},
		{"a timestamp moved", req(strconv.FormatInt(now.Unix()-1, 10), good, string(body)), webhook.ErrBadSignature},
		{"an old request replayed", req(strconv.FormatInt(now.Unix()-3600, 10), webhook.Sign([]byte(secret), strconv.FormatInt(now.Unix()-3600, 10), body), string(body)), webhook.ErrStale},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := webhook.Verify(tc.r, []byte(secret), 5*time.Minute, now)
			if !errors.Is(err, tc.want) || (tc.want == nil && string(got) != string(body)) {
				t.Fatalf("got %q, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestTheCheckSeesWhetherTheEndpointAnswers(t *testing.T) {
	var status atomic.Int32
	status.Store(http.StatusMethodNotAllowed)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodHead {
			t.Errorf("check used %s", r.Method)
		}
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	w, err := webhook.New(webhook.Config{URL: srv.URL + "/hook?token=SECRET", Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Check(context.Background()); err != nil {
		t.Fatalf("a 405 answer: %v", err)
	}
	status.Store(http.StatusBadGateway)
	if err := w.Check(context.Background()); err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("a 502 answer: %v", err)
	}
	srv.Close()
	if err := w.Check(context.Background()); err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("no server: %v", err)
	}
}

func TestTheConfigIsChecked(t *testing.T) {
	_, err := webhook.New(webhook.Config{URL: "crm.example/hook"})
	for _, want := range []string{"url", "secret is required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	}
}
