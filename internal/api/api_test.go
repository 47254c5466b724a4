package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/client"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/api"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/journeystats"
	"github.com/rapporthq/rapport/internal/redistest"
)

const token = "secret-token"

// env is the API in front of the real intake on a private redis-server.
type env struct {
	srv   *httptest.Server
	redis *redistest.Server
	rdb   *redis.Client
	insp  *asynq.Inspector
	log   *syncBuffer
}

// syncBuffer collects log lines written by the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.FieldsFunc(b.buf.String(), func(r rune) bool { return r == '\n' })
}

func setup(t *testing.T, opts api.Options) *env {
	t.Helper()
	rs := redistest.Start(t)
	// A short dial timeout and no retries keep the Redis-down cases fast.
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr, DialTimeout: 300 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	logs := &syncBuffer{}
	opts.Tokens = []string{"other", token}
	opts.Intake = client.NewFromRedis(rdb)
	opts.Ready = func(ctx context.Context) error { return rdb.Ping(ctx).Err() }
	opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
	srv := httptest.NewServer(api.New(opts))
	t.Cleanup(srv.Close)
	insp := asynq.NewInspectorFromRedisClient(rs.Client(t))
	return &env{srv: srv, redis: rs, rdb: rdb, insp: insp, log: logs}
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func (a answer) String() string { return fmt.Sprintf("%d %v", a.status, a.body) }

func (e *env) do(t *testing.T, method, path, auth, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header}
	if err := json.NewDecoder(resp.Body).Decode(&a.body); err != nil {
		t.Fatalf("%s %s: the answer (%d) is not JSON: %v", method, path, resp.StatusCode, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type = %q, want application/json", method, path, ct)
	}
	return a
}

func (e *env) post(t *testing.T, path, body string) answer {
	t.Helper()
	return e.do(t, "POST", path, "Bearer "+token, body)
}

// queued returns how many events wait in the queue.
func (e *env) queued(t *testing.T) int {
	t.Helper()
	q, err := e.insp.GetQueueInfo(event.Queue)
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return 0
		}
		t.Fatalf("inspect the queue: %v", err)
	}
	return q.Size
}

// task returns the queued event with the given id, failing the test when there is none.
func (e *env) task(t *testing.T, id string) event.Event {
	t.Helper()
	info, err := e.insp.GetTaskInfo(event.Queue, event.TaskID(id))
	if err != nil {
		t.Fatalf("event %q is not in the queue: %v", id, err)
	}
	ev, err := event.Unmarshal(info.Payload)
	if err != nil {
		t.Fatalf("queued payload of %q: %v", id, err)
	}
	return ev
}

func TestAnEventIsAcceptedOnceAndDuplicatesChangeNothing(t *testing.T) {
	e := setup(t, api.Options{})
	body := `{"id": "evt-1", "type": "order.placed", "customer_id": "c-42", "occurred_at": "2026-11-22T10:00:00Z",
	  "customer": {"email": "anna@example.com"}, "data": {"total": 59.9}}`
	if a := e.post(t, "/v1/events", body); a.status != 202 || a.body["id"] != "evt-1" || a.body["duplicate"] != nil {
		t.Fatalf("first send = %v, want 202 with the id", a)
	}
	changed := strings.Replace(body, "c-42", "c-43", 1)
	if a := e.post(t, "/v1/events", changed); a.status != 200 || a.body["duplicate"] != true || a.body["id"] != "evt-1" {
		t.Fatalf("the same id again = %v, want 200 duplicate", a)
	}
	if n := e.queued(t); n != 1 {
		t.Fatalf("the queue holds %d events, want exactly 1", n)
	}
	ev := e.task(t, "evt-1")
	if ev.CustomerID != "c-42" || !ev.OccurredAt.Equal(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)) ||
		ev.Data["total"] != 59.9 || ev.Customer["email"] != "anna@example.com" {
		t.Fatalf("queued %+v, want the first event unchanged by the duplicate", ev)
	}

	a := e.post(t, "/v1/events", `{"type": "cart.abandoned", "customer_id": "c-1"}`)
	id, _ := a.body["id"].(string)
	if a.status != 202 || id == "" {
		t.Fatalf("an event without id = %v, want 202 with a generated id", a)
	}
	if ev := e.task(t, id); ev.CustomerID != "c-1" || ev.OccurredAt.IsZero() {
		t.Fatalf("queued %+v, want c-1 with occurred_at set to now", ev)
	}
}

