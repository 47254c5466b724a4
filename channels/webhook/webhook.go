// Package webhook posts Rapport's messages to an HTTP endpoint of your own: an SMS
// gateway, a CRM, a task for a salesperson or support to call the customer. It registers
// the channel type "webhook", whose address is the customer id: the whole message,
// customer profile included, goes in the body.
//
// Each message is one POST of a JSON Payload with the headers
//
//	Idempotency-Key: {message id}          the same on every retry of the message
//	X-Rapport-Timestamp: {unix seconds}
//	X-Rapport-Signature: sha256={hex}      HMAC-SHA256 with the channel's secret over "{timestamp}.{body}"
//
// A 2xx answer is delivered; 408, 429 (waiting as its Retry-After says) and 5xx are a
// *channels.TemporaryError and retried; any other answer is permanent. A receiver checks
// the signature with Verify and drops a repeated Idempotency-Key.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/channels/httpchan"
	"github.com/rapporthq/rapport/internal/duration"
)

func init() {
	channels.Register(channels.Type{Name: "webhook", Kind: channels.KindMsg, AddressKey: "customer_id", New: channels.NewFrom(New)})
}

// The headers of a webhook request.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderTimestamp      = "X-Rapport-Timestamp"
	HeaderSignature      = "X-Rapport-Signature"
)

// Config is the config block of a webhook channel.
type Config struct {
	// URL is the endpoint that receives the POSTs.
	URL string `yaml:"url"`
	// Secret signs every request; the receiver checks the signature with it.
	Secret string `yaml:"secret"`
	// Timeout bounds one request; default 30s.
	Timeout duration.Duration `yaml:"timeout"`
}

// Payload is the JSON body of a webhook request.
type Payload struct {
	// ID is the message id, also sent as Idempotency-Key.
	ID         string `json:"id"`
	CustomerID string `json:"customer_id"`
	// Channel is the config name of the channel, like "crm".
	Channel  string `json:"channel"`
	Journey  string `json:"journey"`
	Step     string `json:"step"`
	Template string `json:"template"`
	Subject  string `json:"subject"`
	// Text is the rendered NAME.msg.txt.
	Text string `json:"text"`
	// Customer is the customer's profile.
	Customer map[string]any `json:"customer"`
}

// Webhook is a webhook channel. It is safe for concurrent use.
type Webhook struct {
	url    string
	secret []byte
	client *httpchan.Client
	now    func() time.Time
}

// New checks cfg and returns the channel. It sends nothing; Check sees whether the URL
// answers.
func New(cfg Config) (*Webhook, error) {
	var problems httpchan.Problems
	problems.Check(httpchan.CheckURL("url", cfg.URL, "https://crm.example/hooks/rapport"))
	if cfg.Secret == "" {
		problems.Add("secret is required: it signs every request so the receiver can tell it came from Rapport")
	}
	problems.Check(httpchan.CheckTimeout(cfg.Timeout))
	if err := problems.Err(); err != nil {
		return nil, err
	}
	return &Webhook{url: cfg.URL, secret: []byte(cfg.Secret), client: httpchan.New(time.Duration(cfg.Timeout)), now: time.Now}, nil
}

// Sign returns the X-Rapport-Signature value for body sent at timestamp (unix seconds):
// "sha256=" and the hex HMAC-SHA256 with secret over "{timestamp}.{body}".
func Sign(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Send posts msg. See the package doc for the request and the error kinds.
func (w *Webhook) Send(ctx context.Context, msg channels.Message) (channels.Receipt, error) {
	p := Payload{ID: msg.ID, CustomerID: msg.CustomerID, Channel: msg.Channel, Journey: msg.Meta["journey"],
		Step: msg.Meta["step"], Template: msg.Meta["template"], Subject: msg.Subject, Text: msg.Text, Customer: msg.Customer}
	if p.Customer == nil {
		p.Customer = map[string]any{}
	}
	body, err := json.Marshal(p)
	if err != nil {
		return channels.Receipt{}, fmt.Errorf("webhook: encode: %w", err)
	}
	req, err := http.NewRequest(http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return channels.Receipt{}, fmt.Errorf("webhook: %w", err)
	}
	ts := strconv.FormatInt(w.now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Rapport-Webhook/1")
	req.Header.Set(HeaderIdempotencyKey, msg.ID)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(w.secret, ts, body))
	resp, err := w.client.Send(ctx, "webhook", req)
	if err != nil {
		return channels.Receipt{}, err
	}
	if resp.OK() {
		return channels.Receipt{}, nil
	}
	e := &Error{Status: resp.Status, Body: httpchan.Snippet(resp.Body)}
	switch s := resp.Status; {
	case s == http.StatusRequestTimeout || s == http.StatusTooManyRequests || s >= 500:
		return channels.Receipt{}, &channels.TemporaryError{Err: e, RetryAfter: httpchan.RetryAfter(resp.Header, w.now())}
	}
	return channels.Receipt{}, e
}

// Error is a receiver's refusal.
type Error struct {
	Status int
	// Body is the start of the receiver's answer.
	Body string
}

// Error reads "webhook: 422 Unprocessable Entity: body".
func (e *Error) Error() string {
	s := fmt.Sprintf("webhook: %d %s", e.Status, http.StatusText(e.Status))
	if b := strings.TrimSpace(e.Body); b != "" {
		s += ": " + b
	}
	return s
}

// Check sends a HEAD request to the URL, without a message or a signature: it fails when
// the host cannot be reached (DNS, connection, TLS) or answers with a 5xx. Any other
// answer, a 405 Method Not Allowed too, shows the endpoint is there.
func (w *Webhook) Check(ctx context.Context) error {
	req, err := http.NewRequest(http.MethodHead, w.url, nil)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	resp, err := w.client.Get(ctx, "webhook "+redactURL(w.url), req)
	if err != nil {
		return err
	}
	if resp.Status >= 500 {
		return fmt.Errorf("webhook %s answered %d %s", redactURL(w.url), resp.Status, http.StatusText(resp.Status))
	}
	return nil
}

// redactURL keeps a URL's scheme, host and path: its query may hold a token.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(bad url)"
	}
	return u.Scheme + "://" + u.Host + u.Path
}

// Verification failures, for errors.Is.
var (
	ErrNoSignature  = errors.New("webhook: the request is not signed")
	ErrBadSignature = errors.New("webhook: the signature does not match")
	ErrStale        = errors.New("webhook: the timestamp is too old or too far ahead")
)

// Verify is for receivers: it reads r's body (up to 1 MiB) and checks its
// X-Rapport-Signature against secret and its X-Rapport-Timestamp against now, allowing
// maxAge either way (5 minutes is usual; zero skips the time check). It returns the body
// when the request is Rapport's, and ErrNoSignature, ErrBadSignature or ErrStale
// otherwise. The receiver should then drop a repeated Idempotency-Key: a retry carries
// the same one.
func Verify(r *http.Request, secret []byte, maxAge time.Duration, now time.Time) ([]byte, error) {
	ts, sig := r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderSignature)
	if ts == "" || sig == "" {
		return nil, ErrNoSignature
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("webhook: read body: %w", err)
	}
	if !hmac.Equal([]byte(sig), []byte(Sign(secret, ts, body))) {
		return nil, ErrBadSignature
	}
	if maxAge > 0 {
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			return nil, ErrStale
		}
		if d := now.Sub(time.Unix(sec, 0)); d > maxAge || d < -maxAge {
			return nil, ErrStale
		}
	}
	return body, nil
}
