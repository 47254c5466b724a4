package example_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rapporthq/rapport/channels"
	_ "github.com/rapporthq/rapport/channels/example" // registers the example type
	"github.com/rapporthq/rapport/config"
	"github.com/rapporthq/rapport/internal/yamlx"
)

const base = "http: {base_url: \"http://localhost:8080\", api_tokens: [t]}\nsecret: 0123456789abcdef\n"

func build(t *testing.T, block string) (channels.Set, error) {
	t.Helper()
	cfg, err := config.Parse("rapport.yaml", []byte(base+"channels:\n  team:\n"+block), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return cfg.BuildChannels()
}

// chatApp answers like the chat app's incoming webhook: a known user gets the message,
// an unknown one a 404, and "busy" a 429 with a Retry-After.
func chatApp(t *testing.T, got chan<- map[string]string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]string
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		switch body["user"] {
		case "ghost":
			http.NotFound(w, r)
		case "busy":
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			body["key"] = r.Header.Get("Idempotency-Key")
			got <- body
			w.Header().Set("X-Message-Id", "m-1")
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestTheExampleChannelIsBuiltFromTheConfigAndSends builds the example type through the
// registry, as `rapport serve` does, and sends through it.
func TestTheExampleChannelIsBuiltFromTheConfigAndSends(t *testing.T) {
	got := make(chan map[string]string, 1)
	srv := chatApp(t, got)
	set, err := build(t, "    type: example\n    url: "+srv.URL+"\n    timeout: 5s\n    rate: 10/s\n")
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	team, ok := set.Get("team")
	if !ok || team.Type.Kind != channels.KindMsg || team.Type.AddressKey != "chat_user" {
		t.Fatalf("channel team = %+v, %v; want an example channel", team, ok)
	}
	ctx := context.Background()
	r, err := team.Send(ctx, channels.Message{ID: "msg-1", To: "anna", Text: "Thank you, Anna"})
	if err != nil || r.ProviderID != "m-1" {
		t.Fatalf("send: %+v, %v", r, err)
	}
	if b := <-got; b["user"] != "anna" || b["text"] != "Thank you, Anna" || b["key"] != "msg-1" {
		t.Fatalf("the chat app got %v", b)
	}
	var temp *channels.TemporaryError
	if _, err := team.Send(ctx, channels.Message{ID: "msg-2", To: "busy"}); !errors.As(err, &temp) || temp.RetryAfter != 30*time.Second {
		t.Fatalf("send to a busy app: %v; want temporary, retry after 30s", err)
	}
	var gone *channels.UnreachableError
	if _, err := team.Send(ctx, channels.Message{ID: "msg-3", To: "ghost"}); !errors.As(err, &gone) {
		t.Fatalf("send to an unknown user: %v; want unreachable", err)
	}
}

// TestTheExampleChannelsConfigProblemsHaveLines checks that the type's own config errors
// come back at their lines.
func TestTheExampleChannelsConfigProblemsHaveLines(t *testing.T) {
	cases := []struct {
		name, block string
		line        int
		msg         string
	}{
		{"no url", "    type: example\n", 5, `channels.team: url "" must be an http(s) URL`},
		{"an unknown key", "    type: example\n    url: http://x\n    urls: [a]\n", 7, `unknown key "urls"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := build(t, c.block)
			var problems yamlx.Errors
			if !errors.As(err, &problems) || len(problems) != 1 || problems[0].Line != c.line || !strings.Contains(problems[0].Msg, c.msg) {
				t.Fatalf("BuildChannels: %v; want one problem at line %d with %q", err, c.line, c.msg)
			}
		})
	}
}