func TestBadInputIsRefusedNamingTheField(t *testing.T) {
	e := setup(t, api.Options{})
	cases := []struct {
		name, body string
		field      string // the field the answer must name; "" when none applies
		text       string // a piece of the error message
	}{
		{"type is required", `{"customer_id": "c"}`, "type", "required"},
		{"type must look like order.placed", `{"type": "order placed", "customer_id": "c"}`, "type", "letters"},
		{"customer_id is required", `{"type": "order.placed"}`, "customer_id", "required"},
		{"an id is bounded", `{"id": "` + strings.Repeat("x", event.MaxIDLength+1) + `", "type": "x", "customer_id": "c"}`, "id", "longer"},
		{"occurred_at must be RFC 3339", `{"type": "x", "customer_id": "c", "occurred_at": "yesterday"}`, "occurred_at", "RFC 3339"},
		{"occurred_at must be a string", `{"type": "x", "customer_id": "c", "occurred_at": 1764000000}`, "occurred_at", "string"},
		{"data must be an object", `{"type": "x", "customer_id": "c", "data": [1]}`, "data", "object"},
		{"customer must be an object", `{"type": "x", "customer_id": "c", "customer": "anna"}`, "customer", "object"},
		{"customer_id must be a string", `{"type": "x", "customer_id": 42}`, "customer_id", "string"},
		{"an unknown field is refused", `{"type": "x", "customer_id": "c", "custmer": {}}`, "custmer", "not a known field"},
		{"derived attributes cannot be set", `{"type": "x", "customer_id": "c", "customer": {"orders_count": 9}}`, "customer.orders_count", "cannot be set"},
		{"Rapport's own profile fields cannot be set", `{"type": "x", "customer_id": "c", "customer": {"~t:birthday": "0"}}`, "customer.~t:birthday", "Rapport keeps"},
		{"the body must be an object", `[{"type": "x", "customer_id": "c"}]`, "", "object"},
		{"truncated JSON is located", `{"type": "x",`, "", "byte 13"},
		{"a syntax error is located", `{"type": "x" "customer_id": "c"}`, "", "byte 14"},
		{"trailing data is refused", `{"type": "x", "customer_id": "c"} {}`, "", "byte 35"},
		{"an empty body is refused", ``, "", "empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := e.post(t, "/v1/events", c.body)
			if a.status != 400 {
				t.Fatalf("answer %v, want 400", a)
			}
			msg, _ := a.body["error"].(string)
			if !strings.Contains(msg, c.text) {
				t.Errorf("error %q, want it to say %q", msg, c.text)
			}
			if c.field != "" && (a.body["field"] != c.field || !strings.HasPrefix(msg, c.field+": ")) {
				t.Errorf("answer %v, want it to name %s", a.body, c.field)
			}
			if c.field == "" && a.body["field"] != nil {
				t.Errorf("answer %v names a field, want none", a.body)
			}
		})
	}
	if n := e.queued(t); n != 0 {
		t.Fatalf("the queue holds %d events after bad input only, want 0", n)
	}
}

