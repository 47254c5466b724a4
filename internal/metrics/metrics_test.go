package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/metrics"
	"github.com/rapporthq/rapport/internal/queue"
	"github.com/rapporthq/rapport/internal/redistest"
)

func TestTheSeriesMoveWithWhatTheEngineObserves(t *testing.T) {
	m := metrics.New()
	ctx := context.Background()
	due := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	m.Outcome(ctx, engine.Observation{Journey: "welcome", Step: "hello", CustomerID: "c-1", Channel: "email",
		Outcome: engine.OutcomeSent, Due: due, Ran: due.Add(3 * time.Second), SendDuration: 40 * time.Millisecond})
	m.Outcome(ctx, engine.Observation{Journey: "welcome", Step: "hello", CustomerID: "c-2", Channel: "email",
		Outcome: engine.OutcomeCapped, Due: due, Ran: due})
	m.Enrolment(ctx, engine.EnrolmentChange{Journey: "welcome", CustomerID: "c-1", Change: engine.Entered})
	m.Intake(ctx, engine.IntakeAccepted)
	m.Intake(ctx, engine.IntakeAccepted)
	m.Intake(ctx, engine.IntakeDuplicate)

	cases := []struct {
		name, series string
		want         float64
	}{
		{"a sent message is counted", `rapport_messages_total{channel="email",journey="welcome",outcome="sent",step="hello"}`, 1},
		{"a capped message is counted apart", `rapport_messages_total{channel="email",journey="welcome",outcome="capped",step="hello"}`, 1},
		{"only a real send is timed", `rapport_send_duration_seconds_count{channel="email"}`, 1},
		{"the send time is summed", `rapport_send_duration_seconds_sum{channel="email"}`, 0.04},
		{"every outcome's lateness is observed", `rapport_step_lateness_seconds_count`, 2},
		{"lateness is run minus due", `rapport_step_lateness_seconds_sum`, 3},
		{"an enrolment is counted", `rapport_enrolments_total{change="entered",journey="welcome"}`, 1},
		{"accepted events are counted", `rapport_events_total{result="accepted"}`, 2},
		{"duplicates are counted apart", `rapport_events_total{result="duplicate"}`, 1},
	}
	text := scrape(t, m)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got, ok := value(text, c.series); !ok || got != c.want {
				t.Fatalf("%s = %v (found %v), want %v", c.series, got, ok, c.want)
			}
		})
	}
}

func TestTheWorkersMiddlewareTimesEachTaskByTypeAndResult(t *testing.T) {
	m := metrics.New()
	ok := queue.Observed(m)(asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return nil }))
	failing := queue.Observed(m)(asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return errors.New("boom") }))
	ctx := context.Background()
	ok.ProcessTask(ctx, asynq.NewTask("rapport:step", nil))
	ok.ProcessTask(ctx, asynq.NewTask("rapport:step", nil))
	if err := failing.ProcessTask(ctx, asynq.NewTask("rapport:event", nil)); err == nil {
		t.Fatal("the middleware swallowed the handler's error")
	}
	text := scrape(t, m)
	for series, want := range map[string]float64{
		`rapport_task_duration_seconds_count{result="ok",type="rapport:step"}`:     2,
		`rapport_task_duration_seconds_count{result="error",type="rapport:event"}`: 1,
	} {
		if got, found := value(text, series); !found || got != want {
			t.Errorf("%s = %v (found %v), want %v", series, got, found, want)
		}
	}
}

func TestQueueMetricsComeFromRedis(t *testing.T) {
	rs := redistest.Start(t)
	rdb := rs.Client(t)
	if _, err := asynq.NewClientFromRedisClient(rdb).Enqueue(asynq.NewTask("rapport:step", []byte("{}")), asynq.Queue("steps")); err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	m.WatchQueues(rdb)
	if n, err := testutil.GatherAndCount(m.Registry(), "asynq_queue_size"); err != nil || n != 1 {
		t.Fatalf("asynq_queue_size series = %d (%v), want 1", n, err)
	}
	if got, ok := value(scrape(t, m), `asynq_queue_size{queue="steps"}`); !ok || got != 1 {
		t.Fatalf("asynq_queue_size{queue=steps} = %v (found %v), want 1", got, ok)
	}
}

// scrape reads /metrics as Prometheus does.
func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// value finds one sample in the text format.
func value(text, series string) (float64, bool) {
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			if v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64); err == nil {
				return v, true
			}
		}
	}
	return 0, false
}
