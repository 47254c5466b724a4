package api_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/api"
	"github.com/rapporthq/rapport/internal/signing"
	"github.com/rapporthq/rapport/internal/stats"
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

// feedbackKeys sign the links of these tests; feedbackLinks verifies them.
var (
	feedbackKeys  = signing.NewKeys(feedbackSecret)
	feedbackLinks = signing.NewLinks(feedbackKeys, "https://r.example")
)

// feedbackToken signs a feedback link of customer cid in locale, sent at sent.
func feedbackToken(t *testing.T, keys *signing.Keys, cid, locale string, sent time.Time) string {
	t.Helper()
	tok, err := keys.Sign(signing.Link{Purpose: signing.Feedback, CustomerID: cid, MessageID: "m-" + cid,
		Locale: locale, IssuedAt: sent})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

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

func TestAFeedbackLinkRecordsOneAnswerOnlyWhenPosted(t *testing.T) {
	e := setup(t, api.Options{Feedback: feedbackLinks.VerifyFeedback})
	link := e.srv.URL + "/feedback/" + feedbackToken(t, feedbackKeys, "c-42", "en", time.Now().Add(-24*time.Hour))

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

	// The customer picks 2 instead, writes a comment and double-clicks Send; then someone
	// posts to the link again and again with other answers. Each sees the thank-you page.
	forms := []url.Values{
		{"score": {"2"}, "comment": {"  It broke after a week.  "}},
		{"score": {"2"}, "comment": {"  It broke after a week.  "}},
		{"score": {"0"}, "comment": {"again"}},
		{"score": {"0"}},
		{"score": {"10"}, "comment": {"changed my mind"}},
	}
	for i, form := range forms {
		status, body = page(t, "POST", link, form)
		if status != 200 || !strings.Contains(body, `id="thanks"`) {
			t.Fatalf("POST %d: %d\n%s", i+1, status, body)
		}
	}
	evs := e.queuedEvents(t)
	if len(evs) != 1 {
		t.Fatalf("5 POSTs on one link queued %d events, want 1: %+v", len(evs), evs)
	}
	ev := evs[0]
	if ev.Type != "nps.submitted" || ev.CustomerID != "c-42" || ev.Data["score"] != 2.0 ||
		ev.Data["comment"] != "It broke after a week." || ev.OccurredAt.IsZero() {
		t.Errorf("queued event = %+v", ev)
	}

	// Another message's link is another answer.
	other := e.srv.URL + "/feedback/" + feedbackToken(t, feedbackKeys, "c-42", "en", time.Now().Add(-time.Hour))
	page(t, "POST", other+"x", url.Values{"score": {"8"}}) // altered: nothing
	page(t, "POST", other, url.Values{"score": {"8"}})
	if n := e.queued(t); n != 2 {
		t.Errorf("the link of a second message: %d events queued, want 2", n)
	}
}

func TestAFeedbackPostWithoutAScoreAsksForOne(t *testing.T) {
	e := setup(t, api.Options{Feedback: feedbackLinks.VerifyFeedback})
	link := e.srv.URL + "/feedback/" + feedbackToken(t, feedbackKeys, "c-1", "en", time.Now())
	for _, score := range []string{"", "11", "-1", "seven", "7.5"} {
		status, body := page(t, "POST", link, url.Values{"score": {score}, "comment": {"kept"}})
		if status != 400 || !strings.Contains(body, "choose a score") || !strings.Contains(body, ">kept</textarea>") {
			t.Errorf("score %q: %d\n%s", score, status, body)
		}
	}
	if n := e.queued(t); n != 0 {
		t.Errorf("%d events queued, want none", n)
	}
}

func TestAForgedOrExpiredFeedbackTokenChangesNothing(t *testing.T) {
	e := setup(t, api.Options{Feedback: feedbackLinks.VerifyFeedback})
	good := feedbackToken(t, feedbackKeys, "c-42", "en", time.Now())
	unsub, err := feedbackKeys.Sign(signing.Link{Purpose: signing.Unsubscribe, CustomerID: "c-42", Channel: "email"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, token string
		status      int
		text        string
	}{
		{"signed with another secret", feedbackToken(t, signing.NewKeys("another-secret-entirely!"), "c-42", "en", time.Now()), 400, "not valid"},
		{"an unsubscribe token", unsub, 400, "not valid"},
		{"altered", "AAAA" + good[4:], 400, "not valid"},
		{"garbage", "not-a-token", 400, "not valid"},
		{"sent 90 days ago", feedbackToken(t, feedbackKeys, "c-42", "en", time.Now().Add(-90*24*time.Hour-time.Minute)), 410, "closed"},
		{"sent 90 days ago, in ru", feedbackToken(t, feedbackKeys, "c-42", "ru", time.Now().Add(-91*24*time.Hour)), 410, "Опрос закрыт"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, method := range []string{"GET", "POST"} {
				status, body := page(t, method, e.srv.URL+"/feedback/"+url.PathEscape(c.token)+"?score=9",
					url.Values{"score": {"9"}})
				if status != c.status || !strings.Contains(body, c.text) || strings.Contains(body, "<form") {
					t.Errorf("%s: %d\n%s", method, status, body)
				}
			}
		})
	}
	if n := e.queued(t); n != 0 {
		t.Errorf("forged and expired tokens queued %d events", n)
	}
}

func TestTheFeedbackPageSpeaksTheCustomersLanguage(t *testing.T) {
	e := setup(t, api.Options{Feedback: feedbackLinks.VerifyFeedback})
	link := e.srv.URL + "/feedback/" + feedbackToken(t, feedbackKeys, "c-7", "ru-RU", time.Now())
	_, body := page(t, "GET", link+"?score=10", nil)
	if !strings.Contains(body, `lang="ru"`) || !strings.Contains(body, "порекомендуете") || !strings.Contains(body, "Отправить") {
		t.Errorf("GET in ru:\n%s", body)
	}
	_, body = page(t, "POST", link, url.Values{"score": {"10"}})
	if !strings.Contains(body, "Спасибо") {
		t.Errorf("POST in ru:\n%s", body)
	}
}

func TestFeedbackIsRefusedWhileRedisIsDown(t *testing.T) {
	e := setup(t, api.Options{Feedback: feedbackLinks.VerifyFeedback})
	e.redis.Kill()
	status, body := page(t, "POST", e.srv.URL+"/feedback/"+feedbackToken(t, feedbackKeys, "c-1", "en", time.Now()),
		url.Values{"score": {"4"}, "comment": {"slow delivery"}})
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
