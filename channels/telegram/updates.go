package telegram

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rapporthq/rapport/channels/httpchan"
)

// How a bot hears its updates (Config.Updates).
const (
	UpdatesWebhook = "webhook"
	UpdatesPoll    = "poll"
)

// SecretHeader is the header in which Telegram sends a webhook's secret_token.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

var secretRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

// Update is the part of a Bot API Update that Rapport reads: a message to the bot, or a
// change of the bot's membership in a chat (the user blocked or unblocked it).
type Update struct {
	UpdateID     int64              `json:"update_id"`
	Message      *UpdateMessage     `json:"message,omitempty"`
	MyChatMember *ChatMemberUpdated `json:"my_chat_member,omitempty"`
}

// UpdateMessage is an incoming message.
type UpdateMessage struct {
	MessageID int64  `json:"message_id"`
	Date      int64  `json:"date"`
	Chat      Chat   `json:"chat"`
	From      *User  `json:"from,omitempty"`
	Text      string `json:"text,omitempty"`
}

// Chat is the chat an update comes from.
type Chat struct {
	ID   int64  `json:"id"`
	Type string `json:"type"`
}

// User is the sender of a message.
type User struct {
	ID           int64  `json:"id"`
	IsBot        bool   `json:"is_bot"`
	FirstName    string `json:"first_name"`
	LanguageCode string `json:"language_code,omitempty"`
}

// ChatMemberUpdated is a change of the bot's status in a chat: "kicked" when a user
// blocked the bot, "member" when they unblocked it.
type ChatMemberUpdated struct {
	Chat          Chat         `json:"chat"`
	Date          int64        `json:"date"`
	NewChatMember ChatMemberIs `json:"new_chat_member"`
}

// ChatMemberIs is the status part of a ChatMember.
type ChatMemberIs struct {
	Status string `json:"status"`
}

// Kind is what an update asks of Rapport.
type Kind string

// The kinds of update.
const (
	KindStart  Kind = "start"  // /start TOKEN: link the chat to the customer the token names
	KindStop   Kind = "stop"   // /stop: unsubscribe
	KindText   Kind = "text"   // any other text: the customer wrote back
	KindKicked Kind = "kicked" // the user blocked the bot
	KindOther  Kind = ""       // nothing Rapport acts on (a photo, an edit, a group event)
)

// Action is what an update means, read by Read.
type Action struct {
	UpdateID int64
	Kind     Kind
	// ChatID is the chat's id, as telegram_chat_id holds it.
	ChatID string
	// Token is /start's parameter; Text is a text message's text.
	Token, Text string
	// Date is when the message or change happened, in Unix seconds.
	Date int64
	// LanguageCode is the sender's Telegram language, like "ru", when given.
	LanguageCode string
}

// MaxText is the longest text an Action keeps, in characters; the rest is cut.
const MaxText = 4000

// ErrBadUpdate is returned by DecodeUpdate for a body that is not a Bot API update.
var ErrBadUpdate = errors.New("not a Telegram update")

// DecodeUpdate reads one update's JSON.
func DecodeUpdate(body []byte) (Update, error) {
	var u Update
	if err := json.Unmarshal(body, &u); err != nil {
		return u, fmt.Errorf("%w: %v", ErrBadUpdate, err)
	}
	if u.UpdateID <= 0 {
		return u, fmt.Errorf("%w: update_id is missing", ErrBadUpdate)
	}
	return u, nil
}

// Read says what u asks of Rapport. Only private chats count: a bot in a group hears
// others than the customer.
func Read(u Update) Action {
	a := Action{UpdateID: u.UpdateID}
	switch {
	case u.Message != nil && u.Message.Chat.Type == "private":
		m := u.Message
		a.ChatID, a.Date = strconv.FormatInt(m.Chat.ID, 10), m.Date
		if m.From != nil {
			a.LanguageCode = m.From.LanguageCode
		}
		text := strings.TrimSpace(m.Text)
		cmd, arg, _ := strings.Cut(text, " ")
		cmd, _, _ = strings.Cut(cmd, "@") // /start@shop_bot
		switch {
		case text == "":
		case cmd == "/start":
			a.Kind, a.Token = KindStart, strings.TrimSpace(arg)
		case cmd == "/stop":
			a.Kind = KindStop
		default:
			a.Kind, a.Text = KindText, cut(text, MaxText)
		}
	case u.MyChatMember != nil && u.MyChatMember.Chat.Type == "private" && u.MyChatMember.NewChatMember.Status == "kicked":
		a.Kind, a.ChatID, a.Date = KindKicked, strconv.FormatInt(u.MyChatMember.Chat.ID, 10), u.MyChatMember.Date
	}
	return a
}

