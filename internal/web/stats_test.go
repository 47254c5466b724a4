package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/stats"
	"github.com/rapporthq/rapport/internal/store"
	"github.com/rapporthq/rapport/internal/web"
	"github.com/rapporthq/rapport/workflows"
)

// statsServer serves the pages with real counters on a private redis-server, filled with
// a small history: a, b and c order (a and b twice), a and b are promoters, c a detractor,
// and c's abandoned cart converts.
func statsServer(t *testing.T) *httptest.Server {
	t.Helper()
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	rdb := redistest.Start(t).Client(t)
	st := store.New(rdb)
	rec := stats.New(rdb, st, stats.Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	day := func(d int) time.Time { return now.AddDate(0, 0, -d) }
	for _, ev := range []event.Event{
		{ID: "a1", Type: "order.placed", CustomerID: "a", OccurredAt: day(60), Data: map[string]any{"total": 40.0}},
		{ID: "a2", Type: "order.placed", CustomerID: "a", OccurredAt: day(50), Data: map[string]any{"total": 20.0}},
		{ID: "b1", Type: "order.placed", CustomerID: "b", OccurredAt: day(40), Data: map[string]any{"total": 30.0}},
		{ID: "b2", Type: "order.placed", CustomerID: "b", OccurredAt: day(1), Data: map[string]any{"total": 10.0}},
		{ID: "c1", Type: "order.placed", CustomerID: "c", OccurredAt: day(3), Data: map[string]any{"total": 60.0}},
		{ID: "na", Type: "nps.submitted", CustomerID: "a", OccurredAt: day(5), Data: map[string]any{"score": 10.0}},
		{ID: "nb", Type: "nps.submitted", CustomerID: "b", OccurredAt: day(4), Data: map[string]any{"score": 9.0}},
		{ID: "nc", Type: "nps.submitted", CustomerID: "c", OccurredAt: day(2), Data: map[string]any{"score": 2.0}},
	} {
		a, err := st.ApplyEventChecking(ctx, ev, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := rec.Applied(ctx, ev, a); err != nil {
			t.Fatal(err)
		}
	}
	cart := workflows.EventEnv{ID: "cart-c", Type: "cart.abandoned", CustomerID: "c", OccurredAt: day(3).Add(-time.Hour)}
	goal := workflows.EventEnv{ID: "c1", Type: "order.placed", CustomerID: "c", OccurredAt: day(3), Data: map[string]any{"total": 60.0}}
	rec.Enrolment(ctx, engine.EnrolmentChange{Journey: "abandoned-cart", CustomerID: "c", Change: engine.Entered, Event: cart})
	rec.Enrolment(ctx, engine.EnrolmentChange{Journey: "abandoned-cart", CustomerID: "c", Change: engine.Exited, Event: goal})
	if err := rec.Flush(ctx); err != nil { // enrolment counts reach Redis once a second, or now
		t.Fatal(err)
	}

	return serve(t, web.Options{Now: func() time.Time { return now }, Stats: rec})
}

// The relationship page in a real browser, opened with basic auth as a marketer would.
func TestTheRelationshipPageInABrowser(t *testing.T) {
	srv := statsServer(t)
	authed := strings.Replace(srv.URL, "http://", "http://marketing:"+token+"@", 1)
	page := dumpDOM(t, authed+"/stats/")
	for _, want := range []string{
		`<a href="/stats/" class="active">Relationship</a>`,
		`<a href="/preview/">Journeys</a>`,
		// 3 buyers, 2 back; 5 orders, 160 in all.
		`<dd id="customers">3</dd>`, `<dd id="buyers">3</dd>`, `<dd id="repeat-buyers">2</dd>`,
		`<dd id="repeat-rate">66.7%</dd>`, `<dd id="purchase-frequency">1.67</dd>`,
		`<dd id="average-order-value">32.00</dd>`, `<dd id="ltv">53.33</dd>`,
		// Two promoters and a detractor: 66.7% - 33.3% = 33.
		`<span id="nps-score">33</span>`, `<strong id="promoters">2</strong>`, `<strong id="detractors">1</strong>`,
		`<rect class="promoters" x="0" y="0" width="66.7" height="10" fill="#16a34a"></rect>`,
		`<rect class="detractors" x="66.7" y="0" width="33.3" height="10" fill="#dc2626"></rect>`,
		// September: a, back within 10 days. October: b, back after 39 days. November: c.
		`<tr id="cohort-2026-09"><th>2026-09</th><td>1</td>`,
		`<td style="background:rgba(22, 163, 74, 0.90)">100% <span class="muted">(1)</span></td>`,
		`<tr id="cohort-2026-10"><th>2026-10</th><td>1</td>`,
		`<tr id="cohort-2026-11"><th>2026-11</th><td>1</td>`,
		`<tr id="journey-abandoned-cart"><th><a href="/preview/abandoned-cart">abandoned-cart</a></th><td>1</td><td>1</td>`,
		`<rect class="rate" width="100" height="10" fill="#6366f1"></rect></svg> 100%`,
		`<rect class="revenue" width="100" height="10" fill="#16a34a"></rect></svg> 60.00`,
		`<tr id="journey-nps-survey">`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script") {
		t.Error("the page carries a script")
	}
	if t.Failed() {
		t.Logf("DOM:\n%s", page)
	}
	week := dumpDOM(t, authed+"/stats/?days=3")
	if !strings.Contains(week, `<span id="nps-score">-100</span>`) || !strings.Contains(week, "the last 3 days") {
		t.Errorf("the 3-day page does not show c's answer alone:\n%s", week)
	}
	if denied := dumpDOM(t, srv.URL+"/stats/"); strings.Contains(denied, "nps") {
		t.Errorf("without credentials the browser got:\n%s", denied)
	}
}

func TestTheRelationshipPageRefusesABadWindow(t *testing.T) {
	srv := statsServer(t)
	for _, days := range []string{"0", "366", "x"} {
		req, _ := http.NewRequest("GET", srv.URL+"/stats/?days="+days, nil)
		req.SetBasicAuth("m", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("days=%s: %d, want 400", days, resp.StatusCode)
		}
	}
}
