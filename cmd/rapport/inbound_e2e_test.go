package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/rapporthq/rapport/channels/telegram/telegramtest"
	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/smtptest"
	"github.com/rapporthq/rapport/internal/testutil"
)

// The listening tests run the binary with an smtp channel whose mail carries return
// addresses, Rapport's own inbound SMTP server, Telegram as a fallback and a support
// webhook, and talk SMTP to the inbound server as a mailbox provider would.

// supportHook records what the support webhook channel posts.
type supportHook struct {
	mu    sync.Mutex
	posts []map[string]any
}

func (h *supportHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m map[string]any
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	h.mu.Lock()
	h.posts = append(h.posts, m)
	h.mu.Unlock()
}

func (h *supportHook) all() []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]map[string]any(nil), h.posts...)
}

type listening struct {
	*setup
	inbound string
	bot     *telegramtest.Server
	support *supportHook
}

// listeningJourneys are the journeys of the listening tests: an order's thank-you by
// email, a follow-up on any channel the test triggers when it is ready, a cart reminder
// with a link to click, and the shipped reply-to-human.
const listeningJourneys = `id: thanks
name: Thanks
trigger: {event: order.placed}
steps:
  - id: thank-you
    send: {template: thank-you, channels: [email]}
---
id: follow-up
name: Follow-up
trigger: {event: test.follow_up}
steps:
  - id: tip
    send: {template: usage-tip-general, channels: [email, telegram]}
---
id: cart
name: Cart
trigger: {event: cart.abandoned}
steps:
  - id: reminder
    send: {template: cart-reminder, channels: [email]}
`

