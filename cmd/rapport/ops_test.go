package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rapporthq/rapport/internal/testutil"
)

// get fetches a path of the running rapport with optional basic auth password.
func (s *setup) get(t testing.TB, path, password string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+s.addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if password != "" {
		req.SetBasicAuth("ops", password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestServeHasMetricsAndTheDashboard(t *testing.T) {
	s := newSetup(t, "../../workflows", "")
	s.start(t, "serve")

	order := `{"id": "evt-m1", "type": "order.placed", "customer_id": "c-42",
	  "customer": {"email": "anna@example.com", "first_name": "Anna"}, "data": {"order_id": "A-1", "total": 5}}`
	if code, _ := s.post(t, "/v1/events", order); code != 202 {
		t.Fatalf("POST /v1/events = %d, want 202", code)
	}
	s.post(t, "/v1/events", order)
	s.post(t, "/v1/events", `{"customer_id": "c-42"}`)
	s.smtp.WaitFor(t, 1, 15*time.Second)

	var metrics string
	testutil.WaitFor(t, 10*time.Second, "the event and task series", func() bool {
		code, body := s.get(t, "/metrics", "")
		metrics = body
		return code == 200 && strings.Contains(body, `rapport_task_duration_seconds_count{result="ok",type="rapport:event"} 1`)
	})
	testutil.WaitFor(t, 10*time.Second, "the sent message in the series", func() bool {
		_, body := s.get(t, "/metrics", "")
		metrics = body
		return strings.Contains(body, `rapport_messages_total{channel="email",journey="thank-you",outcome="sent",step="thank-you"} 1`)
	})
	for _, want := range []string{
		`rapport_send_duration_seconds_count{channel="email"} 1`,
		`rapport_step_lateness_seconds_count 1`,
		`rapport_enrolments_total{change="entered",journey="thank-you"} 1`,
		`rapport_events_total{result="accepted"} 1`,
		`rapport_events_total{result="duplicate"} 1`,
		`rapport_events_total{result="rejected"} 1`,
		`asynq_queue_size{queue="events"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if code, _ := s.get(t, "/monitoring/", ""); code != 401 {
		t.Errorf("/monitoring/ without a token = %d, want 401", code)
	}
	if code, body := s.get(t, "/monitoring/api/queues", token); code != 200 || !strings.Contains(body, `"events"`) {
		t.Errorf("/monitoring/api/queues with the token as password = %d %s, want 200 with the events queue", code, body)
	}
	// The only step ran: entered and completed, sent once, no longer active.
	want := map[string]int64{"entered": 1, "active": 0, "completed": 1, "exited": 0, "sent": 1, "capped": 0, "failed": 0}
	var got map[string]int64
	testutil.WaitFor(t, 10*time.Second, "thank-you's stats in GET /v1/journeys", func() bool {
		got = s.journeyStats(t)["thank-you"]
		return maps.Equal(got, want)
	})
	// A scheduled step reads as journey and customer in the dashboard, its ID names the step.
	cart := `{"type": "cart.abandoned", "customer_id": "c-42", "data": {"cart_id": "k-1", "total": 20}}`
	if code, _ := s.post(t, "/v1/events", cart); code != 202 {
		t.Fatal("cart.abandoned refused")
	}
	var tasks string
	testutil.WaitFor(t, 10*time.Second, "the cart reminder in the dashboard", func() bool {
		_, tasks = s.get(t, "/monitoring/api/queues/steps/scheduled_tasks", token)
		return strings.Contains(tasks, "journey=abandoned-cart customer=c-42")
	})
	if !strings.Contains(tasks, `"id":"step:`) || !strings.Contains(tasks, `:reminder"`) {
		t.Errorf("the task id does not name its step: %s", tasks)
	}
	if code, body := s.get(t, "/readyz", ""); code != 200 {
		t.Errorf("/readyz = %d %s, want 200", code, body)
	}
}

// journeyStats reads every journey's stats from GET /v1/journeys.
func (s *setup) journeyStats(t testing.TB) map[string]map[string]int64 {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+s.addr+"/v1/journeys", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Journeys []struct {
			ID    string           `json:"id"`
			Stats map[string]int64 `json:"stats"`
		} `json:"journeys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]int64{}
	for _, j := range list.Journeys {
		out[j.ID] = j.Stats
	}
	return out
}

func TestAWorkerAloneServesItsMetrics(t *testing.T) {
	metricsAddr := freeAddr(t)
	s := newSetup(t, "../../workflows", fmt.Sprintf("worker: {metrics_addr: %q}\n", metricsAddr))
	s.start(t, "api")
	s.start(t, "worker")
	order := `{"id": "evt-w1", "type": "order.placed", "customer_id": "c-7",
	  "customer": {"email": "w@example.com", "first_name": "W"}, "data": {"order_id": "A-7", "total": 5}}`
	if code, _ := s.post(t, "/v1/events", order); code != 202 {
		t.Fatal("order refused")
	}
	s.smtp.WaitFor(t, 1, 15*time.Second)
	worker := &setup{addr: metricsAddr}
	testutil.WaitFor(t, 10*time.Second, "the worker's own /metrics to count the sent message", func() bool {
		code, body := worker.get(t, "/metrics", "")
		return code == 200 && strings.Contains(body, `rapport_messages_total{channel="email",journey="thank-you",outcome="sent",step="thank-you"} 1`)
	})
	if code, body := worker.get(t, "/readyz", ""); code != 200 {
		t.Errorf("the worker's /readyz = %d %s, want 200", code, body)
	}
	if code, _ := worker.get(t, "/v1/journeys", token); code != 404 {
		t.Errorf("the worker serves /v1/journeys (%d): it has no API", code)
	}
}
