package dashboard_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/client"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/api"
	"github.com/rapporthq/rapport/internal/dashboard"
	"github.com/rapporthq/rapport/internal/redistest"
)

const token = "dash-token"

func TestTheDashboardNeedsATokenAndShowsTasksInWords(t *testing.T) {
	rs := redistest.Start(t)
	rdb := rs.Client(t)
	dash := dashboard.New(func() redis.UniversalClient { return redis.NewClient(&redis.Options{Addr: rs.Addr}) }, true)
	t.Cleanup(func() { dash.Close() })
	srv := httptest.NewServer(api.New(api.Options{Tokens: []string{token}, Intake: client.NewFromRedis(rdb), Monitoring: dash}))
	t.Cleanup(srv.Close)

	ctx := context.Background()
	c := client.NewFromRedis(rdb)
	if _, err := c.Send(ctx, event.Event{ID: "evt-9", Type: "order.placed", CustomerID: "c-42"}); err != nil {
		t.Fatal(err)
	}
	aq := asynq.NewClientFromRedisClient(rdb)
	due := time.Date(2030, 1, 2, 9, 0, 0, 0, time.UTC)
	payload := `{"j":"welcome","c":"c-42","e":"4f2a","s":"discount","d":` + strconv.FormatInt(due.UnixMilli(), 10) + `}`
	if _, err := aq.Enqueue(asynq.NewTask("rapport:step", []byte(payload)), asynq.Queue("steps"),
		asynq.TaskID("step:4f2a:discount"), asynq.ProcessAt(due)); err != nil {
		t.Fatal(err)
	}

	get := func(path string, auth func(*http.Request)) (int, string) {
		t.Helper()
		req, err := http.NewRequest("GET", srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		auth(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(body)
	}
	none := func(*http.Request) {}
	bearer := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
	basic := func(r *http.Request) { r.SetBasicAuth("ops", token) }
	wrong := func(r *http.Request) { r.SetBasicAuth("ops", "guess") }

	for _, path := range []string{"/monitoring/", "/monitoring/api/queues"} {
		for name, auth := range map[string]func(*http.Request){"no credentials": none, "a wrong password": wrong} {
			if status, _ := get(path, auth); status != http.StatusUnauthorized {
				t.Errorf("GET %s with %s = %d, want 401", path, name, status)
			}
		}
	}
	if status, body := get("/monitoring/", basic); status != 200 || !strings.Contains(body, "<html") {
		t.Fatalf("the dashboard page with basic auth = %d %.200q, want the HTML page", status, body)
	}

	status, body := get("/monitoring/api/queues", bearer)
	var queues struct {
		Queues []struct {
			Queue string `json:"queue"`
		} `json:"queues"`
	}
	if err := json.Unmarshal([]byte(body), &queues); status != 200 || err != nil {
		t.Fatalf("the queue API with a bearer token = %d %q (%v), want 200 JSON", status, body, err)
	}
	names := map[string]bool{}
	for _, q := range queues.Queues {
		names[q.Queue] = true
	}
	if !names["events"] || !names["steps"] {
		t.Fatalf("queues = %v, want events and steps", queues.Queues)
	}

	_, body = get("/monitoring/api/queues/steps/scheduled_tasks", basic)
	if !strings.Contains(body, "journey=welcome step=discount customer=c-42 enrolment=4f2a due=2030-01-02T09:00:00Z") {
		t.Errorf("the scheduled step reads %s, want its journey, step, customer and due time in words", body)
	}
	_, body = get("/monitoring/api/queues/events/pending_tasks", basic)
	if !strings.Contains(body, "event order.placed customer=c-42 id=evt-9") {
		t.Errorf("the pending event reads %s, want its type, customer and id in words", body)
	}
}
