package inbound

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/client"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/inbound/providers"
	"github.com/rapporthq/rapport/internal/signing"
	"github.com/rapporthq/rapport/internal/store"
)

// Feedback kinds, as rapport_feedback_total{kind} counts them.
const (
	KindBounceHard = providers.BounceHard
	KindBounceSoft = providers.BounceSoft
	KindComplaint  = providers.Complaint
	KindDelivered  = providers.Delivered
	KindClick      = providers.Click
	KindReply      = "reply"
	KindRejected   = "rejected"
)

// Event types raised for the customer.
const (
	TypeBounced    = "message.bounced"
	TypeComplained = "message.complained"
	TypeReplied    = "message.replied"
	TypeClicked    = "message.clicked"
)

// DefaultSoftBounceLimit is how many soft bounces with no delivery in between count as
// a hard bounce, when Config.SoftBounceLimit is 0.
const DefaultSoftBounceLimit = 3

// Intake takes the events raised; *client.Client is one.
type Intake interface {
	Send(ctx context.Context, ev event.Event) (client.Result, error)
}

// Consent unsubscribes a customer from a channel as the one-click link does, putting the
// address on the suppression list; *engine.Engine is one.
type Consent interface {
	SetConsent(ctx context.Context, id, channel string, subscribed bool) error
}

