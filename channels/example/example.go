// Package example is the worked example of a channel type (docs/extending.md): a chat
// app's incoming webhook, which takes {"user": ..., "text": ...} as JSON. It is a whole
// channel type in one file: its config, its registration and its Send, with the error
// kinds that tell the engine what to do next. It does not ship: channels/all does not
// import it, and its test does.
//
//	channels:
//	  team:
//	    type: example
//	    url: https://chat.example/hooks/T0K3N
package example

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/channels/httpchan"
	"github.com/rapporthq/rapport/internal/duration"
)

// The one registration line: the type's name in the config, the templates it renders
// (NAME.msg.txt), the profile attribute with the customer's address on it, and how to
// build one from its config block.
func init() {
	channels.Register(channels.Type{Name: "example", Kind: channels.KindMsg, AddressKey: "chat_user", New: channels.NewFrom(New)})
}

// Config is the channel's block of the config; unknown keys are errors at their lines.
type Config struct {
	// URL is the incoming webhook's address.
	URL string `yaml:"url"`
	// Timeout bounds one request, like 5s; default httpchan.DefaultTimeout.
	Timeout duration.Duration `yaml:"timeout"`
}

// Channel posts messages to the webhook.
type Channel struct {
	url    string
	client *httpchan.Client
}

// New checks the config and returns the channel. Its error names every problem; a plain
// error like this one is reported at the channel's line in the config.
func New(cfg Config) (*Channel, error) {
	var problems httpchan.Problems
	problems.Check(httpchan.CheckURL("url", cfg.URL, "https://chat.example/hooks/T0K3N"))
	problems.Check(httpchan.CheckTimeout(cfg.Timeout))
	if err := problems.Err(); err != nil {
		return nil, err
	}
	return &Channel{url: cfg.URL, client: httpchan.New(time.Duration(cfg.Timeout))}, nil
}

// Send posts the message's text to the customer's chat user. httpchan hands the message
// over first and tells a request that never went (temporary) from one that went
// unanswered (uncertain). Of the answers, a 429 or a 5xx is temporary (retried, after the
// Retry-After the app asked for); a 404 means the user is gone (unreachable: the step
// falls back to its next channel); anything else but a 2xx is permanent.
func (c *Channel) Send(ctx context.Context, msg channels.Message) (channels.Receipt, error) {
	body, err := json.Marshal(map[string]string{"user": msg.To, "text": msg.Text})
	if err != nil {
		return channels.Receipt{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return channels.Receipt{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", msg.ID) // the app drops a message it has seen
	resp, err := c.client.Send(ctx, "example post", req)
	if err != nil {
		return channels.Receipt{}, err
	}
	e := fmt.Errorf("chat app answered %d: %s", resp.Status, httpchan.Snippet(resp.Body))
	switch {
	case resp.OK():
		return channels.Receipt{ProviderID: resp.Header.Get("X-Message-Id")}, nil
	case resp.Status == http.StatusTooManyRequests || resp.Status >= 500:
		return channels.Receipt{}, &channels.TemporaryError{Err: e, RetryAfter: httpchan.RetryAfter(resp.Header, time.Now())}
	case resp.Status == http.StatusNotFound:
		return channels.Receipt{}, channels.Unreachable(e)
	}
	return channels.Receipt{}, e
}
