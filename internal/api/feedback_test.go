package api_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/api"
	"github.com/rapporthq/rapport/internal/feedback"
	"github.com/rapporthq/rapport/internal/stats"
	"github.com/rapporthq/rapport/internal/unsubscribe"
)

const feedbackSecret = "a-feedback-secret-of-length"

// page fetches a feedback page and returns its status and body.
func page(t *testing.T, method, u string, form url.Values) (int, string) {
	t.Helper()
	var resp *http.Response
	var err error
	if method == "GET" {
		resp, err = http.Get(u)
	} else {
		resp, err = http.PostForm(u, form)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("%s %s: Content-Type %q", method, u, ct)
	}
	return resp.StatusCode, string(b)
}

var nonceRE = regexp.MustCompile(`name="nonce" value="([0-9a-f]+)"`)

// queuedEvents returns the pending events.
func (e *env) queuedEvents(t *testing.T) []event.Event {
	t.Helper()
	if e.queued(t) == 0 {
		return nil
	}
	infos, err := e.insp.ListPendingTasks(event.Queue)
	if err != nil {
		t.Fatal(err)
	}
	var out []event.Event
	for _, info := range infos {
		ev, err := event.Unmarshal(info.Payload)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

func TestTheFeedbackPageRecordsOneAnswerOnlyWhenPosted(t *testing.T) {
	signer := feedback.NewSigner(feedbackSecret, "https://r.example")
	e := setup(t, api.Options{Feedback: signer.Verify})
	link := e.srv.URL + "/feedback/" + signer.Token("c-42", "en")

	// A link scanner, or the customer, opens the link from the email: nothing recorded.
	status, body := page(t, "GET", link+"?score=3", nil)
	if status != 200 || !strings.Contains(body, `value="3" checked`) || !strings.Contains(body, "recommend us") {
		t.Fatalf("GET: %d\n%s", status, body)
	}
	if !strings.Contains(body, `name="viewport"`) {
		t.Error("the page is not set up for phones: no viewport")
	}
	if n := e.queued(t); n != 0 {
		t.Fatalf("GET queued %d events, want none", n)
	}

	// The customer picks 2 instead, writes a comment and double-clicks Send.
	m := nonceRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no nonce in the form:\n%s", body)
	}
	form := url.Values{"score": {"2"}, "comment": {"  It broke after a week.  "}, "nonce": {m[1]}}
	for i := 0; i < 2; i++ {
		status, body = page(t, "POST", link, form)
		if status != 200 || !strings.Contains(body, `id="thanks"`) || !strings.Contains(body, "real person") {
			t.Fatalf("POST %d: %d\n%s", i+1, status, body)
		}
	}
	evs := e.queuedEvents(t)
	if len(evs) != 1 {
		t.Fatalf("a double click queued %d events, want 1: %+v", len(evs), evs)
	}
	ev := evs[0]
	if ev.Type != "nps.submitted" || ev.CustomerID != "c-42" || ev.Data["score"] != 2.0 ||
		ev.Data["comment"] != "It broke after a week." || ev.OccurredAt.IsZero() {
		t.Errorf("queued event = %+v", ev)
	}

	// Opening the link again and answering anew is a new answer.
	_, body = page(t, "GET", link, nil)
	if strings.Contains(body, " checked>") {
		t.Error("a link without ?score has a score chosen")
	}
	m2 := nonceRE.FindStringSubmatch(body)
	page(t, "POST", link, url.Values{"score": {"8"}, "nonce": {m2[1]}})
	if n := e.queued(t); n != 2 {
		t.Errorf("a second answer from a new page: %d events queued, want 2", n)
	}
}

func TestAFeedbackPostWithoutAScoreAsksForOne(t *testing.T) {
	signer := feedback.NewSigner(feedbackSecret, "https://r.example")
	e := setup(t, api.Options{Feedback: signer.Verify})
	link := e.srv.URL + "/feedback/" + signer.Token("c-1", "en")
	for _, score := range []string{"", "11", "-1", "seven", "7.5"} {
		status, body := page(t, "POST", link, url.Values{"score": {score}, "comment": {"kept"}, "nonce": {"n1"}})
		if status != 400 || !strings.Contains(body, "choose a score") || !strings.Contains(body, ">kept</textarea>") {
			t.Errorf("score %q: %d\n%s", score, status, body)
		}
	}
	if n := e.queued(t); n != 0 {
		t.Errorf("%d events queued, want none", n)
	}
}

func TestAForgedFeedbackTokenChangesNothing(t *testing.T) {
	signer := feedback.NewSigner(feedbackSecret, "https://r.example")
	e := setup(t, api.Options{Feedback: signer.Verify})
	good := signer.Token("c-42", "en")
	for name, tok := range map[string]string{
		"signed with another secret": feedback.NewSigner("another-secret-entirely!", "").Token("c-42", "en"),
		"an unsubscribe token":       unsubscribe.NewSigner(feedbackSecret, "").Token("c-42", "email"),
		"altered":                    strings.Replace(good, good[:4], "AAAA", 1),
		"garbage":                    "not-a-token",
	} {
		t.Run(name, func(t *testing.T) {
			for _, method := range []string{"GET", "POST"} {
				status, body := page(t, method, e.srv.URL+"/feedback/"+url.PathEscape(tok)+"?score=9",
					url.Values{"score": {"9"}, "nonce": {"x"}})
				if status != 400 || !strings.Contains(body, "not valid") || strings.Contains(body, "<form") {
					t.Errorf("%s: %d\n%s", method, status, body)
				}
			}
		})
	}
	if n := e.queued(t); n != 0 {
		t.Errorf("forged tokens queued %d events", n)
	}
}

func TestTheFeedbackPageSpeaksTheCustomersLanguage(t *testing.T) {
	signer := feedback.NewSigner(feedbackSecret, "https://r.example")
	e := setup(t, api.Options{Feedback: signer.Verify})
	link := e.srv.URL + "/feedback/" + signer.Token("c-7", "ru-RU")
	_, body := page(t, "GET", link+"?score=10", nil)
	if !strings.Contains(body, `lang="ru"`) || !strings.Contains(body, "порекомендуете") || !strings.Contains(body, "Отправить") {
		t.Errorf("GET in ru:\n%s", body)
	}
	_, body = page(t, "POST", link, url.Values{"score": {"10"}, "nonce": {"n"}})
	if !strings.Contains(body, "Спасибо") {
		t.Errorf("POST in ru:\n%s", body)
	}
}

func TestFeedbackIsRefusedWhileRedisIsDown(t *testing.T) {
	signer := feedback.NewSigner(feedbackSecret, "https://r.example")
	e := setup(t, api.Options{Feedback: signer.Verify})
	e.redis.Kill()
	status, body := page(t, "POST", e.srv.URL+"/feedback/"+signer.Token("c-1", "en"),
		url.Values{"score": {"4"}, "comment": {"slow delivery"}, "nonce": {"n"}})
	if status != 503 || !strings.Contains(body, "again") || !strings.Contains(body, "slow delivery") {
		t.Errorf("POST with Redis down: %d\n%s", status, body)
	}
}

func TestStatsNeedATokenAndAWindowOfOneToThreeHundredSixtyFiveDays(t *testing.T) {
	rep := &lastDays{}
	e := setup(t, api.Options{Stats: rep})
	if a := e.do(t, "GET", "/v1/stats", "", ""); a.status != 401 {
		t.Errorf("without a token: %v", a)
	}
	if a := e.do(t, "GET", "/v1/stats", "Bearer "+token, ""); a.status != 200 || a.body["days"] != 90.0 || rep.days != 90 {
		t.Errorf("default window: %v (asked %d days)", a, rep.days)
	}
	if a := e.do(t, "GET", "/v1/stats?days=7", "Bearer "+token, ""); a.status != 200 || rep.days != 7 {
		t.Errorf("days=7: %v (asked %d days)", a, rep.days)
	}
	for _, bad := range []string{"0", "366", "-3", "ninety", "1.5"} {
		if a := e.do(t, "GET", "/v1/stats?days="+bad, "Bearer "+token, ""); a.status != 400 || a.body["field"] != "days" {
			t.Errorf("days=%s: %v, want 400 naming days", bad, a)
		}
	}
}

// lastDays answers an empty report, remembering the window it was asked for.
type lastDays struct{ days int }

func (l *lastDays) Report(_ context.Context, days int, _ []string) (stats.Report, error) {
	l.days = days
	return stats.Report{Days: days}, nil
}
