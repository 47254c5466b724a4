package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rapporthq/rapport/internal/smtptest"
	"github.com/rapporthq/rapport/internal/testutil"
)

const loyaltyConfig = `loyalty:
  tiers:
    - {id: silver, if: customer.orders_count >= 3}
    - {id: gold, if: customer.orders_count >= 10}
`

func subjectsWith(msgs []smtptest.Message, part string) int {
	n := 0
	for _, m := range msgs {
		if strings.Contains(m.Header.Get("Subject"), part) {
			n++
		}
	}
	return n
}

func TestTheThirdOrderRaisesTierReachedOnceAndTheWelcomeGoesOnce(t *testing.T) {
	s := newSetup(t, "../../workflows", loyaltyConfig)
	s.start(t, "serve")

	order := func(n int) string {
		return fmt.Sprintf(`{"id": "ord-%d", "type": "order.placed", "customer_id": "loyal",
		  "customer": {"email": "loyal@example.com", "first_name": "Lena"},
		  "data": {"order_id": "A-%d", "total": 20}}`, n, n)
	}
	// One order after the other, as a customer places them: each its thank-you.
	for n := 1; n <= 3; n++ {
		if code, body := s.post(t, "/v1/events", order(n)); code != 202 {
			t.Fatalf("order %d = %d %v", n, code, body)
		}
		s.smtp.WaitFor(t, n, 20*time.Second)
	}
	// Three thank-you notes and one welcome to silver.
	msgs := s.smtp.WaitFor(t, 4, 20*time.Second)
	if n := subjectsWith(msgs, "Silver"); n != 1 {
		t.Fatalf("%d welcomes to silver after the third order, want 1", n)
	}
	// The third order again, and a fourth: no second welcome. The fourth's thank-you
	// is the sentinel that the worker got that far.
	if code, body := s.post(t, "/v1/events", order(3)); code != 200 || body["duplicate"] != true {
		t.Fatalf("the third order replayed = %d %v, want 200 duplicate", code, body)
	}
	if code, _ := s.post(t, "/v1/events", order(4)); code != 202 {
		t.Fatal("fourth order refused")
	}
	msgs = s.smtp.WaitFor(t, 5, 20*time.Second)
	testutil.WaitFor(t, 10*time.Second, "the fourth order's thank-you in the history", func() bool {
		h, _ := s.customer(t, "loyal")["history"].([]any)
		sent := 0
		for _, r := range h {
			if r, _ := r.(map[string]any); r["journey"] == "thank-you" && r["outcome"] == "sent" {
				sent++
			}
		}
		return sent == 4
	})
	msgs = s.smtp.Messages()
	if len(msgs) != 5 || subjectsWith(msgs, "Silver") != 1 {
		t.Fatalf("%d emails, %d welcomes; want 4 thank-you notes and 1 welcome", len(msgs), subjectsWith(msgs, "Silver"))
	}
	if tier := s.customer(t, "loyal")["profile"].(map[string]any)["tier"]; tier != "silver" {
		t.Errorf("profile tier = %v, want silver", tier)
	}
	tiers, _ := s.stats(t, 30)["tiers"].(map[string]any)
	if tiers["silver"] != 1.0 || len(tiers) != 1 {
		t.Errorf("stats tiers = %v, want {silver: 1}", tiers)
	}
}

func TestThePreferencePageChangesExactlyWhatWasTickedAndRefusesAForgedToken(t *testing.T) {
	s := newSetup(t, "../../workflows", "")
	s.start(t, "serve")
	order := `{"id": "p-1", "type": "order.placed", "customer_id": "prefs",
	  "customer": {"email": "prefs@example.com", "first_name": "Pia", "locale": "ru"},
	  "data": {"order_id": "A-1", "total": 20}}`
	if code, body := s.post(t, "/v1/events", order); code != 202 {
		t.Fatalf("order = %d %v", code, body)
	}
	html := mimeParts(t, s.smtp.WaitFor(t, 1, 20*time.Second)[0].Data)["text/html"]
	i := strings.Index(html, "http://"+s.addr+"/preferences/")
	if i < 0 {
		t.Fatalf("the thank-you email has no preference link:\n%s", html)
	}
	link := html[i : i+strings.IndexByte(html[i:], '"')]

	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, page := get(link)
	if code != 200 || !strings.Contains(page, "Советы по покупкам") || !strings.Contains(page, `value="tips" checked`) {
		t.Fatalf("GET preferences = %d, want the topics in Russian, all ticked:\n%s", code, page)
	}
	topics := func() map[string]any {
		v, _ := s.customer(t, "prefs")["topics"].(map[string]any)
		return v
	}
	// Forged: the token altered. Nothing changes, whatever the form says.
	forged := link[:len(link)-2] + "xx"
	resp, err := http.PostForm(forged, url.Values{"topic": {"news"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || topics()["tips"] != true || topics()["feedback"] != true {
		t.Fatalf("a forged token = %d, topics %v; want 400 and nothing changed", resp.StatusCode, topics())
	}
	// Tick news and feedback only, and keep email: tips and loyalty go off, nothing else.
	resp, err = http.PostForm(link, url.Values{"topic": {"news", "feedback"}, "channel": {"email"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "Сохранено") {
		t.Fatalf("POST preferences = %d:\n%s", resp.StatusCode, b)
	}
	want := map[string]any{"news": true, "feedback": true, "tips": false, "loyalty": false}
	if got := topics(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("topics = %v, want %v", got, want)
	}
	if c, _ := s.customer(t, "prefs")["consent"].(map[string]any); c["email"] != true {
		t.Errorf("consent = %v, want email still subscribed", c)
	}
}
