package stats_test

import (
	"context"
	"encoding/json"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/stats"
	"github.com/rapporthq/rapport/internal/store"
	"github.com/rapporthq/rapport/templates"
	"github.com/rapporthq/rapport/workflows"
)

var now = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// noScheduler takes tasks and forgets them: these tests look at counters only.
type noScheduler struct{}

func (noScheduler) Schedule(context.Context, engine.Task) error { return nil }
func (noScheduler) Cancel(context.Context, string) error        { return nil }

type fixedClock struct{}

func (fixedClock) Now() time.Time { return now }

// counting is a real engine on a private redis-server that counts into a Recorder.
type counting struct {
	rdb   redis.UniversalClient
	store *store.Store
	rec   *stats.Recorder
	eng   *engine.Engine
}

// cartJourney is the shipped abandoned cart's trigger and goal; its steps are never run.
const cartJourney = `
id: abandoned-cart
trigger:
  event: cart.abandoned
  if: (event.data.total ?? 0) > 0
  once_per: event.data.cart_id
reenter_after: 1d
exit_on: [order.placed]
steps:
  - {id: reminder, wait: 1h, send: {template: cart-reminder, channels: [email]}}
`

func newCounting(t testing.TB) *counting {
	t.Helper()
	return countingOn(t, redistest.Start(t).Client(t))
}

func countingOn(t testing.TB, rdb redis.UniversalClient) *counting {
	t.Helper()
	c := &counting{rdb: rdb, store: store.New(rdb)}
	c.rec = stats.New(rdb, c.store, stats.Options{Now: func() time.Time { return now }})
	cart, err := workflows.LoadFile("abandoned-cart.yaml", []byte(cartJourney), workflows.Options{})
	if err != nil {
		t.Fatal(err)
	}
	set, err := workflows.NewSet([]*workflows.Journey{cart})
	if err != nil {
		t.Fatal(err)
	}
	c.eng, err = engine.New(engine.Config{Store: c.store, Scheduler: noScheduler{}, Journeys: set,
		Templates: &templates.Set{}, Clock: fixedClock{}, Stats: c.rec, Observer: c.rec})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *counting) event(t testing.TB, ev event.Event) {
	t.Helper()
	if err := c.eng.HandleEvent(context.Background(), ev); err != nil {
		t.Fatalf("HandleEvent(%s): %v", ev.ID, err)
	}
}

func order(id, cid, when string, total float64) event.Event {
	return event.Event{ID: id, Type: "order.placed", CustomerID: cid, OccurredAt: at(when),
		Data: map[string]any{"order_id": id, "total": total}}
}

func nps(id, cid, when string, score int) event.Event {
	return event.Event{ID: id, Type: "nps.submitted", CustomerID: cid, OccurredAt: at(when),
		Data: map[string]any{"score": float64(score), "comment": ""}}
}

// TestEveryFigureOnAKnownHistory replays three customers' history through the engine,
// every event twice (a duplicate, or a task retried after a crash), and checks each
// figure against the arithmetic done by hand below.
func TestEveryFigureOnAKnownHistory(t *testing.T) {
	knownHistory(t, newCounting(t))
}

// TestEveryFigureOnARedisCluster replays the same history on a Redis Cluster of three
// masters, where customers' keys and the counters live in different slots: no script
// may touch two of them.
func TestEveryFigureOnARedisCluster(t *testing.T) {
	knownHistory(t, countingOn(t, redistest.StartCluster(t).Client(t)))
}

