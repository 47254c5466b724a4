// Package providers verifies and reads the delivery-event webhooks of email providers
// (Mailgun, Postmark, SendGrid, Amazon SES through SNS). Each provider signs its
// requests its own way; a Provider checks that signature before it reads a byte of the
// payload's meaning, and turns the events it carries into Events of one shape.
package providers

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Event kinds, named as the rapport_feedback_total metric counts them.
const (
	BounceHard = "bounce_hard"
	BounceSoft = "bounce_soft"
	Complaint  = "complaint"
	Delivered  = "delivered"
	Click      = "click"
)

// ErrUnverified is returned for a request whose signature or credentials do not verify;
// the webhook answers it with 401 and changes nothing.
var ErrUnverified = errors.New("webhook request not verified")

// ErrMalformed is returned (wrapped) for a verified request whose payload cannot be read.
var ErrMalformed = errors.New("malformed webhook payload")

// Event is one delivery event reported by a provider.
type Event struct {
	// ID identifies the event at the provider, so that a retried webhook is one event.
	ID string
	// Kind is BounceHard, BounceSoft, Complaint, Delivered or Click.
	Kind string
	// Address is the recipient's email address.
	Address string
	// MessageID is the Message-ID header of the message the event is about, without
	// angle brackets, when the provider reports it.
	MessageID string
	// Vars are the custom variables the provider carried from the sent message
	// (Mailgun user-variables, Postmark Metadata); nil when none.
	Vars map[string]string
	// Status is the enhanced status code of a bounce, like 5.1.1, when reported.
	Status string
	// Diagnostic is the provider's description of a bounce.
	Diagnostic string
	// URL is the link of a click.
	URL string
	// At is when the provider says the event happened; zero when it does not say.
	At time.Time
}

// Provider verifies one webhook request and reads its events. Verify errors are
// ErrUnverified; a payload that verifies but cannot be read is ErrMalformed.
type Provider interface {
	Events(r *http.Request, body []byte) ([]Event, error)
}

// Config is a channel's `events:` block.
type Config struct {
	// Provider is mailgun, postmark, sendgrid or ses.
	Provider string `yaml:"provider"`
	// SigningKey is Mailgun's HTTP webhook signing key.
	SigningKey string `yaml:"signing_key"`
	// Username and Password are the basic auth credentials set on Postmark's webhook URL.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// PublicKey is SendGrid's verification key, base64 DER as SendGrid shows it.
	PublicKey string `yaml:"public_key"`
	// TopicARN is the SNS topic that SES publishes to; notifications of any other
	// topic are refused, since anyone can have SNS sign a message of their own topic.
	TopicARN string `yaml:"topic_arn"`
}

// Option changes how New builds a provider.
type Option func(*options)

type options struct {
	client *http.Client
}

// WithHTTPClient sets the client with which SES signing certificates are fetched and
// SNS subscriptions confirmed; default a client with a 10 s timeout. The certificate
// URL must still be https on a host under amazonaws.com.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.client = c } }

// Names lists the providers New knows.
var Names = []string{"mailgun", "postmark", "sendgrid", "ses"}

// New returns the Provider that cfg names, or an error naming the field that is
// missing or wrong.
func New(cfg Config, opts ...Option) (Provider, error) {
	o := options{client: &http.Client{Timeout: 10 * time.Second}}
	for _, f := range opts {
		f(&o)
	}
	switch cfg.Provider {
	case "mailgun":
		if cfg.SigningKey == "" {
			return nil, errors.New("events.signing_key is required for mailgun")
		}
		return &Mailgun{key: []byte(cfg.SigningKey)}, nil
	case "postmark":
		if cfg.Username == "" || cfg.Password == "" {
			return nil, errors.New("events.username and events.password are required for postmark")
		}
		return &Postmark{user: cfg.Username, pass: cfg.Password}, nil
	case "sendgrid":
		return NewSendGrid(cfg.PublicKey)
	case "ses":
		if cfg.TopicARN == "" {
			return nil, errors.New("events.topic_arn is required for ses")
		}
		return &SES{topic: cfg.TopicARN, certs: newCertCache(o.client), client: o.client}, nil
	case "":
		return nil, errors.New("events.provider is required")
	}
	return nil, fmt.Errorf("events.provider %q is none of %s", cfg.Provider, strings.Join(Names, ", "))
}

// trimID drops the angle brackets of a Message-ID.
func trimID(id string) string {
	return strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(id), "<"), ">")
}

// kindOfStatus tells a bounce's kind by its enhanced status code when it has one:
// 4.x.x is soft, anything else hard.
func kindOfStatus(status string, fallback string) string {
	switch {
	case strings.HasPrefix(status, "4."):
		return BounceSoft
	case strings.HasPrefix(status, "5."):
		return BounceHard
	}
	return fallback
}
