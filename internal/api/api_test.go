package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/client"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/api"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/redistest"
)

const token = "secret-token"

type env struct {
	srv   *httptest.Server
	redis *redistest.Server
	rdb   *redis.Client
}

func setup(t *testing.T) *env {
	t.Helper()
	rs := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr, DialTimeout: 300 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	h := api.New(api.Options{Tokens: []string{"other", token}, Intake: client.NewFromRedis(rdb),
		Ready: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{srv: srv, redis: rs, rdb: rdb}
}

func (e *env) do(t *testing.T, method, path, auth, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func (e *env) post(t *testing.T, path, body string) (int, map[string]any) {
	return e.do(t, "POST", path, "Bearer "+token, body)
}

func TestAnEventIsAcceptedOnceAndDuplicatesChangeNothing(t *testing.T) {
	e := setup(t)
	body := `{"id": "evt-1", "type": "order.placed", "customer_id": "c-42", "occurred_at": "2026-11-22T10:00:00Z",
	  "customer": {"email": "anna@example.com"}, "data": {"total": 59.9}}`
	if code, out := e.post(t, "/v1/events", body); code != 202 || out["id"] != "evt-1" {
		t.Fatalf("first = %d %v, want 202 with the id", code, out)
	}
	if code, out := e.post(t, "/v1/events", body); code != 200 || out["duplicate"] != true || out["id"] != "evt-1" {
		t.Fatalf("again = %d %v, want 200 duplicate", code, out)
	}
	insp := asynq.NewInspectorFromRedisClient(e.rdb)
	q, err := insp.GetQueueInfo(event.Queue)
	if err != nil || q.Size != 1 {
		t.Fatalf("queue holds %v tasks (%v), want 1", q, err)
	}
	info, err := insp.GetTaskInfo(event.Queue, event.TaskID("evt-1"))
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := event.Unmarshal(info.Payload)
	if !ev.OccurredAt.Equal(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)) || ev.Data["total"] != 59.9 {
		t.Fatalf("queued %+v", ev)
	}
	if code, out := e.post(t, "/v1/events", `{"type": "cart.abandoned", "customer_id": "c-1"}`); code != 202 || out["id"] == "" {
		t.Fatalf("an event without id = %d %v, want 202 with a generated id", code, out)
	}
}

func TestBadInputNamesTheField(t *testing.T) {
	e := setup(t)
	cases := []struct{ name, body, field string }{
		{"type is required", `{"customer_id": "c"}`, "type"},
		{"customer_id is required", `{"type": "order.placed"}`, "customer_id"},
		{"occurred_at must be RFC 3339", `{"type": "x", "customer_id": "c", "occurred_at": "yesterday"}`, "occurred_at"},
		{"data must be an object", `{"type": "x", "customer_id": "c", "data": [1]}`, "data"},
		{"customer_id must be a string", `{"type": "x", "customer_id": 42}`, "customer_id"},
		{"an unknown field is refused", `{"type": "x", "customer_id": "c", "custmer": {}}`, "custmer"},
		{"derived attributes cannot be set", `{"type": "x", "customer_id": "c", "customer": {"orders_count": 9}}`, "customer.orders_count"},
		{"malformed JSON", `{"type": "x",`, ""},
		{"an empty body", ``, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out := e.post(t, "/v1/events", c.body)
			if code != 400 {
				t.Fatalf("status %d, want 400 (%v)", code, out)
			}
			msg, _ := out["error"].(string)
			if c.field != "" && (out["field"] != c.field || !strings.HasPrefix(msg, c.field+": ")) {
				t.Fatalf("error %v, want it to name %s", out, c.field)
			}
			if msg == "" {
				t.Fatal("no error message")
			}
		})
	}
}

func TestTokensAndBodySize(t *testing.T) {
	e := setup(t)
	ok := `{"type": "x", "customer_id": "c"}`
	for name, auth := range map[string]string{"no token": "", "wrong token": "Bearer nope", "not bearer": "Basic " + token} {
		if code, _ := e.do(t, "POST", "/v1/events", auth, ok); code != 401 {
			t.Errorf("%s: status %d, want 401", name, code)
		}
	}
	big := `{"type": "x", "customer_id": "c", "data": {"blob": "` + strings.Repeat("a", 1<<20) + `"}}`
	if code, _ := e.post(t, "/v1/events", big); code != 413 {
		t.Errorf("a body over 1 MiB: %d, want 413", code)
	}
	if code, _ := e.do(t, "GET", "/healthz", "", ""); code != 200 {
		t.Errorf("healthz: %d", code)
	}
}

func TestBatchAnswersPerEvent(t *testing.T) {
	e := setup(t)
	e.post(t, "/v1/events", `{"id": "dup", "type": "x", "customer_id": "c"}`)
	code, out := e.post(t, "/v1/events/batch", `{"events": [
	  {"id": "b-1", "type": "order.placed", "customer_id": "c-1"},
	  {"id": "b-2", "type": "order.placed"},
	  {"id": "dup", "type": "x", "customer_id": "c"}]}`)
	if code != 200 {
		t.Fatalf("batch status %d %v", code, out)
	}
	results := out["results"].([]any)
	want := []struct {
		status float64
		text   string
	}{{202, "b-1"}, {400, "events[1].customer_id: is required"}, {200, "dup"}}
	for i, w := range want {
		r := results[i].(map[string]any)
		if r["status"] != w.status || (r["id"] != w.text && r["error"] != w.text) {
			t.Errorf("result %d = %v, want %v %q", i, r, w.status, w.text)
		}
	}
	var many []string
	for i := 0; i <= api.MaxBatch; i++ {
		many = append(many, fmt.Sprintf(`{"type": "x", "customer_id": "c%d"}`, i))
	}
	if code, out := e.post(t, "/v1/events/batch", `{"events": [`+strings.Join(many, ",")+`]}`); code != 400 || out["field"] != "events" {
		t.Errorf("1001 events: %d %v, want 400 naming events", code, out)
	}
}

func TestWithoutRedisNothingIsAccepted(t *testing.T) {
	e := setup(t)
	if code, _ := e.do(t, "GET", "/readyz", "", ""); code != 200 {
		t.Fatalf("readyz with Redis up: %d", code)
	}
	e.redis.Kill()
	if code, out := e.post(t, "/v1/events", `{"id": "lost?", "type": "x", "customer_id": "c"}`); code != 503 {
		t.Fatalf("event with Redis down: %d %v, want 503", code, out)
	}
	code, out := e.post(t, "/v1/events/batch", `{"events": [{"type": "x", "customer_id": "c"}, {"type": "y", "customer_id": "c"}]}`)
	if code != 503 {
		t.Fatalf("batch with Redis down: %d, want 503", code)
	}
	for _, r := range out["results"].([]any) {
		if r.(map[string]any)["status"] != 503.0 {
			t.Errorf("result %v, want 503 for every event", r)
		}
	}
	if code, _ := e.do(t, "GET", "/readyz", "", ""); code != 503 {
		t.Fatalf("readyz with Redis down: %d, want 503", code)
	}
}

// customers stands in for the engine behind the customer endpoints; the behaviour behind
// them is tested end to end in cmd/rapport.
type customers struct{ consent map[string]bool }

func (c *customers) Customer(context.Context, string) (engine.CustomerView, error) {
	return engine.CustomerView{ID: "c", Consent: c.consent}, nil
}

func (c *customers) SetConsent(_ context.Context, _, channel string, subscribed bool) error {
	if channel != "email" {
		return fmt.Errorf("%w %q", engine.ErrUnknownChannel, channel)
	}
	c.consent[channel] = subscribed
	return nil
}

func (c *customers) Forget(context.Context, string) error { return nil }

func TestConsentBodiesAreChecked(t *testing.T) {
	rs := redistest.Start(t)
	cs := &customers{consent: map[string]bool{}}
	srv := httptest.NewServer(api.New(api.Options{Tokens: []string{token}, Intake: client.NewFromRedis(rs.Client(t)), Customers: cs}))
	defer srv.Close()
	e := &env{srv: srv}
	cases := []struct {
		body   string
		status int
		field  string
	}{
		{`{"channel": "email", "subscribed": false}`, 200, ""},
		{`{"channel": "email"}`, 400, "subscribed"},
		{`{"channel": "fax", "subscribed": false}`, 400, "channel"},
		{`{"channel": "email", "subscribed": "no"}`, 400, "subscribed"},
	}
	for _, c := range cases {
		code, out := e.post(t, "/v1/customers/c/consent", c.body)
		if code != c.status || (c.field != "" && out["field"] != c.field) {
			t.Errorf("%s: %d %v, want %d naming %q", c.body, code, out, c.status, c.field)
		}
	}
	if subscribed, ok := cs.consent["email"]; !ok || subscribed {
		t.Fatalf("consent = %v, want email unsubscribed", cs.consent)
	}
}
