package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rapporthq/rapport/channels/telegram/telegramtest"
	"github.com/rapporthq/rapport/channels/whatsapp/whatsapptest"
	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/testutil"
)

const (
	tgSecret  = "hook-secret_42"
	appSecret = "the-app-secret"
	verifyTok = "verify-me"
)

// support is a webhook receiver standing in for the support desk: it keeps each body.
type support struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
}

func startSupport(t *testing.T) *support {
	s := &support{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(500)
			return
		}
		s.mu.Lock()
		s.bodies = append(s.bodies, string(b))
		s.mu.Unlock()
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *support) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bodies...)
}

// newListenSetup writes a config with the journeys and templates of testdata/listen and
// the given channels.
func newListenSetup(t *testing.T, chans string) *setup {
	t.Helper()
	s := &setup{redis: redistest.Start(t), addr: freeAddr(t)}
	s.config = filepath.Join(t.TempDir(), "rapport.yaml")
	dir, err := filepath.Abs("testdata/listen")
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`redis: {url: %q}
http: {addr: %q, base_url: "http://%s", api_tokens: [%q]}
secret: "a-test-secret-of-enough-length"
workflows: %q
templates: %q
defaults: {timezone: UTC, locale: en}
channels:
%s`, s.redis.URL(), s.addr, s.addr, token, filepath.Join(dir, "workflows"), filepath.Join(dir, "templates"), chans)
	if err := os.WriteFile(s.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *setup) getBearer(t *testing.T, path string) (int, string) {
	t.Helper()
	req := must(http.NewRequest("GET", "http://"+s.addr+path, nil))
	req.Header.Set("Authorization", "Bearer "+token)
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

// startToken asks the API for the customer's start link and returns its token.
func (s *setup) startToken(t *testing.T, cid string) string {
	t.Helper()
	code, body := s.getBearer(t, "/v1/customers/"+cid+"/channels/telegram/link")
	var v struct{ URL string }
	if code != 200 || json.Unmarshal([]byte(body), &v) != nil {
		t.Fatalf("link = %d %s", code, body)
	}
	tok, ok := strings.CutPrefix(v.URL, "https://t.me/shop_bot?start=")
	if !ok || len(tok) > 64 || len(tok) == 0 {
		t.Fatalf("link %q: want https://t.me/shop_bot?start= and a token of at most 64 characters", v.URL)
	}
	return tok
}

func (s *setup) signUp(t *testing.T, cid, attrs string) {
	t.Helper()
	if code, resp := s.post(t, "/v1/events", fmt.Sprintf(`{"id": "signup-%s", "type": "customer.signed_up", "customer_id": %q, "customer": %s}`, cid, cid, attrs)); code != 202 {
		t.Fatalf("sign-up = %d %v", code, resp)
	}
	testutil.WaitFor(t, 10*time.Second, cid+"'s profile", func() bool { return s.customer(t, cid)["profile"] != nil })
}

func messagesTo(bot *telegramtest.Server, chat string) []string {
	var out []string
	for _, m := range bot.Messages() {
		if m.ChatID == chat {
			out = append(out, m.Text)
		}
	}
	return out
}

func TestTelegramLinkStopReplyAndForgeries(t *testing.T) {
	bot := telegramtest.Start(t)
	desk := startSupport(t)
	s := newListenSetup(t, fmt.Sprintf(`  telegram: {type: telegram, token: %q, api_url: %q, webhook_secret: %q}
  support: {type: webhook, url: %q, secret: "desk-secret"}
`, telegramtest.Token, bot.URL, tgSecret, desk.URL))
	s.start(t, "serve")
	hook := "http://" + s.addr + "/hooks/telegram"
	s.signUp(t, "anna", `{"first_name": "Anna", "locale": "ru", "preferred_channel": "telegram"}`)
	tok := s.startToken(t, "anna")

	if code, err := telegramtest.PostUpdate(hook, "wrong-secret", telegramtest.StartUpdate(1, 42, tok)); err != nil || code != 401 {
		t.Fatalf("a wrong secret: %d %v, want 401", code, err)
	}
	if code, err := telegramtest.PostUpdate(hook, "", telegramtest.StartUpdate(1, 42, tok)); err != nil || code != 401 {
		t.Fatalf("no secret: %d %v, want 401", code, err)
	}
	forged := tok[:len(tok)-1] + string("AB"[strings.IndexByte("AB", tok[len(tok)-1])+1&1])
	if forged == tok {
		t.Fatal("the forged token is the token")
	}
	if code, err := telegramtest.PostUpdate(hook, tgSecret, telegramtest.StartUpdate(2, 99, forged)); err != nil || code != 200 {
		t.Fatalf("a forged token: %d %v, want 200 (and nothing linked)", code, err)
	}
	big := `{"update_id": 3, "message": {"text": "` + strings.Repeat("x", 5<<20) + `"}}`
	if code, err := telegramtest.PostUpdate(hook, tgSecret, big); err != nil || code != 413 {
		t.Fatalf("a 5 MB body: %d %v, want 413", code, err)
	}

	for range 2 { // Telegram delivering the update again is one update
		if code, err := telegramtest.PostUpdate(hook, tgSecret, telegramtest.StartUpdate(4, 42, tok)); err != nil || code != 200 {
			t.Fatalf("start: %d %v", code, err)
		}
	}
	testutil.WaitFor(t, 15*time.Second, "the confirmation and the hello on telegram", func() bool { return len(messagesTo(bot, "42")) >= 2 })
	got := messagesTo(bot, "42")
	if !strings.Contains(strings.Join(got, "\n"), "Anna, готово") || !strings.Contains(strings.Join(got, "\n"), "Hello Anna") {
		t.Fatalf("telegram messages %q: want the Russian confirmation and the hello", got)
	}
	v := s.customer(t, "anna")
	if p := v["profile"].(map[string]any); p["telegram_chat_id"] != "42" {
		t.Fatalf("profile %v: want telegram_chat_id 42", p)
	}

	if code, err := telegramtest.PostUpdate(hook, tgSecret, telegramtest.TextUpdate(5, 42, "where is my order?")); err != nil || code != 200 {
		t.Fatalf("text: %d %v", code, err)
	}
	testutil.WaitFor(t, 15*time.Second, "the reply at the support desk", func() bool { return len(desk.all()) == 1 })
	if b := desk.all()[0]; !strings.Contains(b, "Anna wrote on telegram: where is my order?") {
		t.Fatalf("the desk got %s", b)
	}
	if code, err := telegramtest.PostUpdate(hook, tgSecret, telegramtest.TextUpdate(6, 77, "who am I?")); err != nil || code != 200 {
		t.Fatalf("text from an unknown chat: %d %v", code, err)
	}

	if code, err := telegramtest.PostUpdate(hook, tgSecret, telegramtest.TextUpdate(7, 42, "/stop")); err != nil || code != 200 {
		t.Fatalf("stop: %d %v", code, err)
	}
	testutil.WaitFor(t, 10*time.Second, "anna unsubscribed from telegram", func() bool {
		c, _ := s.customer(t, "anna")["consent"].(map[string]any)
		return c["telegram"] == false
	})
	testutil.WaitFor(t, 10*time.Second, "the stop confirmation", func() bool { return len(messagesTo(bot, "42")) == 3 })
	if last := messagesTo(bot, "42")[2]; !strings.Contains(last, "Вы отписались") {
		t.Fatalf("stop answered %q", last)
	}
	if m := messagesTo(bot, "99"); len(m) != 0 {
		t.Fatalf("the forged start reached chat 99: %q", m)
	}
	if n := len(desk.all()); n != 1 {
		t.Fatalf("the desk got %d replies, want 1 (none from the unknown chat)", n)
	}
	// rapport inbound feeds an update as Telegram would.
	s.signUp(t, "dora", `{"first_name": "Dora"}`)
	var out, errOut strings.Builder
	if code := run([]string{"inbound", "telegram", "/start " + s.startToken(t, "dora"), "--chat", "55", "--config", s.config}, &out, &errOut); code != 0 {
		t.Fatalf("rapport inbound: exit %d: %s%s", code, out.String(), errOut.String())
	}
	testutil.WaitFor(t, 10*time.Second, "dora linked by rapport inbound", func() bool {
		p, _ := s.customer(t, "dora")["profile"].(map[string]any)
		return p["telegram_chat_id"] == "55"
	})

	_, metrics := s.getBearer(t, "/metrics")
	for _, want := range []string{`rapport_feedback_total{channel="telegram",kind="link"} 2`, `rapport_feedback_total{channel="telegram",kind="reply"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if !strings.Contains(metrics, `rapport_feedback_total{channel="telegram",kind="rejected"} 4`) { // two without the secret, the forgery, the unknown chat
		t.Errorf("metrics: want 4 rejected:\n%s", grep(metrics, "rapport_feedback_total"))
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestTelegramPollModeLosesAndRepeatsNothingAcrossAKill(t *testing.T) {
	bot := telegramtest.Start(t)
	desk := startSupport(t)
	s := newListenSetup(t, fmt.Sprintf(`  telegram: {type: telegram, token: %q, api_url: %q, updates: poll, poll_timeout: 1s}
  support: {type: webhook, url: %q, secret: "desk-secret"}
`, telegramtest.Token, bot.URL, desk.URL))
	p := s.start(t, "serve")
	s.signUp(t, "boris", `{"first_name": "Boris", "preferred_channel": "telegram"}`)
	tok := s.startToken(t, "boris")

	bot.Push(telegramtest.StartUpdate(100, 43, tok))
	testutil.WaitFor(t, 20*time.Second, "the confirmation and the hello", func() bool { return len(messagesTo(bot, "43")) == 2 })
	testutil.WaitFor(t, 10*time.Second, "the offset past the first update", func() bool { return bot.Pending() == 0 })
	p.kill()

	bot.Push(telegramtest.TextUpdate(101, 43, "first words"))
	s.start(t, "serve")
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := json.Marshal(s.customer(t, "boris"))
			t.Logf("boris: %s", b)
		}
	})
	testutil.WaitFor(t, 30*time.Second, "the reply at the desk", func() bool { return len(desk.all()) == 1 })
	testutil.WaitFor(t, 10*time.Second, "every update confirmed", func() bool { return bot.Pending() == 0 })
	polls := bot.Polls()
	testutil.WaitFor(t, 10*time.Second, "another poll", func() bool { return bot.Polls() > polls+1 })
	if m := messagesTo(bot, "43"); len(m) != 2 {
		t.Fatalf("boris got %q: the start was applied again", m)
	}
	if d := desk.all(); len(d) != 1 || !strings.Contains(d[0], "first words") {
		t.Fatalf("the desk got %q", d)
	}
}

func TestWhatsAppHandshakeStatusesAndTheWindow(t *testing.T) {
	wa := whatsapptest.Start(t)
	s := newListenSetup(t, fmt.Sprintf(`  whatsapp: {type: whatsapp, token: %q, phone_number_id: %q, api_url: %q, verify_token: %q, app_secret: %q}
  support: {type: webhook, url: "http://127.0.0.1:9/", secret: "desk-secret"}
`, whatsapptest.Token, whatsapptest.PhoneNumberID, wa.URL, verifyTok, appSecret))
	s.start(t, "serve")
	hook := "http://" + s.addr + "/hooks/whatsapp"

	code, body := s.getBearer(t, "/hooks/whatsapp?hub.mode=subscribe&hub.verify_token="+verifyTok+"&hub.challenge=1158201444")
	if code != 200 || body != "1158201444" {
		t.Fatalf("handshake = %d %q, want 200 and the challenge", code, body)
	}
	if code, _ := s.getBearer(t, "/hooks/whatsapp?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1"); code != 403 {
		t.Fatalf("handshake with a wrong verify token = %d, want 403", code)
	}

	const phone = "+15551234567"
	s.signUp(t, "carla", fmt.Sprintf(`{"first_name": "Carla", "phone": %q, "preferred_channel": "whatsapp"}`, phone))
	send := func(n int, typ string) whatsapptest.Message {
		t.Helper()
		if code, resp := s.post(t, "/v1/events", fmt.Sprintf(`{"type": %q, "customer_id": "carla"}`, typ)); code != 202 {
			t.Fatalf("%s = %d %v", typ, code, resp)
		}
		testutil.WaitFor(t, 15*time.Second, typ+"'s message", func() bool { return len(wa.Messages()) == n })
		return wa.Messages()[n-1]
	}
	first := send(1, "wa.first")
	if first.Type != "template" || first.Template != "news_update" {
		t.Fatalf("first message %+v: want the template, no window is open", first)
	}

	if code, err := whatsapptest.PostNotification(hook, appSecret, whatsapptest.StatusNotification(first.ID, phone, "read")); err != nil || code != 200 {
		t.Fatalf("read status: %d %v", code, err)
	}
	testutil.WaitFor(t, 10*time.Second, "read on the history line", func() bool {
		h, _ := s.customer(t, "carla")["history"].([]any)
		for _, l := range h {
			if l.(map[string]any)["delivery"] == "read" {
				return true
			}
		}
		return false
	})

	in := whatsapptest.MessageNotification("wamid.IN1", phone, "Can I change my order?", time.Now())
	if code, err := whatsapptest.PostNotification(hook, "", in); err != nil || code != 401 {
		t.Fatalf("unsigned message: %d %v, want 401", code, err)
	}
	if code, err := whatsapptest.PostNotification(hook, "not-the-app-secret", in); err != nil || code != 401 {
		t.Fatalf("wrongly signed message: %d %v, want 401", code, err)
	}
	if second := send(2, "wa.second"); second.Type != "template" {
		t.Fatalf("after an unsigned message: %+v, want the template still", second)
	}
	if code, err := whatsapptest.PostNotification(hook, appSecret, in); err != nil || code != 200 {
		t.Fatalf("signed message: %d %v", code, err)
	}
	third := send(3, "wa.third")
	if third.Type != "text" || !strings.Contains(third.Text, "Hi Carla, here is our news, as text.") {
		t.Fatalf("inside the window: %+v, want the text", third)
	}
}

func TestCheckSaysWhereEachBotsWebhookPoints(t *testing.T) {
	bot := telegramtest.Start(t)
	rs := redistest.Start(t)
	config := checkConfig(t, fmt.Sprintf(`{url: %q}`, rs.URL()), fmt.Sprintf(`{type: telegram, token: %q, api_url: %q}
  polled: {type: telegram, token: %[1]q, api_url: %[2]q, updates: poll}`, telegramtest.Token, bot.URL))
	_, out := runCheck(t, config)
	if !strings.Contains(out, "webhook: not set, so no update arrives") || !strings.Contains(out, "webhook: not set; updates: poll reads them") {
		t.Errorf("check without a webhook:\n%s", out)
	}
	bot.SetWebhook("https://rapport.shop.example/hooks/email")
	_, out = runCheck(t, config)
	if !strings.Contains(out, "webhook: set to https://rapport.shop.example/hooks/email\n") ||
		!strings.Contains(out, "but updates: poll cannot read while it is") {
		t.Errorf("check with a webhook:\n%s", out)
	}
}
