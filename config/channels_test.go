package config

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rapporthq/rapport/channels"
	_ "github.com/rapporthq/rapport/channels/telegram"
	"github.com/rapporthq/rapport/channels/telegram/telegramtest"
	_ "github.com/rapporthq/rapport/channels/webhook"
	"github.com/rapporthq/rapport/channels/whatsapp"
)

// withChannels is the base config with its channels replaced by lines (from line 14).
func withChannels(lines ...string) []byte {
	return []byte(strings.Join(append(base[:13:13], lines...), "\n") + "\n")
}

func TestTheRateOfAnyChannelIsCheckedAtItsLine(t *testing.T) {
	for _, tc := range []struct {
		rate string
		want string // "" for valid
	}{
		{"30/s", ""}, {"100/m", ""}, {"0.5/s", ""}, {`"2 / s"`, ""},
		{"0/s", "must be a number of messages per second or minute above zero"},
		{"fast", "like 30/s or 100/m"}, {"30/h", "like 30/s"}, {"30", "like 30/s"}, {"[1]", "like 30/s"},
	} {
		t.Run(tc.rate, func(t *testing.T) {
			c, err := Parse("c.yaml", withChannels(
				"  email: {type: test-ok, host: mail.example}",
				"  hook:",
				"    type: webhook",
				"    url: https://crm.example/hook",
				"    secret: s",
				"    rate: "+tc.rate), testEnv)
			if err != nil {
				t.Fatal(err)
			}
			set, err := c.BuildChannels()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer set.Close()
				if _, limited := set["hook"].Channel.(interface{ Unwrap() channels.Channel }); !limited {
					t.Fatal("the channel is not rate limited")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "c.yaml:19: channels.hook.rate") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want c.yaml:19: ... %s", err, tc.want)
			}
		})
	}
}

func TestTheMessengerTypesRejectUnknownKeysAndMissingValuesAtTheirLines(t *testing.T) {
	c, err := Parse("c.yaml", withChannels(
		"  email: {type: test-ok, host: mail.example}",
		"  telegram: {type: telegram, tokn: x}",
		"  whatsapp:",
		"    type: whatsapp",
		"    token: t",
		"    phone: \"+1555\"",
		"  crm: {type: webhook, url: \"https://crm.example\", secret: s, rate: 5/s, retries: 3}",
	), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.BuildChannels()
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{
		`c.yaml:15: unknown key "tokn" (known: api_url, poll_timeout, timeout, token, updates, webhook_secret)`,
		`c.yaml:19: unknown key "phone" (known: api_url, app_secret, phone_number_id, timeout, token, verify_token)`,
		`c.yaml:20: unknown key "retries" (known: secret, timeout, url)`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q; got:\n%v", want, err)
		}
	}
}

func TestTheExampleConfigBuildsEveryChannel(t *testing.T) {
	data, err := os.ReadFile("rapport.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse("rapport.example.yaml", data, env(map[string]string{"RAPPORT_API_TOKEN": "t", "RAPPORT_SECRET": "0123456789abcdef",
		"SMTP_PASSWORD": "pw", "TELEGRAM_BOT_TOKEN": "123:abc", "WHATSAPP_TOKEN": "EAAG", "CRM_HOOK_SECRET": "s",
		"SUPPORT_HOOK_SECRET": "s2"}))
	if err != nil {
		t.Fatal(err)
	}
	set, err := c.BuildChannels()
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	for name, typ := range map[string]string{"email": "smtp", "telegram": "telegram", "whatsapp": "whatsapp", "crm": "webhook", "support": "webhook"} {
		if n, ok := set.Get(name); !ok || n.Type.Name != typ {
			t.Errorf("channel %s: %+v", name, n)
		}
	}
	var w whatsapp.Config
	if err := c.Channels["whatsapp"].Decode(&w); err != nil || w.PhoneNumberID != "123456789" {
		t.Fatalf("whatsapp block: %+v %v", w, err)
	}
}

// The limit is per process: every goroutine sending through the configured channel
// shares it. Counted at the server, no second may see more than limit+burst messages.
func TestTheRateLimitHoldsAcrossConcurrentSends(t *testing.T) {
	const limit, burst, goroutines, perGoroutine = 5, 1, 8, 2
	srv := telegramtest.Start(t)
	c, err := Parse("c.yaml", withChannels("  email: {type: test-ok, host: mail.example}", fmt.Sprintf("  telegram: {type: telegram, token: %q, api_url: %q, rate: %d/s}",
		telegramtest.Token, srv.URL, limit)), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	set, err := c.BuildChannels()
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	ch := set["telegram"]
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range perGoroutine {
				m := channels.Message{ID: fmt.Sprint(g, i), To: "42", Text: "hello"}
				if _, err := ch.Send(context.Background(), m); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	got := srv.Messages()
	if len(got) != goroutines*perGoroutine {
		t.Fatalf("%d messages arrived, want %d", len(got), goroutines*perGoroutine)
	}
	for i, m := range got {
		n := 0
		for _, o := range got[i:] {
			if o.At.Sub(m.At) < time.Second {
				n++
			}
		}
		if n > limit+burst {
			t.Fatalf("%d messages in the second after message %d, want at most %d", n, i, limit+burst)
		}
	}
}