func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// CheckSecret reports whether the webhook request r carries the configured secret in
// SecretHeader, compared in constant time. Without a configured secret nothing passes.
func (t *Telegram) CheckSecret(r *http.Request) bool {
	got := r.Header.Get(SecretHeader)
	return t.cfg.WebhookSecret != "" && subtle.ConstantTimeCompare([]byte(got), []byte(t.cfg.WebhookSecret)) == 1
}

// Updates is how the bot hears its updates: UpdatesWebhook or UpdatesPoll.
func (t *Telegram) Updates() string { return t.cfg.Updates }

// PollTimeout is how long one getUpdates waits in poll mode.
func (t *Telegram) PollTimeout() time.Duration { return time.Duration(t.cfg.PollTimeout) }

// HasWebhookSecret reports whether webhook_secret is set.
func (t *Telegram) HasWebhookSecret() bool { return t.cfg.WebhookSecret != "" }

// WebhookSecret is the configured webhook_secret, for a client that posts updates as
// Telegram does (rapport inbound).
func (t *Telegram) WebhookSecret() string { return t.cfg.WebhookSecret }

// BotID is the bot's numeric id, the digits of its token before the colon. It names the
// bot in update ids without the token's secret part.
func (t *Telegram) BotID() string { return t.botID }

// call makes a Bot API request that sends no message and decodes its result into v.
func (t *Telegram) call(ctx context.Context, method string, params url.Values, v any) error {
	req, err := http.NewRequest(http.MethodPost, t.base+method, strings.NewReader(params.Encode()))
	if err != nil {
		return fmt.Errorf("telegram %s: %w", method, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := t.client.Get(ctx, "telegram "+method, req)
	if err != nil {
		return err
	}
	var a struct {
		OK          bool            `json:"ok"`
		Result      json.RawMessage `json:"result"`
		Description string          `json:"description"`
	}
	if err := json.Unmarshal(resp.Body, &a); err != nil || !a.OK {
		desc := a.Description
		if desc == "" {
			desc = httpchan.Snippet(resp.Body)
		}
		return fmt.Errorf("telegram %s: %w", method, &Error{Status: resp.Status, Description: desc})
	}
	if err := json.Unmarshal(a.Result, v); err != nil {
		return fmt.Errorf("telegram %s: read the result: %w", method, err)
	}
	return nil
}

// Username returns the bot's username (getMe), asked once and then remembered.
func (t *Telegram) Username(ctx context.Context) (string, error) {
	t.mu.Lock()
	name := t.username
	t.mu.Unlock()
	if name != "" {
		return name, nil
	}
	var me struct {
		Username string `json:"username"`
	}
	if err := t.call(ctx, "getMe", nil, &me); err != nil {
		return "", err
	}
	if me.Username == "" {
		return "", errors.New("telegram getMe: the bot has no username")
	}
	t.mu.Lock()
	t.username = me.Username
	t.mu.Unlock()
	return me.Username, nil
}

// GetUpdates asks for the updates from offset on (getUpdates), waiting up to
// waitSeconds for one to come (long polling). Each is returned as its raw JSON, in
// order, with its update_id.
func (t *Telegram) GetUpdates(ctx context.Context, offset int64, waitSeconds int) ([]RawUpdate, error) {
	params := url.Values{"offset": {strconv.FormatInt(offset, 10)}, "timeout": {strconv.Itoa(waitSeconds)},
		"limit": {"100"}, "allowed_updates": {`["message","my_chat_member"]`}}
	var raw []json.RawMessage
	if err := t.call(ctx, "getUpdates", params, &raw); err != nil {
		return nil, err
	}
	out := make([]RawUpdate, 0, len(raw))
	for _, r := range raw {
		var id struct {
			UpdateID int64 `json:"update_id"`
		}
		if err := json.Unmarshal(r, &id); err != nil {
			return nil, fmt.Errorf("telegram getUpdates: %w", err)
		}
		out = append(out, RawUpdate{ID: id.UpdateID, JSON: r})
	}
	return out, nil
}

// RawUpdate is one update as getUpdates gave it.
type RawUpdate struct {
	ID   int64
	JSON []byte
}

// WebhookInfo is what getWebhookInfo says of the bot's webhook.
type WebhookInfo struct {
	// URL is where Telegram posts updates; empty when no webhook is set.
	URL                  string `json:"url"`
	PendingUpdateCount   int    `json:"pending_update_count"`
	LastErrorDate        int64  `json:"last_error_date"`
	LastErrorMessage     string `json:"last_error_message"`
	HasCustomCertificate bool   `json:"has_custom_certificate"`
}

// WebhookInfo asks Telegram where the bot's webhook points (getWebhookInfo).
func (t *Telegram) WebhookInfo(ctx context.Context) (WebhookInfo, error) {
	var w WebhookInfo
	err := t.call(ctx, "getWebhookInfo", nil, &w)
	return w, err
}