func TestTokensGuardTheAPIButNotTheHealthChecks(t *testing.T) {
	e := setup(t, api.Options{Journeys: func() []api.JourneyInfo { return nil }})
	ok := `{"type": "x", "customer_id": "c"}`
	cases := []struct {
		name, method, path, auth string
		status                   int
	}{
		{"an event without a token is refused", "POST", "/v1/events", "", 401},
		{"an event with a wrong token is refused", "POST", "/v1/events", "Bearer nope", 401},
		{"a token a byte short is refused", "POST", "/v1/events", "Bearer " + token[:len(token)-1], 401},
		{"a token in another scheme is refused", "POST", "/v1/events", "Basic " + token, 401},
		{"an empty bearer token is refused", "POST", "/v1/events", "Bearer ", 401},
		{"a batch without a token is refused", "POST", "/v1/events/batch", "", 401},
		{"the journeys without a token are refused", "GET", "/v1/journeys", "", 401},
		{"any of the tokens is accepted", "POST", "/v1/events", "Bearer other", 202},
		{"the scheme is case-insensitive", "POST", "/v1/events", "bearer " + token, 202},
		{"healthz needs no token", "GET", "/healthz", "", 200},
		{"readyz needs no token", "GET", "/readyz", "", 200},
	}
	accepted := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := ""
			if c.method == "POST" {
				body = ok
			}
			a := e.do(t, c.method, c.path, c.auth, body)
			if a.status != c.status {
				t.Fatalf("answer %v, want %d", a, c.status)
			}
			if c.status == 401 {
				if !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", a.header.Get("WWW-Authenticate"))
				}
				if msg, _ := a.body["error"].(string); msg == "" {
					t.Errorf("answer %v, want an error message", a.body)
				}
			}
			if c.status == 202 {
				accepted++
			}
		})
	}
	if n := e.queued(t); n != accepted {
		t.Fatalf("the queue holds %d events, want only the %d sent with a valid token", n, accepted)
	}
}

func TestBodiesOverOneMebibyteAreTooLarge(t *testing.T) {
	e := setup(t, api.Options{})
	// sized builds an event body of exactly n bytes.
	sized := func(n int) string {
		head, tail := `{"type": "x", "customer_id": "c", "data": {"blob": "`, `"}}`
		return head + strings.Repeat("a", n-len(head)-len(tail)) + tail
	}
	cases := []struct {
		name, path, body string
		status           int
	}{
		{"an event of exactly 1 MiB is accepted", "/v1/events", sized(1 << 20), 202},
		{"an event one byte over 1 MiB is too large", "/v1/events", sized(1<<20 + 1), 413},
		{"a batch over 1 MiB is too large", "/v1/events/batch", `{"events": [` + sized(1<<20) + `]}`, 413},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if a := e.post(t, c.path, c.body); a.status != c.status {
				t.Fatalf("answer %d %v, want %d", a.status, a.body["error"], c.status)
			}
		})
	}
	if n := e.queued(t); n != 1 {
		t.Fatalf("the queue holds %d events, want only the one within the limit", n)
	}
}

// result is one entry of a batch answer.
type result struct {
	Index     int    `json:"index"`
	Status    int    `json:"status"`
	ID        string `json:"id"`
	Duplicate bool   `json:"duplicate"`
	Error     string `json:"error"`
}

