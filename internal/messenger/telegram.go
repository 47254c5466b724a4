package messenger

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/channels/telegram"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/signing"
	"github.com/rapporthq/rapport/internal/store"
	"github.com/rapporthq/rapport/templates"
)

// The templates of the bot's confirmations (.msg.txt), in the customer's locale.
const (
	TemplateLinked  = "telegram-linked"
	TemplateStopped = "telegram-stopped"
)

// builtin are the confirmations when the templates lack them.
var builtin = map[string]map[string]string{
	TemplateLinked: {"en": "You're subscribed: we'll write to you here. Send /stop to unsubscribe.",
		"ru": "Готово: теперь мы будем писать вам здесь. Чтобы отписаться, отправьте /stop."},
	TemplateStopped: {"en": "You're unsubscribed: we won't write to you here any more.",
		"ru": "Вы отписались: больше мы не будем писать вам здесь."},
}

// UpdateEventID is the id of the event an update raises: the bot and the update_id, so
// that a replayed update is one event.
func UpdateEventID(botID string, updateID int64) string {
	return "tg-" + botID + "-" + strconv.FormatInt(updateID, 10)
}

// HandleUpdate applies one update of the Telegram channel name (its JSON), once: the
// same update again changes nothing. It returns an error only when the update should
// be delivered again (Redis or the intake failed); an update that means nothing, or
// names no customer, is counted and dropped.
func (l *Listener) HandleUpdate(ctx context.Context, name string, body []byte) error {
	tg, err := l.telegram(name)
	if err != nil {
		return err
	}
	u, err := telegram.DecodeUpdate(body)
	if err != nil {
		l.reject(name, err.Error())
		return nil
	}
	a := telegram.Read(u)
	if a.Kind == telegram.KindOther {
		return nil
	}
	id := UpdateEventID(tg.BotID(), a.UpdateID)
	return l.once(ctx, id, func() error { return l.apply(ctx, name, tg, id, a) })
}

func (l *Listener) apply(ctx context.Context, name string, tg *telegram.Telegram, id string, a telegram.Action) error {
	st := l.cfg.Store
	if a.Kind == telegram.KindStart {
		return l.link(ctx, name, tg, id, a)
	}
	cid, err := st.Owner(ctx, name, a.ChatID)
	if errors.Is(err, store.ErrNotFound) {
		l.reject(name, "a chat no customer linked")
		return nil
	}
	if err != nil {
		return err
	}
	switch a.Kind {
	case telegram.KindStop:
		if err := l.cfg.Consent.SetConsent(ctx, cid, name, false); err != nil {
			return err
		}
		l.cfg.Logger.Info("telegram: unsubscribed by /stop", "channel", name, "customer", cid)
		l.confirm(ctx, tg, name, cid, a, TemplateStopped)
	case telegram.KindKicked:
		if err := st.Block(ctx, cid, name, store.AddressDigest(a.ChatID), store.BlockedUnreachable); err != nil {
			return err
		}
		l.cfg.Logger.Info("telegram: the bot was blocked", "channel", name, "customer", cid)
	case telegram.KindText:
		ev := event.Event{ID: id, Type: TypeReplied, CustomerID: cid, Data: map[string]any{"channel": name, "text": a.Text}}
		if err := l.raise(ctx, ev); err != nil {
			return err
		}
		l.cfg.Count(name, KindReply)
	}
	return nil
}

// link applies /start TOKEN: the chat becomes the customer's telegram_chat_id, with
// consent, and channel.linked is raised. A token that does not verify links nothing.
func (l *Listener) link(ctx context.Context, name string, tg *telegram.Telegram, id string, a telegram.Action) error {
	st := l.cfg.Store
	if a.Token == "" {
		l.reject(name, "/start without a token")
		return nil
	}
	tok, err := l.cfg.Keys.Verify(signing.TelegramStart, a.Token, l.cfg.Now())
	if err != nil {
		l.reject(name, "a start token that does not verify: "+err.Error())
		return nil
	}
	cid, err := st.StartRef(ctx, tok.Ref)
	if errors.Is(err, store.ErrNotFound) {
		l.reject(name, "a start token whose customer is not known (any more)")
		return nil
	}
	if err != nil {
		return err
	}
	if err := st.SetOwner(ctx, name, a.ChatID, cid, 0); err != nil {
		return err
	}
	if err := l.cfg.Consent.SetConsent(ctx, cid, name, true); err != nil {
		return err
	}
	ev := event.Event{ID: id, Type: TypeLinked, CustomerID: cid,
		Customer: map[string]any{"telegram_chat_id": a.ChatID}, Data: map[string]any{"channel": name}}
	if err := l.raise(ctx, ev); err != nil {
		return err
	}
	l.cfg.Count(name, KindLink)
	l.cfg.Logger.Info("telegram: chat linked", "channel", name, "customer", cid)
	l.confirm(ctx, tg, name, cid, a, TemplateLinked)
	return nil
}

// confirm answers /start or /stop in the chat, in the customer's locale. A failure is
// logged: the update's work is done and must not be undone for a courtesy.
func (l *Listener) confirm(ctx context.Context, tg *telegram.Telegram, name, cid string, a telegram.Action, tmpl string) {
	profile, err := l.cfg.Store.Profile(ctx, cid)
	if err != nil {
		l.cfg.Logger.Warn("telegram: no confirmation sent", "channel", name, "customer", cid, "err", err)
		return
	}
	locale, _ := profile["locale"].(string)
	if locale == "" {
		locale = l.cfg.Locale
	}
	text := l.text(tmpl, locale, profile)
	if _, err := tg.Send(ctx, channels.Message{To: a.ChatID, Text: text, CustomerID: cid, Channel: name}); err != nil {
		l.cfg.Logger.Warn("telegram: no confirmation sent", "channel", name, "customer", cid, "err", err)
	}
}

func (l *Listener) text(tmpl, locale string, profile map[string]any) string {
	if l.cfg.Templates != nil {
		if t := l.cfg.Templates(); t != nil && t.Has(tmpl, channels.KindMsg) {
			r, err := t.Render(tmpl, channels.KindMsg, locale, templates.Data{Customer: profile})
			if err == nil && strings.TrimSpace(r.Text) != "" {
				return r.Text
			}
			l.cfg.Logger.Warn("telegram: confirmation template failed; the built-in text goes", "template", tmpl, "err", err)
		}
	}
	lang, _, _ := strings.Cut(locale, "-")
	if s, ok := builtin[tmpl][lang]; ok {
		return s
	}
	return builtin[tmpl]["en"]
}

// errNoBot wraps a failure to find a Telegram channel by name.
func errNoBot(name string, err error) error { return fmt.Errorf("telegram channel %s: %w", name, err) }