// Config configures a Listener.
type Config struct {
	Store   *store.Store
	Intake  Intake
	Consent Consent
	// Keys sign and verify return-path and click tokens.
	Keys *signing.Keys
	// Listening names the channels whose messages carry a ref: those with bounces,
	// replies or events set.
	Listening map[string]bool
	// SoftBounceLimit: see DefaultSoftBounceLimit.
	SoftBounceLimit int
	// Count, when set, is told of each feedback by channel and kind (KindRejected for a
	// report that failed verification or named no message Rapport knows).
	Count func(channel, kind string)
	// Now is the clock; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Listener applies what comes back. It is safe for concurrent use.
type Listener struct {
	cfg Config
}

// New returns a Listener for cfg.
func New(cfg Config) *Listener {
	if cfg.SoftBounceLimit <= 0 {
		cfg.SoftBounceLimit = DefaultSoftBounceLimit
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Count == nil {
		cfg.Count = func(string, string) {}
	}
	return &Listener{cfg: cfg}
}

// Return names a message about to be sent on a listening channel: it keeps its ref and
// returns the signed tokens of its return addresses. It returns nil for a channel that
// does not listen, without touching Redis.
func (l *Listener) Return(ctx context.Context, r store.Ref) (*channels.Return, error) {
	if !l.cfg.Listening[r.Channel] {
		return nil, nil
	}
	id, err := l.cfg.Store.SaveRef(ctx, r)
	if err != nil {
		return nil, err
	}
	b, err := l.Token(Bounces, id)
	if err != nil {
		return nil, err
	}
	rp, err := l.Token(Replies, id)
	if err != nil {
		return nil, err
	}
	return &channels.Return{Ref: id, Bounces: b, Replies: rp}, nil
}

// The kinds of return address, as their tokens say.
const (
	Bounces = "b"
	Replies = "r"
)

// Token returns the signed TOKEN of return address kind (Bounces or Replies) for the
// message whose ref is id: a signing.ReturnPath link, at most 64 characters of
// [A-Za-z0-9_-].
func (l *Listener) Token(kind, id string) (string, error) {
	return l.cfg.Keys.Sign(signing.Link{Purpose: signing.ReturnPath, Ref: id, Extra: kind})
}

// verifyToken returns the ref that TOKEN of a kind's return address names, or an error
// when it does not verify.
func (l *Listener) verifyToken(kind, token string) (string, error) {
	link, err := l.cfg.Keys.Verify(signing.ReturnPath, token, l.cfg.Now())
	if err != nil {
		return "", err
	}
	if link.Extra != kind {
		return "", signing.ErrInvalid
	}
	return link.Ref, nil
}

// feedback is one thing a channel reported of one message.
type feedback struct {
	id         string // the report's own id, for idempotency
	channel    string
	kind       string
	address    string // the recipient's address, when the report gives it
	ref        *store.Ref
	status     string
	diagnostic string
	text       string
	subject    string
	url        string
}

// apply applies f once: a report seen before changes nothing. A failure unmarks it, so
// that the report's retry applies it.
func (l *Listener) apply(ctx context.Context, f feedback) error {
	first, err := l.cfg.Store.FirstFeedback(ctx, f.id)
	if err != nil || !first {
		return err
	}
	if err := l.act(ctx, f); err != nil {
		return errors.Join(err, l.cfg.Store.UnmarkFeedback(ctx, f.id))
	}
	l.cfg.Count(f.channel, f.kind)
	return nil
}

func (l *Listener) act(ctx context.Context, f feedback) error {
	st := l.cfg.Store
	data := map[string]any{"channel": f.channel}
	if r := f.ref; r != nil {
		data["message_id"], data["journey"], data["step"] = r.MessageID, r.Journey, r.Step
	}
	var typ string
	switch f.kind {
	case KindBounceSoft, KindBounceHard:
		typ = TypeBounced
		kind := "hard"
		if f.kind == KindBounceSoft {
			kind = "soft"
			if f.address != "" {
				n, err := st.SoftBounce(ctx, f.channel, f.address)
				if err != nil {
					return err
				}
				data["soft_bounces"] = n
				if n >= int64(l.cfg.SoftBounceLimit) {
					kind = "hard" // soft_bounce_limit soft bounces with no delivery in between
				}
			}
		}
		data["kind"], data["status"], data["diagnostic"] = kind, f.status, f.diagnostic
		if kind == "hard" {
			if err := l.bounced(ctx, f); err != nil {
				return err
			}
		}
		if f.ref != nil {
			if err := st.MarkDelivery(ctx, f.ref.CustomerID, f.ref.MessageID, "bounced"); err != nil {
				return err
			}
		}
	case KindComplaint:
		typ = TypeComplained
		if f.ref != nil {
			if err := l.cfg.Consent.SetConsent(ctx, f.ref.CustomerID, f.channel, false); err != nil {
				return err
			}
			if err := st.MarkDelivery(ctx, f.ref.CustomerID, f.ref.MessageID, "complained"); err != nil {
				return err
			}
		}
		if err := st.Suppress(ctx, f.channel, f.address, true); err != nil {
			return err
		}
	case KindDelivered:
		if f.address != "" {
			if err := st.ResetSoftBounces(ctx, f.channel, f.address); err != nil {
				return err
			}
		}
		if f.ref != nil {
			if err := st.MarkDelivery(ctx, f.ref.CustomerID, f.ref.MessageID, "delivered"); err != nil {
				return err
			}
		}
		return nil // a delivery raises no event
	case KindReply:
		typ = TypeReplied
		data["text"] = f.text
		if f.subject != "" {
			data["subject"] = f.subject
		}
	case KindClick:
		typ = TypeClicked
		data["url"] = f.url
	default:
		return fmt.Errorf("unknown feedback kind %q", f.kind)
	}
	if f.ref == nil {
		return nil // no customer to raise it for; a hard bounce or complaint went to the address
	}
	ev := event.Event{ID: "fb-" + f.id, Type: typ, CustomerID: f.ref.CustomerID, OccurredAt: l.cfg.Now().UTC(), Data: data}
	if _, err := l.cfg.Intake.Send(ctx, ev); err != nil {
		return fmt.Errorf("raise %s: %w", typ, err)
	}
	l.cfg.Logger.Info("feedback", "channel", f.channel, "kind", f.kind, "customer", f.ref.CustomerID, "message", f.ref.MessageID)
	return nil
}

// bounced blocks the channel for the customer at the address the message went to, or,
// for a message Rapport does not know, puts the address on the suppression list.
func (l *Listener) bounced(ctx context.Context, f feedback) error {
	if f.ref != nil && f.ref.Address != "" {
		return l.cfg.Store.Block(ctx, f.ref.CustomerID, f.channel, f.ref.Address, store.BlockedBounced)
	}
	return l.cfg.Store.Suppress(ctx, f.channel, f.address, true)
}

// reject counts a report that changes nothing.
func (l *Listener) reject(channel, why string) {
	l.cfg.Count(channel, KindRejected)
	l.cfg.Logger.Info("feedback rejected", "channel", channel, "why", why)
}

// digest is a short stable id of parts, for report ids.
func digest(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// MessageIDRef returns the ref a Message-ID of Rapport's carries (see
// channels.Return), or "".
func MessageIDRef(id string) string {
	local, _, _ := strings.Cut(strings.Trim(id, "<> "), "@")
	ref, _, ok := strings.Cut(local, ".")
	if !ok || len(ref) != 17 || ref[0] != 'r' {
		return ""
	}
	return ref[1:]
}