func (e *env) batch(t *testing.T, events ...string) (int, http.Header, []result) {
	t.Helper()
	req, err := http.NewRequest("POST", e.srv.URL+"/v1/events/batch",
		strings.NewReader(`{"events": [`+strings.Join(events, ",")+`]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Results []result }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("batch answer %d is not JSON results: %v", resp.StatusCode, err)
	}
	if len(out.Results) != len(events) {
		t.Fatalf("%d results for %d events", len(out.Results), len(events))
	}
	for i, r := range out.Results {
		if r.Index != i {
			t.Fatalf("result %d has index %d", i, r.Index)
		}
	}
	return resp.StatusCode, resp.Header, out.Results
}

func TestABatchIsAnsweredPerEvent(t *testing.T) {
	e := setup(t, api.Options{})
	if a := e.post(t, "/v1/events", `{"id": "dup", "type": "x", "customer_id": "c"}`); a.status != 202 {
		t.Fatalf("seeding the duplicate: %v", a)
	}
	status, _, results := e.batch(t,
		`{"id": "b-1", "type": "order.placed", "customer_id": "c-1"}`,
		`{"id": "b-2", "type": "order.placed"}`,
		`{"id": "dup", "type": "x", "customer_id": "c"}`,
		`{"type": "review.requested", "customer_id": "c-2"}`,
		`{"id": "b-4", "type": "x", "customer_id": "c", "colour": "red"}`,
		`{"id": "b-5", "type": "x", "customer_id": "c", "occurred_at": "soon"}`,
		`"not an event"`,
	)
	if status != 200 {
		t.Fatalf("batch status %d, want 200", status)
	}
	want := []struct {
		status    int
		id        string
		duplicate bool
		err       string
	}{
		{202, "b-1", false, ""},
		{400, "", false, "events[1].customer_id: is required"},
		{200, "dup", true, ""},
		{202, "*", false, ""}, // a generated id
		{400, "", false, "events[4].colour: is not a known field"},
		{400, "", false, "events[5].occurred_at: must be an RFC 3339 time"},
		{400, "", false, "events[6]: must be an object"},
	}
	for i, w := range want {
		r := results[i]
		if r.Status != w.status || r.Duplicate != w.duplicate || (w.id != "*" && r.ID != w.id) ||
			(w.id == "*" && r.ID == "") || !strings.HasPrefix(r.Error, w.err) {
			t.Errorf("result %d = %+v, want %+v", i, r, w)
		}
	}
	if n := e.queued(t); n != 3 {
		t.Fatalf("the queue holds %d events, want dup, b-1 and the one with a generated id", n)
	}
	e.task(t, "b-1")
	if ev := e.task(t, results[3].ID); ev.CustomerID != "c-2" {
		t.Fatalf("the generated id %q names %+v, want customer c-2's event", results[3].ID, ev)
	}
}

func TestABatchMustHoldOneToAThousandEvents(t *testing.T) {
	e := setup(t, api.Options{})
	events := func(n int) string {
		var evs []string
		for i := range n {
			evs = append(evs, fmt.Sprintf(`{"type": "x", "customer_id": "c%d"}`, i))
		}
		return `{"events": [` + strings.Join(evs, ",") + `]}`
	}
	cases := []struct {
		name, body string
		status     int
		field      string
	}{
		{"an empty batch is refused", events(0), 400, "events"},
		{"a batch without events is refused", `{}`, 400, "events"},
		{"events must be an array", `{"events": {"type": "x"}}`, 400, "events"},
		{"an unknown batch field is refused", `{"events": [], "dry_run": true}`, 400, "dry_run"},
		{"1001 events are refused", events(api.MaxBatch + 1), 400, "events"},
		{"1000 events are accepted", events(api.MaxBatch), 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := e.post(t, "/v1/events/batch", c.body)
			if a.status != c.status || (c.field != "" && a.body["field"] != c.field) {
				t.Fatalf("answer %d %v, want %d naming %q", a.status, a.body["error"], c.status, c.field)
			}
		})
	}
	if n := e.queued(t); n != api.MaxBatch {
		t.Fatalf("the queue holds %d events, want the %d of the one valid batch", n, api.MaxBatch)
	}
}

func TestWithoutRedisNothingIsAccepted(t *testing.T) {
	e := setup(t, api.Options{})
	if a := e.do(t, "GET", "/readyz", "", ""); a.status != 200 || a.body["status"] != "ok" {
		t.Fatalf("readyz with Redis up: %v, want 200 ok", a)
	}
	e.redis.Kill()

	a := e.post(t, "/v1/events", `{"id": "lost", "type": "x", "customer_id": "c"}`)
	if a.status != 503 || a.header.Get("Retry-After") != "1" {
		t.Fatalf("an event with Redis down: %v Retry-After %q, want 503 and 1", a, a.header.Get("Retry-After"))
	}
	if msg, _ := a.body["error"].(string); msg == "" {
		t.Errorf("answer %v, want an error message", a.body)
	}

	status, header, results := e.batch(t,
		`{"type": "x", "customer_id": "c"}`,
		`{"type": "y", "customer_id": "c"}`,
		`{"type": "y"}`,
	)
	if status != 503 || header.Get("Retry-After") != "1" {
		t.Fatalf("a batch with Redis down: %d Retry-After %q, want 503 and 1", status, header.Get("Retry-After"))
	}
	for i, want := range []int{503, 503, 400} {
		if r := results[i]; r.Status != want || r.Error == "" || r.ID != "" {
			t.Errorf("result %d = %+v, want %d with an error and no id", i, r, want)
		}
	}

	a = e.do(t, "GET", "/readyz", "", "")
	if msg, _ := a.body["error"].(string); a.status != 503 || msg != "redis: unreachable" {
		t.Fatalf("readyz with Redis down: %v, want 503 with \"redis: unreachable\" and no address or cause", a)
	}

	var errs int
	for _, l := range e.log.lines() {
		if strings.Contains(l, "level=ERROR") {
			errs++
		}
		if strings.Contains(l, token) {
			t.Errorf("a log line holds the token: %s", l)
		}
	}
	if errs != 2 {
		t.Errorf("%d error records for the two refused requests, want one each:\n%s", errs, strings.Join(e.log.lines(), "\n"))
	}
}

func TestJourneysAreListed(t *testing.T) {
	journeys := []api.JourneyInfo{{ID: "thank-you", Name: "Thank you", Trigger: "order.placed", Steps: 2}}
	e := setup(t, api.Options{Journeys: func() []api.JourneyInfo { return journeys }})
	a := e.do(t, "GET", "/v1/journeys", "Bearer "+token, "")
	got, _ := json.Marshal(a.body["journeys"])
	if want := `[{"id":"thank-you","name":"Thank you","steps":2,"trigger":"order.placed"}]`; a.status != 200 || string(got) != want {
		t.Fatalf("journeys = %d %s, want 200 %s", a.status, got, want)
	}

	none := setup(t, api.Options{Journeys: func() []api.JourneyInfo { return nil }})
	a = none.do(t, "GET", "/v1/journeys", "Bearer "+token, "")
	if list, ok := a.body["journeys"].([]any); a.status != 200 || !ok || len(list) != 0 {
		t.Fatalf("no journeys = %v, want 200 with an empty list", a)
	}

	off := setup(t, api.Options{})
	resp, err := http.Get(off.srv.URL + "/v1/journeys")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("journeys without a lister: %d, want 404", resp.StatusCode)
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

func (c *customers) SetTopicConsent(_ context.Context, _, topic string, subscribed bool) error {
	if topic != "tips" {
		return fmt.Errorf("%w %q", engine.ErrUnknownTopic, topic)
	}
	c.consent["topic:"+topic] = subscribed
	return nil
}

func (c *customers) Forget(context.Context, string) error { return nil }

func TestConsentBodiesAreChecked(t *testing.T) {
	cs := &customers{consent: map[string]bool{}}
	e := setup(t, api.Options{Customers: cs})
	cases := []struct {
		name, body string
		status     int
		field      string
	}{
		{"an opt-out is recorded", `{"channel": "email", "subscribed": false}`, 200, ""},
		{"subscribed is required", `{"channel": "email"}`, 400, "subscribed"},
		{"an unknown channel is refused", `{"channel": "fax", "subscribed": false}`, 400, "channel"},
		{"subscribed must be a boolean", `{"channel": "email", "subscribed": "no"}`, 400, "subscribed"},
		{"a topic opt-out is recorded", `{"topic": "tips", "subscribed": false}`, 200, ""},
		{"an unknown topic is refused naming the field", `{"topic": "gossip", "subscribed": false}`, 400, "topic"},
		{"a channel and a topic together are refused", `{"channel": "email", "topic": "tips", "subscribed": false}`, 400, "topic"},
		{"a body names a channel or a topic", `{"subscribed": false}`, 400, "channel"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := e.post(t, "/v1/customers/c/consent", c.body)
			if a.status != c.status || (c.field != "" && a.body["field"] != c.field) {
				t.Errorf("answer %v, want %d naming %q", a, c.status, c.field)
			}
		})
	}
	if subscribed, ok := cs.consent["email"]; !ok || subscribed || cs.consent["topic:tips"] || len(cs.consent) != 2 {
		t.Fatalf("consent = %v, want email and the topic tips unsubscribed", cs.consent)
	}
}

func TestReadyNeedsLoadedJourneys(t *testing.T) {
	var loaded atomic.Bool
	e := setup(t, api.Options{Loaded: loaded.Load})
	if a := e.do(t, "GET", "/readyz", "", ""); a.status != 503 || a.body["error"] != "journeys: not loaded" {
		t.Fatalf("readyz before journeys are loaded: %v, want 503 journeys: not loaded", a)
	}
	loaded.Store(true)
	if a := e.do(t, "GET", "/readyz", "", ""); a.status != 200 {
		t.Fatalf("readyz with journeys loaded and Redis up: %v, want 200", a)
	}
}

func TestEveryPostedEventIsTalliedOnce(t *testing.T) {
	var mu sync.Mutex
	got := map[engine.IntakeResult]int{}
	e := setup(t, api.Options{Observer: intakes{mu: &mu, got: got}})
	e.post(t, "/v1/events", `{"id": "t-1", "type": "x", "customer_id": "c"}`)
	e.post(t, "/v1/events", `{"id": "t-1", "type": "x", "customer_id": "c"}`)
	e.post(t, "/v1/events", `{"id": "t-2", "customer_id": "c"}`)
	e.post(t, "/v1/events", `{"id": `)
	e.batch(t, `{"id": "t-3", "type": "x", "customer_id": "c"}`, `{"id": "t-1", "type": "x", "customer_id": "c"}`, `{"type": "x"}`)
	e.redis.Kill()
	e.post(t, "/v1/events", `{"id": "t-4", "type": "x", "customer_id": "c"}`)
	mu.Lock()
	defer mu.Unlock()
	want := map[engine.IntakeResult]int{engine.IntakeAccepted: 2, engine.IntakeDuplicate: 2, engine.IntakeRejected: 3,
		engine.IntakeUnavailable: 1}
	if !maps.Equal(got, want) {
		t.Fatalf("tallies = %v, want %v", got, want)
	}
}

// intakes counts the intake's results it hears of.
type intakes struct {
	engine.NopObserver
	mu  *sync.Mutex
	got map[engine.IntakeResult]int
}

func (i intakes) Intake(_ context.Context, r engine.IntakeResult) {
	i.mu.Lock()
	i.got[r]++
	i.mu.Unlock()
}

func TestJourneysCarryTheirStats(t *testing.T) {
	e := setup(t, api.Options{
		Journeys: func() []api.JourneyInfo { return []api.JourneyInfo{{ID: "cart"}, {ID: "new"}} },
		JourneyStats: func(_ context.Context, ids []string) (map[string]journeystats.Stats, error) {
			return map[string]journeystats.Stats{"cart": {Entered: 5, Active: 2, Completed: 2, Exited: 1, Sent: 4, Capped: 1}}, nil
		},
	})
	a := e.do(t, "GET", "/v1/journeys", "Bearer "+token, "")
	got, err := json.Marshal(a.body["journeys"])
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"id":"cart","name":"","stats":{"active":2,"capped":1,"completed":2,"entered":5,"exited":1,"failed":0,"sent":4},"steps":0,"trigger":""},` +
		`{"id":"new","name":"","stats":{"active":0,"capped":0,"completed":0,"entered":0,"exited":0,"failed":0,"sent":0},"steps":0,"trigger":""}]`
	if a.status != 200 || string(got) != want {
		t.Fatalf("journeys = %d %s, want %s", a.status, got, want)
	}
}
