package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rapporthq/rapport/channels/webhook"
	"github.com/rapporthq/rapport/internal/signing"
	"github.com/rapporthq/rapport/internal/testutil"
)

func (s *setup) stats(t testing.TB, days int) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s/v1/stats?days=%d", s.addr, days), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /v1/stats = %d %s", resp.StatusCode, b)
	}
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func keys(m map[string]any) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

// helpDesk is an HTTP endpoint that takes the support channel's webhooks, checking
// their signature.
type helpDesk struct {
	mu    sync.Mutex
	tasks []webhook.Payload
	bad   int
}

func (h *helpDesk) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := webhook.Verify(r, []byte(hookSecret), time.Minute, time.Now())
	h.mu.Lock()
	defer h.mu.Unlock()
	var p webhook.Payload
	if err != nil || json.Unmarshal(body, &p) != nil {
		h.bad++
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.tasks = append(h.tasks, p)
}

func (h *helpDesk) received() ([]webhook.Payload, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]webhook.Payload(nil), h.tasks...), h.bad
}

const hookSecret = "help-desk-hook-secret"

// TestStatsCountOrdersAndAnUnhappyAnswerReachesAPerson drives the binary: orders move
// /v1/stats, and a detractor's answer on the feedback page, sent twice, is counted once
// and reaches the help desk through the support webhook with its comment, and the
// customer with an apology.
func TestStatsCountOrdersAndAnUnhappyAnswerReachesAPerson(t *testing.T) {
	s := newSetup(t, "../../workflows", "")
	desk := &helpDesk{}
	hook := httptest.NewServer(desk)
	t.Cleanup(hook.Close)
	cfg, err := os.ReadFile(s.config)
	if err != nil {
		t.Fatal(err)
	}
	support := regexp.MustCompile(`(?m)^  support: .*$`)
	if !support.Match(cfg) {
		t.Fatalf("the test config has no support channel to replace:\n%s", cfg)
	}
	cfg = support.ReplaceAll(cfg, []byte(fmt.Sprintf(`  support: {type: webhook, url: %q, secret: %q}`, hook.URL, hookSecret)))
	if err := os.WriteFile(s.config, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	s.start(t, "serve")
	now := time.Now().UTC()
	ago := func(days int) string { return now.AddDate(0, 0, -days).Format(time.RFC3339) }
	for _, ev := range []string{
		`{"id": "a1", "type": "order.placed", "customer_id": "a", "occurred_at": "` + ago(20) + `", "customer": {"email": "a@example.com"}, "data": {"total": 40}}`,
		`{"id": "a2", "type": "order.placed", "customer_id": "a", "occurred_at": "` + ago(10) + `", "data": {"total": 20}}`,
		`{"id": "b1", "type": "order.placed", "customer_id": "b", "occurred_at": "` + ago(5) + `", "customer": {"email": "b@example.com"}, "data": {"total": 50}}`,
		`{"id": "c1", "type": "cart.abandoned", "customer_id": "c", "customer": {"email": "c@example.com", "first_name": "Chris", "locale": "en"}}`,
	} {
		if code, body := s.post(t, "/v1/events", ev); code != 202 {
			t.Fatalf("POST %s = %d %v", ev, code, body)
		}
	}
	var st map[string]any
	testutil.WaitFor(t, 15*time.Second, "the orders in /v1/stats", func() bool {
		st = s.stats(t, 90)
		return st["buyers"] == 2.0 && st["repeat_buyers"] == 1.0 && st["customers"] == 3.0
	})
	if got, want := keys(st), "as_of,average_order_value,buyers,cohorts,customers,days,journeys,ltv,nps,purchase_frequency,repeat_buyers,repeat_rate,tiers"; got != want {
		t.Errorf("/v1/stats fields = %s, want %s", got, want)
	}
	// 3 orders, 110 in all, 2 buyers, 1 of them back within 10 days.
	for field, want := range map[string]float64{"repeat_rate": 0.5, "purchase_frequency": 1.5, "average_order_value": 36.67, "ltv": 55} {
		if st[field] != want {
			t.Errorf("%s = %v, want %v", field, st[field], want)
		}
	}
	cohorts := map[string][3]float64{}
	for _, c := range st["cohorts"].([]any) {
		c := c.(map[string]any)
		cohorts[c["month"].(string)] = [3]float64{c["buyers"].(float64), c["returned_30d"].(float64), c["returned_90d"].(float64)}
	}
	want := map[string][3]float64{}
	aMonth, bMonth := now.AddDate(0, 0, -20).Format("2006-01"), now.AddDate(0, 0, -5).Format("2006-01")
	want[aMonth] = [3]float64{1, 1, 1}
	w := want[bMonth]
	w[0]++
	want[bMonth] = w
	if fmt.Sprint(cohorts) != fmt.Sprint(want) {
		t.Errorf("cohorts = %v, want %v", cohorts, want)
	}
	if _, ok := st["journeys"].(map[string]any)["nps-survey"]; !ok {
		t.Errorf("journeys = %v, want every loaded journey listed", st["journeys"])
	}

	// c answers 3 with a comment and presses Send twice.
	link := signing.NewLinks(signing.NewKeys("a-test-secret-of-enough-length"), "http://"+s.addr).
		FeedbackURL(signing.Link{CustomerID: "c", MessageID: "m-1", Locale: "en", IssuedAt: time.Now()})
	resp, err := http.Get(link + "?score=3")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(page, []byte("<form")) {
		t.Fatalf("GET feedback page = %d\n%s", resp.StatusCode, page)
	}
	form := url.Values{"score": {"3"}, "comment": {"It broke after a week."}}
	for i := 0; i < 2; i++ {
		resp, err := http.PostForm(link, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("POST feedback = %d", resp.StatusCode)
		}
	}
	testutil.WaitFor(t, 15*time.Second, "the answer in /v1/stats", func() bool {
		n := s.stats(t, 90)["nps"].(map[string]any)
		return n["responses"] == 1.0 && n["detractors"] == 1.0 && n["score"] == -100.0
	})
	// The task for a person and the apology, then a sentinel: an order of d, whose
	// thank-you comes after anything a second answer would have sent.
	testutil.WaitFor(t, 15*time.Second, "the task and the apology", func() bool {
		tasks, _ := desk.received()
		return len(tasks) >= 1 && countTo(s.smtp.Messages(), "c@example.com") >= 1
	})
	if code, _ := s.post(t, "/v1/events", `{"id": "d1", "type": "order.placed", "customer_id": "d", "customer": {"email": "d@example.com"}}`); code != 202 {
		t.Fatal("sentinel order refused")
	}
	testutil.WaitFor(t, 15*time.Second, "the sentinel", func() bool { return countTo(s.smtp.Messages(), "d@example.com") >= 1 })
	tasks, bad := desk.received()
	if len(tasks) != 1 || bad != 0 {
		t.Fatalf("the help desk got %d tasks (and %d badly signed), want 1: %+v", len(tasks), bad, tasks)
	}
	task := tasks[0]
	if task.CustomerID != "c" || task.Journey != "detractor-follow-up" || task.Customer["email"] != "c@example.com" ||
		!strings.Contains(task.Text, "It broke after a week.") || !strings.Contains(task.Text, "3 of 10") {
		t.Errorf("the task = %+v, want c's score and comment", task)
	}
	var apology int
	for _, m := range s.smtp.Messages() {
		if len(m.To) == 1 && m.To[0] == "c@example.com" {
			apology++
			if !strings.Contains(m.Header.Get("Subject"), "sorry") {
				t.Errorf("c got %q, want only the apology", m.Header.Get("Subject"))
			}
		}
	}
	if apology != 1 {
		t.Errorf("c got %d emails, want one apology", apology)
	}
}
