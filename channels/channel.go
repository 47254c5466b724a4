package channels

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Message is one personal message, already rendered, addressed to one customer on one channel.
type Message struct {
	// ID is stable for one journey step of one enrolment. Channels pass it on where the
	// transport has a place for it (an email's Message-ID, a webhook header) so receivers
	// can drop duplicates.
	ID string
	// To is the customer's address on this channel: an email address, a chat id, a phone
	// number, or the customer id for webhooks.
	To string
	// CustomerID is the customer the message is for.
	CustomerID string
	// Subject is the email subject; messengers ignore it.
	Subject string
	// Preheader is the email preview text, already part of HTML; kept for channels that
	// want it separately.
	Preheader string
	// HTML is the HTML body (email only).
	HTML string
	// Text is the plain-text body: the email's text part, or the whole messenger message.
	Text string
	// UnsubscribeURL, when set, marks a marketing message: email adds the RFC 8058
	// List-Unsubscribe and List-Unsubscribe-Post headers pointing at it.
	UnsubscribeURL string
	// Return, when set, names the message in what comes back from the channel: an
	// email's envelope sender, Reply-To and Message-ID carry it.
	Return *Return
	// Meta carries what a receiver may want to know about the message's origin, such as
	// "journey", "step" and "template". Webhooks post it; others may ignore it.
	Meta map[string]string
	// Channel is the config name of the channel the message goes out on ("crm").
	// Webhooks post it; others ignore it.
	Channel string
	// Customer holds the customer's profile attributes. Webhooks post them, so a CRM or
	// a salesperson's task has the whole customer; others ignore it.
	Customer map[string]any
	// WhatsApp, when set, is the approved WhatsApp template named in the front matter of
	// the template's .msg.txt, its params already rendered. The whatsapp channel sends it
	// instead of Text (a business may start a conversation only with such a template);
	// every other channel sends Text.
	WhatsApp *WhatsAppTemplate
}

// Return names a message in what comes back from its channel (bounces, complaints,
// replies, provider events).
type Return struct {
	// Ref is the message's short ref, 16 characters of [A-Za-z0-9_-]. An email's
	// Message-ID is then r{Ref}.{hash}@{domain}, which providers report back.
	Ref string
	// Bounces and Replies are the signed TOKENs of the message's return addresses: an
	// email with `bounces:` set goes out with the envelope sender LOCAL+Bounces@DOMAIN,
	// with `replies:` set with the Reply-To LOCAL+Replies@DOMAIN.
	Bounces, Replies string
}

// WhatsAppTemplate is a message template approved by Meta, sent by name with its body
// parameters filled in.
type WhatsAppTemplate struct {
	// Name is the template's name as approved, like "order_thanks".
	Name string
	// Language is the template's language code, like "en" or "pt_BR".
	Language string
	// Params fill the template body's {{1}}, {{2}}, ... in order.
	Params []string
}

// Receipt is what a channel reports after a successful send.
type Receipt struct {
	// ProviderID is the transport's own id for the message (SMTP queue id, Telegram
	// message_id, ...), empty when the transport gives none.
	ProviderID string
}

// Channel sends messages over one transport. Send must be safe for concurrent use.
//
// Send returns nil when the transport accepted the message. A failure is either a
// *TemporaryError (try again later: timeouts, 4xx SMTP replies, HTTP 429 and 5xx) or any
// other error, which the engine treats as permanent and records without retrying.
type Channel interface {
	Send(ctx context.Context, msg Message) (Receipt, error)
}

// ChannelFunc adapts a function to the Channel interface.
type ChannelFunc func(ctx context.Context, msg Message) (Receipt, error)

// Send calls f(ctx, msg).
func (f ChannelFunc) Send(ctx context.Context, msg Message) (Receipt, error) { return f(ctx, msg) }

// Closer is implemented by channels that hold resources (connection pools) to release at
// shutdown.
type Closer interface {
	Close() error
}

// TemporaryError wraps a failure that may succeed if tried again later.
type TemporaryError struct {
	Err error
	// RetryAfter is how long the transport asked us to wait; zero means "use backoff".
	RetryAfter time.Duration
}

// Error says what failed and, when known, how long to wait.
func (e *TemporaryError) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("temporary: %v (retry after %s)", e.Err, e.RetryAfter)
	}
	return "temporary: " + e.Err.Error()
}

// Unwrap returns the underlying failure.
func (e *TemporaryError) Unwrap() error { return e.Err }

// Temporary wraps err as a *TemporaryError with no retry-after hint.
func Temporary(err error) error { return &TemporaryError{Err: err} }

// IsTemporary reports whether err, or an error it wraps, is a *TemporaryError.
func IsTemporary(err error) bool {
	var t *TemporaryError
	return errors.As(err, &t)
}

// UnreachableError says the customer cannot be reached on this channel at this address:
// the bot was blocked, the chat is unknown, the number cannot receive messages. Nothing
// was delivered. The engine does not retry it: the step falls back to the next usable
// channel, and the channel stays closed for the customer until a new address arrives.
type UnreachableError struct {
	Err error
}

// Error says why the customer cannot be reached.
func (e *UnreachableError) Error() string { return "unreachable: " + e.Err.Error() }

// Unwrap returns the underlying failure.
func (e *UnreachableError) Unwrap() error { return e.Err }

// Unreachable wraps err as an *UnreachableError.
func Unreachable(err error) error { return &UnreachableError{Err: err} }

// UncertainError says the message was handed to the transport but its answer never came
// (a timeout after the SMTP DATA terminator, a connection lost while the HTTP response
// was awaited): it may or may not have been delivered. The engine records it as
// uncertain and, by the journey's on_uncertain, skips or resends it.
type UncertainError struct {
	Err error
}

// Error says what went wrong after the hand-over.
func (e *UncertainError) Error() string { return "uncertain: " + e.Err.Error() }

// Unwrap returns the underlying failure.
func (e *UncertainError) Unwrap() error { return e.Err }

// Uncertain wraps err as an *UncertainError.
func Uncertain(err error) error { return &UncertainError{Err: err} }

type handOverKey struct{}

// WithHandOver returns a context that carries f, the engine's hook that records a
// message as handed over. A channel calls it through HandOver.
func WithHandOver(ctx context.Context, f func(context.Context) error) context.Context {
	return context.WithValue(ctx, handOverKey{}, f)
}

// HandOver must be called by a channel right before the write after which the message is
// in the transport's hands and cannot be called back: for SMTP, before the DATA
// terminator; for an HTTP API, before the request is sent. When it returns an error the
// channel must not send, and returns that error wrapped as a *TemporaryError. Without a
// hook in ctx it does nothing.
func HandOver(ctx context.Context) error {
	if f, ok := ctx.Value(handOverKey{}).(func(context.Context) error); ok {
		return f(ctx)
	}
	return nil
}

// Checker is implemented by channels that can test their configuration without sending
// a message: an SMTP server's EHLO, STARTTLS and AUTH, a bot token, a phone number id.
// `rapport check` calls it. The error says in plain words what is wrong.
type Checker interface {
	Check(ctx context.Context) error
}
