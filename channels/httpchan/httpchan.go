// Package httpchan is what Rapport's HTTP channels (telegram, whatsapp, webhook) share:
// one request per message with a timeout, the hand-over to the engine right before the
// request leaves, and the split of transport failures into the channels error kinds. A
// failure before the request was written is a *channels.TemporaryError (nothing was
// sent); a failure after it, while the answer was awaited, is a *channels.UncertainError
// (the provider may have the message). Each channel reads the answer itself, since every
// provider words its errors differently.
package httpchan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/internal/duration"
)

// DefaultTimeout bounds one request when a channel's config sets no timeout.
const DefaultTimeout = 30 * time.Second

// maxBody is the most of an answer that is read; providers answer in a few hundred bytes.
const maxBody = 1 << 20

// Client sends a channel's requests. It is safe for concurrent use.
type Client struct {
	http    *http.Client
	timeout time.Duration
}

// New returns a Client whose requests each take at most timeout (DefaultTimeout when
// zero). Redirects are not followed: a 3xx is the answer. Connections are kept and reused across messages, as many as 64 idle per host,
// so concurrent sends to one provider do not dial every time.
func New(timeout time.Duration) *Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	return &Client{http: &http.Client{Transport: t, CheckRedirect: noRedirects}, timeout: timeout}
}

// noRedirects makes a 3xx the answer: a POST redirected would become a GET, and no
// provider redirects its API.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Response is a provider's answer: its status, headers and (up to 1 MiB of) body.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// OK reports a 2xx status.
func (r *Response) OK() bool { return r.Status >= 200 && r.Status < 300 }

// Send sends one message's request. It calls channels.HandOver(ctx) first and sends
// nothing if that fails (a *channels.TemporaryError). A request that never reached the
// provider (no connection, refused, timed out while dialling) is a
// *channels.TemporaryError; one written but not answered (timeout, connection lost, ctx
// ended) is a *channels.UncertainError. Any answer, whatever its status, is returned
// with a nil error. what names the request in errors ("telegram sendMessage"); the URL
// is left out of error texts, since it may hold a token.
func (c *Client) Send(ctx context.Context, what string, req *http.Request) (*Response, error) {
	if err := channels.HandOver(ctx); err != nil {
		return nil, channels.Temporary(fmt.Errorf("%s: hand over: %w", what, err))
	}
	var wrote atomic.Bool
	resp, err := c.do(ctx, req, &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) { wrote.Store(i.Err == nil) },
	})
	if err != nil {
		if wrote.Load() {
			return nil, channels.Uncertain(fmt.Errorf("%s: sent, but no answer came: %w", what, err))
		}
		return nil, channels.Temporary(fmt.Errorf("%s: %w", what, err))
	}
	return resp, nil
}

// Get makes a request that sends no message, such as a configuration check: no
// hand-over, and any failure to get an answer is a plain error naming what.
func (c *Client) Get(ctx context.Context, what string, req *http.Request) (*Response, error) {
	resp, err := c.do(ctx, req, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return resp, nil
}

func (c *Client) do(ctx context.Context, req *http.Request, trace *httptrace.ClientTrace) (*Response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if trace != nil {
		ctx = httptrace.WithClientTrace(ctx, trace)
	}
	resp, err := c.http.Do(req.WithContext(ctx))
	if err != nil {
		return nil, withoutURL(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		// The status is the provider's verdict; a body cut off after it only loses
		// details such as a message id, so the answer stands with what was read.
		body = append(body, []byte(fmt.Sprintf(" [answer cut off: %v]", withoutURL(err)))...)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

// withoutURL drops the request URL that net/http puts in its errors: a Telegram URL
// carries the bot token, and errors end up in logs and the customer's history.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Errorf("timed out: %w", ue.Err)
		}
		return ue.Err
	}
	return err
}

// RetryAfter reads a Retry-After header, in seconds or as an HTTP date, relative to now.
// It returns zero when the header is absent, malformed or in the past.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s > 0 {
			return time.Duration(s) * time.Second
		}
		return 0
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// CheckURL says what is wrong with a config's URL value (key names it), or returns nil
// for an absolute http(s) URL.
func CheckURL(key, value, example string) error {
	if u, err := url.Parse(value); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s %q must be an http(s) URL like %s", key, value, example)
	}
	return nil
}

// CheckTimeout says what is wrong with a config's timeout value, or returns nil; zero
// stands for DefaultTimeout.
func CheckTimeout(d duration.Duration) error {
	if d < 0 {
		return errors.New("timeout must not be negative")
	}
	return nil
}

// Problems collects what is wrong with a channel's config block, so that its
// constructor reports every problem at once rather than the first.
type Problems []string

// Add records a problem.
func (p *Problems) Add(msg string) { *p = append(*p, msg) }

// Check records err's text when err is not nil.
func (p *Problems) Check(err error) {
	if err != nil {
		p.Add(err.Error())
	}
}

// Err returns nil when there are no problems, else one error naming them all, joined
// with "; ".
func (p Problems) Err() error {
	if len(p) == 0 {
		return nil
	}
	return errors.New(strings.Join(p, "; "))
}

// Snippet returns up to 200 bytes of an answer's body for an error message.
func Snippet(body []byte) string {
	const max = 200
	if len(body) > max {
		return string(body[:max]) + "..."
	}
	return string(body)
}