func knownHistory(t *testing.T, c *counting) {
	ctx := context.Background()
	cart := event.Event{ID: "cart-c", Type: "cart.abandoned", CustomerID: "c", OccurredAt: at("2026-10-01T09:00:00Z"),
		Data: map[string]any{"cart_id": "K1", "total": 60.0}}
	cartA := event.Event{ID: "cart-a", Type: "cart.abandoned", CustomerID: "a", OccurredAt: at("2026-11-12T09:00:00Z"),
		Data: map[string]any{"cart_id": "K2", "total": 15.0}}
	history := []event.Event{
		// a: first order 1 Sep, again 19 days later, and in November.
		order("a1", "a", "2026-09-01T12:00:00Z", 40),
		order("a2", "a", "2026-09-20T12:00:00Z", 20),
		order("a3", "a", "2026-11-01T12:00:00Z", 30),
		// b: first order 10 Sep, again 71 days later.
		order("b1", "b", "2026-09-10T12:00:00Z", 50),
		order("b2", "b", "2026-11-20T12:00:00Z", 25.5),
		// c: abandons a cart on 1 Oct and orders it two hours later (the converted cart).
		cart,
		order("c1", "c", "2026-10-01T11:00:00Z", 60),
		cartA,
		// NPS. a: 3, then 9 (latest: promoter). b: 10 in July (outside 90 days), then 9.
		// c: 8, then 4 (latest: detractor). a's answer of 30 Oct arrives last: older than
		// a's latest, so it does not count.
		nps("n-a1", "a", "2026-11-01T08:00:00Z", 3),
		nps("n-a2", "a", "2026-11-10T08:00:00Z", 9),
		nps("n-b1", "b", "2026-07-01T08:00:00Z", 10),
		nps("n-b2", "b", "2026-11-05T08:00:00Z", 9),
		nps("n-c1", "c", "2026-11-15T08:00:00Z", 8),
		nps("n-c2", "c", "2026-11-20T08:00:00Z", 4),
		nps("n-a0", "a", "2026-10-30T08:00:00Z", 0),
	}
	for _, ev := range history {
		c.event(t, ev)
		c.event(t, ev) // the same event again changes nothing
	}
	// The engine reported the abandoned-cart journey: a and c entered, c's order ended
	// c's enrolment as its goal, a never ordered after her cart.

	if err := c.rec.Flush(ctx); err != nil { // the enrolment counts, written once a second by Run
		t.Fatal(err)
	}
	got, err := c.rec.Report(ctx, 90, []string{"abandoned-cart", "thank-you"})
	if err != nil {
		t.Fatal(err)
	}
	// By hand: orders a 3 (40+20+30), b 2 (50+25.5), c 1 (60): 6 orders, 225.5 revenue,
	// 3 buyers, 2 of them repeat buyers (a, b).
	want := stats.Report{
		AsOf: now, Days: 90,
		Customers: 3, Buyers: 3, RepeatBuyers: 2,
		RepeatRate:        0.667, // 2 / 3
		PurchaseFrequency: 2,     // 6 / 3
		AverageOrderValue: 37.58, // 225.5 / 6 = 37.583
		LTV:               75.17, // 225.5 / 3 = 75.167
		Cohorts: []stats.Cohort{
			// September: a and b; a came back after 19 days, b after 71.
			{Month: "2026-09", Buyers: 2, Returned30d: 1, Returned90d: 2},
			{Month: "2026-10", Buyers: 1},
		},
		// Since 27 Aug: a 9 (promoter), b 9 (promoter), c 4 (detractor):
		// 100 * (2 - 1) / 3 = 33.3.
		NPS: stats.NPS{Responses: 3, Promoters: 2, Passives: 0, Detractors: 1, Score: 33},
		Journeys: map[string]stats.JourneyStats{
			"abandoned-cart": {Entered: 2, Converted: 1, ConversionRate: 0.5, Revenue: 60},
			"thank-you":      {},
		},
		Tiers: map[string]int64{},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("report:\n got %s\nwant %s", js(got), js(want))
	}

	// A 7-day window holds only c's latest answer (20 Nov) and a's cart (12 Nov is
	// outside it): NPS -100, no journey activity.
	week, err := c.rec.Report(ctx, 7, nil)
	if err != nil {
		t.Fatal(err)
	}
	if week.NPS != (stats.NPS{Responses: 1, Detractors: 1, Score: -100}) || len(week.Journeys) != 0 {
		t.Errorf("7 days: nps %+v journeys %v", week.NPS, week.Journeys)
	}
}

