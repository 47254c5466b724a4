package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rapporthq/rapport/channels/telegram/telegramtest"
	"github.com/rapporthq/rapport/channels/whatsapp/whatsapptest"
	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/smtptest"
	"github.com/rapporthq/rapport/internal/testutil"
)

func TestValidatePassesOnTheExampleConfigWithEveryChannelType(t *testing.T) {
	cmd := exec.Command(binary, "validate", "--config", "config/rapport.example.yaml")
	cmd.Dir = "../.."
	cmd.Env = append(cmd.Environ(), "RAPPORT_API_TOKEN=t", "RAPPORT_SECRET=0123456789abcdef", "SMTP_PASSWORD=pw",
		"TELEGRAM_BOT_TOKEN=123456:ABC-def", "WHATSAPP_TOKEN=EAAG", "CRM_HOOK_SECRET=s3cret", "SUPPORT_HOOK_SECRET=s3cret2")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "5 channels") {
		t.Fatalf("validate on the example config: %v\n%s", err, out)
	}

	cmd = exec.Command(binary, "validate", "--config", "config/rapport.example.yaml")
	cmd.Dir = "../.."
	cmd.Env = append(cmd.Environ(), "RAPPORT_API_TOKEN=t", "RAPPORT_SECRET=0123456789abcdef", "TELEGRAM_BOT_TOKEN=", "WHATSAPP_TOKEN=", "CRM_HOOK_SECRET=", "SUPPORT_HOOK_SECRET=")
	out, err = cmd.CombinedOutput()
	for _, want := range []string{
		lineOf(t, "../../config/rapport.example.yaml", "  telegram: {type") + ": channels.telegram: token is required",
		lineOf(t, "../../config/rapport.example.yaml", "  whatsapp: {type") + ": channels.whatsapp: token is required",
		lineOf(t, "../../config/rapport.example.yaml", "  crm: {type") + ": channels.crm: secret is required",
		lineOf(t, "../../config/rapport.example.yaml", "  support: {type") + ": channels.support: secret is required",
		"(environment variable TELEGRAM_BOT_TOKEN is unset or empty)", "(environment variable CRM_HOOK_SECRET is unset or empty)"} {
		if err == nil || !strings.Contains(string(out), want) {
			t.Errorf("validate without the channel secrets lacks %q:\n%s", want, out)
		}
	}
}

func TestAnOrderReachesThePreferredTelegramOrFallsBackToEmail(t *testing.T) {
	bot := telegramtest.Start(t)
	bot.Always("43", telegramtest.Blocked)
	s := newSetup(t, "../../workflows", fmt.Sprintf("  telegram: {type: telegram, token: %q, api_url: %q, rate: 20/s}\n", telegramtest.Token, bot.URL))
	s.start(t, "serve")

	for _, c := range []struct{ id, chat string }{{"anna", "42"}, {"boris", "43"}} {
		body := fmt.Sprintf(`{"type": "order.placed", "customer_id": %q,
		  "customer": {"email": "%s@example.com", "first_name": "Kim", "telegram_chat_id": %q, "preferred_channel": "telegram"},
		  "data": {"order_id": "A-1", "total": 20, "items": [{"name": "Kenya AA", "price": 20}]}}`, c.id, c.id, c.chat)
		if code, resp := s.post(t, "/v1/events", body); code != 202 {
			t.Fatalf("order for %s = %d %v", c.id, code, resp)
		}
	}
	emails := s.smtp.WaitFor(t, 1, 15*time.Second)
	if emails[0].To[0] != "boris@example.com" {
		t.Fatalf("email to %v, want boris, whose bot is blocked", emails[0].To)
	}
	testutil.WaitFor(t, 15*time.Second, "anna's thank-you on telegram", func() bool { return len(bot.Messages()) == 1 })
	if m := bot.Messages()[0]; m.ChatID != "42" || !strings.Contains(m.Text, "A-1") {
		t.Fatalf("telegram got %+v", m)
	}
	if n := len(s.smtp.Messages()); n != 1 {
		t.Fatalf("%d emails, want only boris's", n)
	}
}

// lineOf returns "rapport.example.yaml:N" for the first line of the file that starts with prefix.
func lineOf(t *testing.T, path, prefix string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, prefix) {
			return fmt.Sprintf("rapport.example.yaml:%d", i+1)
		}
	}
	t.Fatalf("%s has no line starting with %q", path, prefix)
	return ""
}

func TestCheckAsksEachMessengerWithoutSending(t *testing.T) {
	bot := telegramtest.Start(t)
	wa := whatsapptest.Start(t)
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusMethodNotAllowed) // a receiver that only takes POST
	}))
	defer crm.Close()
	smtp := smtptest.Start(t)
	rs := redistest.Start(t)
	config := checkConfig(t, fmt.Sprintf(`{url: %q}`, rs.URL()), fmt.Sprintf(`{type: smtp, host: %q, port: %d, from: "Shop <hello@shop.example>", tls: none}
  telegram: {type: telegram, token: %q, api_url: %q, rate: 5/s}
  whatsapp: {type: whatsapp, token: "EAAG-expired", phone_number_id: %q, api_url: %q}
  crm: {type: webhook, url: %q, secret: s}`, smtp.Host, smtp.Port, telegramtest.Token, bot.URL, whatsapptest.PhoneNumberID, wa.URL, crm.URL))
	code, out := runCheck(t, config)
	for _, want := range []string{
		"ok    channel telegram (telegram)\n",
		"FAIL  channel whatsapp (whatsapp): the access token was refused",
		"ok    channel crm (webhook)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if code != 1 || bot.Requests() != 0 || wa.Requests() != 0 || len(smtp.Messages()) != 0 {
		t.Fatalf("exit %d, %d telegram and %d whatsapp messages, %d emails: want exit 1 and nothing sent",
			code, bot.Requests(), wa.Requests(), len(smtp.Messages()))
	}
}
