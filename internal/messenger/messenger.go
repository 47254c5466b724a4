package messenger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/channels/telegram"
	"github.com/rapporthq/rapport/channels/whatsapp"
	"github.com/rapporthq/rapport/client"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/signing"
	"github.com/rapporthq/rapport/internal/store"
	"github.com/rapporthq/rapport/templates"
)

// Feedback kinds, as rapport_feedback_total{channel,kind} counts them.
const (
	KindReply      = "reply"
	KindLink       = "link"
	KindDelivered  = "delivered"
	KindRead       = "read"
	KindBounceHard = "bounce_hard"
	KindBounceSoft = "bounce_soft"
	KindRejected   = "rejected"
)

// Event types raised for the customer.
const (
	TypeLinked  = "channel.linked"
	TypeReplied = "message.replied"
	TypeBounced = "message.bounced"
)

// Intake takes the events raised; *client.Client is one. It answers once the event is
// durably queued.
type Intake interface {
	Send(ctx context.Context, ev event.Event) (client.Result, error)
}

// Consent gives or withdraws a customer's consent on a channel; *engine.Engine is one.
type Consent interface {
	SetConsent(ctx context.Context, id, channel string, subscribed bool) error
}

// Renderer renders the bot's confirmations; *templates.Set is one.
type Renderer interface {
	Has(name string, kind channels.Kind) bool
	Render(name string, kind channels.Kind, locale string, data templates.Data) (templates.Rendered, error)
}

// Config configures a Listener.
type Config struct {
	Store   *store.Store
	Intake  Intake
	Consent Consent
	// Keys sign and verify the Telegram start tokens.
	Keys *signing.Keys
	// Channels returns the channels in force (a live reload may change them).
	Channels func() channels.Set
	// Templates returns the templates in force, for the bot's confirmations; nil or a
	// set without them uses the built-in texts.
	Templates func() Renderer
	// Locale is the default locale of the confirmations.
	Locale string
	// Count, when set, is told of each feedback by channel and kind.
	Count func(channel, kind string)
	// Now is the clock; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Listener applies what the messengers report. It is safe for concurrent use.
type Listener struct {
	engine.NopObserver // it hears only outcomes (see Outcome)
	cfg                Config
}

// New returns a Listener for cfg.
func New(cfg Config) *Listener {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Count == nil {
		cfg.Count = func(string, string) {}
	}
	if cfg.Locale == "" {
		cfg.Locale = "en"
	}
	return &Listener{cfg: cfg}
}

// Errors of Link.
var (
	// ErrUnknownChannel: no channel of that name is configured.
	ErrUnknownChannel = errors.New("no channel of this name is configured")
	// ErrNotLinkable: the channel has no start link (it is not a Telegram bot).
	ErrNotLinkable = errors.New("the channel has no start link: only telegram channels do")
)

func (l *Listener) telegram(name string) (*telegram.Telegram, error) {
	ch, ok := l.cfg.Channels().Get(name)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownChannel, name)
	}
	tg, ok := ch.Channel.(*telegram.Telegram)
	if !ok {
		return nil, fmt.Errorf("%w (%s is %s)", ErrNotLinkable, name, ch.Type.Name)
	}
	return tg, nil
}

// Link returns the customer's start link on the Telegram channel name:
// https://t.me/BOT?start=TOKEN, TOKEN signed and naming the customer by a ref that is
// kept for as long as the token verifies.
func (l *Listener) Link(ctx context.Context, cid, name string) (string, error) {
	tg, err := l.telegram(name)
	if err != nil {
		return "", err
	}
	bot, err := tg.Username(ctx)
	if err != nil {
		return "", err
	}
	ref := signing.RefFor(cid)
	tok, err := l.cfg.Keys.Sign(signing.Link{Purpose: signing.TelegramStart, Ref: ref, IssuedAt: l.cfg.Now()})
	if err != nil {
		return "", err
	}
	if err := l.cfg.Store.SaveStartRef(ctx, ref, cid, signing.TelegramStart.MaxAge()); err != nil {
		return "", err
	}
	return "https://t.me/" + bot + "?start=" + tok, nil
}

// once applies an update or notification named id once. It is marked done only after
// it was applied, whose every step is idempotent (the events it raises are named by id),
// so a crash half-way has it applied again in full, never lost; one marked done changes
// nothing.
func (l *Listener) once(ctx context.Context, id string, apply func() error) error {
	done, err := l.cfg.Store.UpdateDone(ctx, id)
	if err != nil || done {
		return err
	}
	if err := apply(); err != nil {
		return err
	}
	return l.cfg.Store.MarkUpdate(ctx, id)
}

func (l *Listener) reject(channel, why string) {
	l.cfg.Count(channel, KindRejected)
	l.cfg.Logger.Info("messenger update rejected", "channel", channel, "why", why)
}

func (l *Listener) raise(ctx context.Context, ev event.Event) error {
	if ev.OccurredAt.IsZero() {
		ev.OccurredAt = l.cfg.Now().UTC()
	}
	if _, err := l.cfg.Intake.Send(ctx, ev); err != nil {
		return fmt.Errorf("raise %s: %w", ev.Type, err)
	}
	return nil
}

// Forget erases what the listener keeps of the customer: their start ref, the ownership
// and windows of their messenger addresses, and the provider ids of their messages.
// Call it before the store erases the profile and history it reads them from.
func (l *Listener) Forget(ctx context.Context, cid string) error {
	st := l.cfg.Store
	profile, err := st.Profile(ctx, cid)
	if err != nil {
		return err
	}
	history, err := st.History(ctx, cid)
	if err != nil {
		return err
	}
	f := store.Listening{StartRef: signing.RefFor(cid), Addresses: map[string]string{}, ProviderIDs: map[string][]string{}}
	for name, ch := range l.cfg.Channels() {
		switch ch.Channel.(type) {
		case *telegram.Telegram, *whatsapp.WhatsApp:
			if a, ok := profile[ch.Type.AddressKey].(string); ok && a != "" {
				f.Addresses[name] = address(ch, a)
			}
		}
	}
	for _, r := range history {
		if r.ProviderID != "" && r.Channel != "" {
			f.ProviderIDs[r.Channel] = append(f.ProviderIDs[r.Channel], r.ProviderID)
		}
	}
	return st.ForgetListening(ctx, cid, f)
}

// address is the form in which an address of ch is kept: E.164 for a phone.
func address(ch channels.Named, a string) string {
	if _, ok := ch.Channel.(*whatsapp.WhatsApp); ok {
		if p, ok := whatsapp.Phone(a); ok {
			return p
		}
	}
	return a
}

// ConsentFunc adapts a function to Consent.
type ConsentFunc func(ctx context.Context, id, channel string, subscribed bool) error

// SetConsent calls f.
func (f ConsentFunc) SetConsent(ctx context.Context, id, channel string, subscribed bool) error {
	return f(ctx, id, channel, subscribed)
}