func env(ev event.Event) workflows.EventEnv {
	return workflows.EventEnv{ID: ev.ID, Type: ev.Type, CustomerID: ev.CustomerID, OccurredAt: ev.OccurredAt, Data: ev.Data}
}

func js(v any) string {
	b, _ := json.MarshalIndent(v, "", " ")
	return string(b)
}

// TestAWorkerCrashBetweenApplyAndCountCountsOnce plays an event task that died right
// after the profile change was recorded, then its retry, and two workers running the
// same task at once.
func TestAWorkerCrashBetweenApplyAndCountCountsOnce(t *testing.T) {
	c := newCounting(t)
	ctx := context.Background()
	first := order("o1", "x", "2026-11-01T10:00:00Z", 10)
	if _, err := c.store.ApplyEvent(ctx, first); err != nil { // the attempt that crashed
		t.Fatal(err)
	}
	c.event(t, first) // its retry
	second := order("o2", "x", "2026-11-02T10:00:00Z", 5)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.eng.HandleEvent(ctx, second); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, err := c.rec.Report(ctx, 30, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Buyers != 1 || got.RepeatBuyers != 1 || got.PurchaseFrequency != 2 || got.LTV != 15 ||
		!reflect.DeepEqual(got.Cohorts, []stats.Cohort{{Month: "2026-11", Buyers: 1, Returned30d: 1, Returned90d: 1}}) {
		t.Errorf("after a crash and concurrent retries: %s", js(got))
	}
}

// TestAReplacedAnswerThatNeverCountedIsCountedInOnItsRetry: an answer's task dies after
// the customer's latest answer was recorded but before the counters; a later answer
// replaces it (taking it out of its day); then the first task is retried.
func TestAReplacedAnswerThatNeverCountedIsCountedInOnItsRetry(t *testing.T) {
	c := newCounting(t)
	ctx := context.Background()
	early := nps("e1", "x", "2026-11-10T10:00:00Z", 2)
	if _, err := c.store.RecordAnswer(ctx, "x", "nps", store.Answer{EventID: "e1", At: early.OccurredAt, Value: "d"}); err != nil {
		t.Fatal(err)
	}
	c.event(t, nps("e2", "x", "2026-11-11T10:00:00Z", 10))
	c.event(t, early)
	got, err := c.rec.Report(ctx, 30, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.NPS != (stats.NPS{Responses: 1, Promoters: 1, Score: 100}) {
		t.Errorf("nps = %+v, want the latest answer only", got.NPS)
	}
}

func TestReportRefusesAWindowOutOfRange(t *testing.T) {
	c := newCounting(t)
	for _, days := range []int{0, -1, stats.MaxDays + 1} {
		if _, err := c.rec.Report(context.Background(), days, nil); err == nil {
			t.Errorf("Report(%d days) succeeded", days)
		}
	}
}

// An enrolment is reported once by the engine, so counting it keeps no marker: Redis holds
// one marker per event (its counts), none per enrolment, and the count is written by Flush.
func TestAnEnrolmentIsCountedWithoutAMarker(t *testing.T) {
	c := newCounting(t)
	for _, id := range []string{"e1", "e1"} { // the second is a duplicate: counted once
		c.event(t, event.Event{ID: id, Type: "cart.abandoned", CustomerID: "c1", OccurredAt: at("2026-11-20T09:00:00Z"),
			Data: map[string]any{"cart_id": "k1", "total": 40.0}})
	}
	markers, err := c.rdb.Keys(context.Background(), "rapport:{stats}:seen:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(markers) != 1 {
		t.Fatalf("%d markers after one event that enrolled, want 1 (the event's)", len(markers))
	}
	if err := c.rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	rep, err := c.rec.Report(context.Background(), 30, []string{"abandoned-cart"})
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Journeys["abandoned-cart"].Entered; got != 1 {
		t.Fatalf("entered = %d, want 1", got)
	}
}