func newListening(t *testing.T) *listening {
	t.Helper()
	dir := t.TempDir()
	for i, j := range strings.Split(listeningJourneys, "---\n") {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("j%d.yaml", i)), []byte(j), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	shipped, err := os.ReadFile("../../workflows/reply-to-human.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "reply-to-human.yaml"), shipped, 0o644); err != nil {
		t.Fatal(err)
	}
	l := &listening{bot: telegramtest.Start(t), support: &supportHook{}}
	hook := httptest.NewServer(l.support)
	t.Cleanup(hook.Close)
	s := &setup{redis: redistest.Start(t), smtp: smtptest.Start(t), workflows: dir, addr: freeAddr(t)}
	l.setup, l.inbound = s, freeAddr(t)
	s.config = filepath.Join(t.TempDir(), "rapport.yaml")
	repo, _ := filepath.Abs("../..")
	cfg := fmt.Sprintf(`redis: {url: %q}
http: {addr: %q, base_url: "http://%s", api_tokens: [%q]}
secret: "a-test-secret-of-enough-length"
workflows: %q
templates: %q
defaults: {timezone: UTC, locale: en}
channels:
  email: {type: smtp, host: %q, port: %d, from: "Shop <hello@shop.example>", tls: none,
          bounces: "bounces@mail.shop.example", replies: "replies@mail.shop.example",
          events: {provider: mailgun, signing_key: "key-e2e-test"}}
  telegram: {type: telegram, token: %q, api_url: %q}
  support: {type: webhook, url: %q, secret: "support-hook-secret"}
inbound:
  smtp: {addr: %q}
`, s.redis.URL(), s.addr, s.addr, token, dir, filepath.Join(repo, "templates"), s.smtp.Host, s.smtp.Port,
		telegramtest.Token, l.bot.URL, hook.URL, l.inbound)
	if err := os.WriteFile(s.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	s.start(t, "serve")
	return l
}

// order posts an order for customer id and returns the thank-you email it sends.
func (l *listening) order(t *testing.T, id string) smtptest.Message {
	t.Helper()
	body := fmt.Sprintf(`{"id": "order-%s", "type": "order.placed", "customer_id": %q,
	  "customer": {"email": "%s@example.net", "first_name": "Kim", "telegram_chat_id": "42"},
	  "data": {"order_id": "A-1", "total": 20, "items": [{"name": "Kenya AA", "price": 20}]}}`, id, id, id)
	if code, resp := l.post(t, "/v1/events", body); code != 202 {
		t.Fatalf("order: %d %v", code, resp)
	}
	var m smtptest.Message
	testutil.WaitFor(t, 15*time.Second, "the thank-you of "+id, func() bool {
		for _, msg := range l.smtp.Messages() {
			if len(msg.To) == 1 && msg.To[0] == id+"@example.net" {
				m = msg
				return true
			}
		}
		return false
	})
	return m
}

// send delivers data over SMTP to the inbound server, from the envelope sender from.
func (l *listening) send(t *testing.T, from, rcpt, data string) error {
	t.Helper()
	c, err := smtp.Dial(l.inbound)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.SendMail(from, []string{rcpt}, strings.NewReader(strings.ReplaceAll(data, "\n", "\r\n")))
}

func sampleMail(t *testing.T, name, to string) string {
	t.Helper()
	b, err := os.ReadFile("../../internal/inbound/mailparse/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func replyTo(t *testing.T, m smtptest.Message) string {
	t.Helper()
	v := m.Header.Get("Reply-To")
	if i := strings.Index(v, "<"); i >= 0 {
		v = strings.Trim(v[i:], "<>")
	}
	if !strings.HasPrefix(v, "replies+") {
		t.Fatalf("Reply-To = %q", m.Header.Get("Reply-To"))
	}
	return v
}

func TestAHardDSNBlocksTheAddressAndTheNextStepFallsBackToTelegram(t *testing.T) {
	l := newListening(t)
	m := l.order(t, "anna")
	if !strings.HasPrefix(m.From, "bounces+") || !strings.HasSuffix(m.From, "@mail.shop.example") || len(m.From) > len("bounces+@mail.shop.example")+64 {
		t.Fatalf("envelope sender = %q, want bounces+TOKEN@mail.shop.example", m.From)
	}
	dsn := strings.Replace(sampleMail(t, "postfix-hard.eml", m.From), "nobody@example.net", "anna@example.net", -1)
	if err := l.send(t, "", m.From, dsn); err != nil {
		t.Fatalf("DSN: %v", err)
	}
	testutil.WaitFor(t, 10*time.Second, "the address blocked as bounced", func() bool {
		blocked, _ := l.customer(t, "anna")["blocked"].(map[string]any)
		return blocked["email"] == "bounced"
	})
	hist, _ := l.customer(t, "anna")["history"].([]any)
	if len(hist) == 0 || hist[0].(map[string]any)["delivery"] != "bounced" {
		t.Errorf("history = %v, want the thank-you marked bounced", hist)
	}
	if code, resp := l.post(t, "/v1/events", `{"type": "test.follow_up", "customer_id": "anna"}`); code != 202 {
		t.Fatalf("follow-up: %d %v", code, resp)
	}
	testutil.WaitFor(t, 15*time.Second, "the follow-up on telegram", func() bool { return len(l.bot.Messages()) == 1 })
	if n := len(l.smtp.Messages()); n != 1 {
		t.Errorf("%d emails, want only the thank-you", n)
	}
	metrics := l.get(t, "/metrics")
	if !strings.Contains(metrics, `rapport_feedback_total{channel="email",kind="bounce_hard"} 1`) {
		t.Errorf("metrics lack the hard bounce:\n%s", grepLines(metrics, "rapport_feedback"))
	}
}

func TestAnARFReportUnsubscribesTheCustomer(t *testing.T) {
	l := newListening(t)
	m := l.order(t, "boris")
	if err := l.send(t, "feedbackloop@yahoo-inc.com", m.From, sampleMail(t, "yahoo-arf.eml", m.From)); err != nil {
		t.Fatalf("ARF: %v", err)
	}
	testutil.WaitFor(t, 10*time.Second, "the customer unsubscribed from email", func() bool {
		consent, _ := l.customer(t, "boris")["consent"].(map[string]any)
		return consent["email"] == false
	})
}

func TestAReplyReachesTheSupportWebhookAndAnAutoReplyDoesNot(t *testing.T) {
	l := newListening(t)
	m := l.order(t, "clara")
	to := replyTo(t, m)
	if err := l.send(t, "clara@example.net", to, sampleMail(t, "out-of-office.eml", to)); err != nil {
		t.Fatalf("out of office: %v", err)
	}
	if err := l.send(t, "clara@example.net", to, sampleMail(t, "gmail-reply.eml", to)); err != nil {
		t.Fatalf("reply: %v", err)
	}
	testutil.WaitFor(t, 15*time.Second, "the reply at the support webhook", func() bool { return len(l.support.all()) >= 1 })
	posts := l.support.all()
	text, _ := posts[0]["text"].(string)
	if !strings.Contains(text, "The grinder arrived broken") || strings.Contains(text, "out of the office") || posts[0]["customer_id"] != "clara" {
		t.Errorf("support got %v", posts[0])
	}
	if strings.Contains(text, "Thanks for your order! Just reply") {
		t.Errorf("the quoted original reached support: %q", text)
	}
	// Wait for the reply's own event to be processed through, then make sure the
	// out-of-office answer, sent first, added nothing.
	testutil.WaitFor(t, 10*time.Second, "the reply in the customer's history", func() bool {
		hist, _ := l.customer(t, "clara")["history"].([]any)
		for _, h := range hist {
			if h.(map[string]any)["journey"] == "reply-to-human" {
				return true
			}
		}
		return false
	})
	if n := len(l.support.all()); n != 1 {
		t.Errorf("support got %d posts, want the one reply", n)
	}
	if metrics := l.get(t, "/metrics"); !strings.Contains(metrics, `rapport_feedback_total{channel="email",kind="rejected"} 1`) {
		t.Errorf("the out-of-office answer is not counted rejected:\n%s", grepLines(metrics, "rapport_feedback"))
	}
}

func TestARecipientThatIsNotOursIsRefusedAtRCPT(t *testing.T) {
	l := newListening(t)
	m := l.order(t, "dan")
	forged := strings.Replace(m.From, "bounces+", "bounces+x", 1)
	for _, rcpt := range []string{"someone@gmail.com", "bounces@mail.shop.example", forged, "hello@shop.example"} {
		c, err := smtp.Dial(l.inbound)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Mail("spammer@example.org", nil); err != nil {
			t.Fatal(err)
		}
		var se *smtp.SMTPError
		if err := c.Rcpt(rcpt, nil); err == nil || !asSMTP(err, &se) || se.Code != 550 {
			t.Errorf("RCPT %s: %v, want 550", rcpt, err)
		}
		c.Close()
	}
	big := "Subject: big\n\n" + strings.Repeat(strings.Repeat("x", 76)+"\n", 20<<20/77)
	if err := l.send(t, "", m.From, big); err == nil {
		t.Error("a 20 MB message was accepted")
	}
}

var trackedLink = regexp.MustCompile(`href="(http://[^"]+/c/[A-Za-z0-9_-]+)"`)

func TestAClickRedirectsIsCountedOnceAndAForgedTokenIsRefused(t *testing.T) {
	l := newListening(t)
	body := `{"type": "cart.abandoned", "customer_id": "eva", "customer": {"email": "eva@example.net", "first_name": "Eva"},
	  "data": {"cart_url": "https://shop.example/cart/eva", "items": [{"name": "Kenya AA", "price": 20}]}}`
	if code, resp := l.post(t, "/v1/events", body); code != 202 {
		t.Fatalf("cart: %d %v", code, resp)
	}
	msgs := l.smtp.WaitFor(t, 1, 15*time.Second)
	parts, err := msgs[0].Parts()
	if err != nil {
		t.Fatal(err)
	}
	html := parts["text/html"]
	if strings.Contains(html, `href="https://shop.example/cart/eva"`) {
		t.Fatalf("the cart link is not tracked:\n%s", html)
	}
	var link string
	for _, m := range trackedLink.FindAllStringSubmatch(html, -1) {
		link = strings.ReplaceAll(m[1], "&amp;", "&")
	}
	if link == "" {
		t.Fatalf("no tracked link in:\n%s", html)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var resp *http.Response
	// A click comes later than a link scanner's: wait out its 2 seconds by asking the
	// history, not the clock, whether a counted click came.
	testutil.WaitFor(t, 15*time.Second, "a counted click", func() bool {
		resp, err = noFollow.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), "https://shop.example/") {
			t.Fatalf("click: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		hist, _ := l.customer(t, "eva")["history"].([]any)
		return len(hist) > 0 && hist[0].(map[string]any)["clicked"] == true
	})
	forged := link[:len(link)-2] + "xx"
	if resp, err := noFollow.Get(forged); err != nil || resp.StatusCode != http.StatusNotFound || resp.Header.Get("Location") != "" {
		t.Errorf("forged click: %v %v", resp, err)
	}
}

func asSMTP(err error, se **smtp.SMTPError) bool {
	e, ok := err.(*smtp.SMTPError)
	*se = e
	return ok
}

func (l *listening) get(t *testing.T, path string) string {
	t.Helper()
	resp, err := http.Get("http://" + l.addr + path)
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

func grepLines(s, sub string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

func TestRapportInboundFeedsAReplyAndCheckSeesTheServer(t *testing.T) {
	l := newListening(t)
	m := l.order(t, "fay")
	to := replyTo(t, m)
	file := filepath.Join(t.TempDir(), "reply.eml")
	reply := "From: Fay <fay@example.net>\nTo: " + to + "\nSubject: Re: Thanks\n\nWhere is my parcel?\n"
	if err := os.WriteFile(file, []byte(reply), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(binary, "inbound", file, "--config", l.config).CombinedOutput()
	if err != nil {
		t.Fatalf("rapport inbound: %v\n%s", err, out)
	}
	testutil.WaitFor(t, 15*time.Second, "the reply at the support webhook", func() bool { return len(l.support.all()) == 1 })
	if text, _ := l.support.all()[0]["text"].(string); !strings.Contains(text, "Where is my parcel?") {
		t.Errorf("support got %q", text)
	}
	out, _ = exec.Command(binary, "check", "--config", l.config).CombinedOutput()
	if !strings.Contains(string(out), "ok    inbound smtp "+l.inbound) || !strings.Contains(string(out), "return domain mail.shop.example") {
		t.Errorf("check says:\n%s", out)
	}
}

func TestAMailgunWebhookIsAcceptedSignedAndRefusedUnsigned(t *testing.T) {
	l := newListening(t)
	m := l.order(t, "gil")
	msgID := strings.Trim(m.Header.Get("Message-Id"), "<>")
	mac := hmac.New(sha256.New, []byte("key-e2e-test"))
	mac.Write([]byte("1765015200" + "tok-1"))
	body := func(sig string) string {
		return `{"signature": {"timestamp": "1765015200", "token": "tok-1", "signature": "` + sig + `"},
		  "event-data": {"id": "mg-1", "event": "failed", "severity": "permanent", "recipient": "gil@example.net",
		  "message": {"headers": {"message-id": "` + msgID + `"}}, "delivery-status": {"code": 550, "description": "No such user"}}}`
	}
	post := func(b string) int {
		resp, err := http.Post("http://"+l.addr+"/hooks/email", "application/json", strings.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(body(strings.Repeat("0", 64))); code != http.StatusUnauthorized {
		t.Fatalf("forged: %d, want 401", code)
	}
	if blocked, _ := l.customer(t, "gil")["blocked"].(map[string]any); len(blocked) != 0 {
		t.Fatalf("a forged webhook blocked %v", blocked)
	}
	if code := post(body(hex.EncodeToString(mac.Sum(nil)))); code != http.StatusOK {
		t.Fatalf("signed: %d, want 200", code)
	}
	testutil.WaitFor(t, 10*time.Second, "the address blocked as bounced", func() bool {
		blocked, _ := l.customer(t, "gil")["blocked"].(map[string]any)
		return blocked["email"] == "bounced"
	})
}
