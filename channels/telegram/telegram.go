// Package telegram sends Rapport's messages through a Telegram bot: the Bot API's
// sendMessage, as plain text (no parse mode, so nothing in a message needs escaping), to
// the customer's telegram_chat_id. It registers the channel type "telegram".
//
// The Bot API's answers map to the channels error kinds: 429 is a
// *channels.TemporaryError that waits at least parameters.retry_after; 403 (the bot was
// blocked, the user deactivated) and 400 "chat not found" are a
// *channels.UnreachableError, so the step falls back to the next channel; 5xx and network
// failures are temporary; a timeout after the request left is a *channels.UncertainError;
// any other answer is a permanent *Error.
package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/channels/httpchan"
	"github.com/rapporthq/rapport/internal/duration"
)

func init() {
	channels.Register(channels.Type{Name: "telegram", Kind: channels.KindMsg, AddressKey: "telegram_chat_id", New: channels.NewFrom(New)})
}

// DefaultAPIURL is the Bot API's address.
const DefaultAPIURL = "https://api.telegram.org"

// Config is the config block of a telegram channel.
type Config struct {
	// Token is the bot token from @BotFather, like "123456:ABC-DEF...".
	Token string `yaml:"token"`
	// APIURL is the Bot API's address; default https://api.telegram.org (a local Bot API
	// server, or a test server, may stand in).
	APIURL string `yaml:"api_url"`
	// Timeout bounds one request; default 30s.
	Timeout duration.Duration `yaml:"timeout"`
	// WebhookSecret is the secret token Telegram sends in the
	// X-Telegram-Bot-Api-Secret-Token header of each webhook update (setWebhook's
	// secret_token): 1 to 256 characters of [A-Za-z0-9_-]. Updates to POST /hooks/CHANNEL
	// without it are refused.
	WebhookSecret string `yaml:"webhook_secret"`
	// Updates is how Rapport hears the bot's updates: "webhook" (the default: Telegram
	// posts them to /hooks/CHANNEL) or "poll" (the worker reads them with getUpdates).
	Updates string `yaml:"updates"`
	// PollTimeout is how long one getUpdates waits for an update in poll mode (long
	// polling); default 25s, less than Timeout. A worker that dies holds the bot's
	// updates for about twice this before another takes over.
	PollTimeout duration.Duration `yaml:"poll_timeout"`
}

// Telegram is a telegram channel. It is safe for concurrent use.
type Telegram struct {
	base   string // {api_url}/bot{token}/
	client *httpchan.Client
	cfg    Config
	botID  string // the digits of the token before the colon

	mu       sync.Mutex
	username string // from getMe, once known
}

var tokenRE = regexp.MustCompile(`^[0-9]+:[A-Za-z0-9_-]+$`)

// New checks cfg and returns the channel. It sends nothing; Check asks the Bot API
// whether the token is good.
func New(cfg Config) (*Telegram, error) {
	var problems httpchan.Problems
	switch {
	case cfg.Token == "":
		problems.Add("token is required: the bot token from @BotFather")
	case !tokenRE.MatchString(cfg.Token):
		problems.Add("token does not look like a bot token (digits, a colon, then letters: 123456:ABC-DEF...)")
	}
	if cfg.APIURL == "" {
		cfg.APIURL = DefaultAPIURL
	}
	problems.Check(httpchan.CheckURL("api_url", cfg.APIURL, DefaultAPIURL))
	problems.Check(httpchan.CheckTimeout(cfg.Timeout))
	if cfg.WebhookSecret != "" && !secretRE.MatchString(cfg.WebhookSecret) {
		problems.Add("webhook_secret must be 1 to 256 characters of A-Z, a-z, 0-9, _ and - (Telegram's secret_token)")
	}
	timeout := time.Duration(cfg.Timeout)
	if timeout <= 0 {
		timeout = httpchan.DefaultTimeout
	}
	switch p := time.Duration(cfg.PollTimeout); {
	case p == 0:
		cfg.PollTimeout = duration.Duration(min(25*time.Second, timeout*5/6))
	case p < time.Second || p >= timeout:
		problems.Add(fmt.Sprintf("poll_timeout %s must be at least 1s and less than timeout (%s)", p, timeout))
	}
	switch cfg.Updates {
	case "":
		cfg.Updates = UpdatesWebhook
	case UpdatesWebhook, UpdatesPoll:
	default:
		problems.Add(fmt.Sprintf("updates %q must be webhook or poll", cfg.Updates))
	}
	if err := problems.Err(); err != nil {
		return nil, err
	}
	bot, _, _ := strings.Cut(cfg.Token, ":")
	return &Telegram{
		base:   strings.TrimRight(cfg.APIURL, "/") + "/bot" + cfg.Token + "/",
		client: httpchan.New(time.Duration(cfg.Timeout)),
		cfg:    cfg,
		botID:  bot,
	}, nil
}

// Error is the Bot API's answer to a request it refused.
type Error struct {
	// Status is the HTTP status, which the Bot API repeats as error_code.
	Status int
	// Description is the Bot API's text, like "Forbidden: bot was blocked by the user".
	Description string
}

// Error reads "telegram: 403 Forbidden: bot was blocked by the user".
func (e *Error) Error() string { return fmt.Sprintf("telegram: %d %s", e.Status, e.Description) }

// answer is every Bot API response: {"ok": true, "result": ...} or {"ok": false,
// "error_code": 429, "description": "...", "parameters": {"retry_after": 5}}.
type answer struct {
	OK     bool `json:"ok"`
	Result struct {
		MessageID int64 `json:"message_id"`
	} `json:"result"`
	Description string `json:"description"`
	Parameters  struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

// sendMessage is the request body: plain text, no parse mode, so nothing needs escaping.
type sendMessage struct {
	ChatID json.RawMessage `json:"chat_id"`
	Text   string          `json:"text"`
}

var chatIDRE = regexp.MustCompile(`^(-?[1-9][0-9]{0,19}|@[A-Za-z][A-Za-z0-9_]{3,31})$`)

// Send sends msg.Text to the chat msg.To (a chat id, or @channelusername). The receipt's
// ProviderID is the message_id. See the package doc for the error kinds.
func (t *Telegram) Send(ctx context.Context, msg channels.Message) (channels.Receipt, error) {
	to := strings.TrimSpace(msg.To)
	if !chatIDRE.MatchString(to) {
		return channels.Receipt{}, channels.Unreachable(fmt.Errorf("telegram_chat_id %q is not a chat id", to))
	}
	if strings.TrimSpace(msg.Text) == "" {
		return channels.Receipt{}, errors.New("telegram: the message text is empty")
	}
	// A numeric chat id goes as a JSON number, a @channelusername as a string.
	chat := json.RawMessage(to)
	if to[0] == '@' {
		chat = json.RawMessage(strconv.Quote(to))
	}
	body, err := json.Marshal(sendMessage{ChatID: chat, Text: msg.Text})
	if err != nil {
		return channels.Receipt{}, fmt.Errorf("telegram: encode: %w", err)
	}
	req, err := http.NewRequest(http.MethodPost, t.base+"sendMessage", bytes.NewReader(body))
	if err != nil {
		return channels.Receipt{}, fmt.Errorf("telegram: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := t.client.Send(ctx, "telegram sendMessage", req)
	if err != nil {
		return channels.Receipt{}, err
	}
	var a answer
	jsonErr := json.Unmarshal(resp.Body, &a)
	if resp.OK() {
		// Delivered; only a body we cannot read would lose the message id.
		if jsonErr == nil && a.Result.MessageID != 0 {
			return channels.Receipt{ProviderID: strconv.FormatInt(a.Result.MessageID, 10)}, nil
		}
		return channels.Receipt{}, nil
	}
	e := &Error{Status: resp.Status, Description: a.Description}
	if jsonErr != nil || a.Description == "" {
		e.Description = http.StatusText(resp.Status) // a proxy's HTML page says no more
	}
	return channels.Receipt{}, classify(e, a, resp)
}

// classify turns a refusal into the error kind that says what to do next.
func classify(e *Error, a answer, resp *httpchan.Response) error {
	switch {
	case e.Status == http.StatusTooManyRequests:
		wait := time.Duration(a.Parameters.RetryAfter) * time.Second
		if h := httpchan.RetryAfter(resp.Header, time.Now()); h > wait {
			wait = h
		}
		return &channels.TemporaryError{Err: e, RetryAfter: wait}
	case e.Status >= 500:
		return channels.Temporary(e)
	case e.Status == http.StatusForbidden:
		// Blocked by the user, user deactivated, kicked from the group: this chat is
		// closed to the bot until the customer gives a new chat id.
		return channels.Unreachable(e)
	case e.Status == http.StatusBadRequest && strings.Contains(strings.ToLower(e.Description), "chat not found"):
		return channels.Unreachable(e)
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusNotFound:
		return fmt.Errorf("the bot token was refused (check the token in the config): %w", e)
	}
	return e
}

// Check asks the Bot API who the bot is (getMe): it fails when the API cannot be reached
// or the token is refused.
func (t *Telegram) Check(ctx context.Context) error {
	req, err := http.NewRequest(http.MethodGet, t.base+"getMe", nil)
	if err != nil {
		return fmt.Errorf("telegram: %w", err)
	}
	resp, err := t.client.Get(ctx, "telegram getMe", req)
	if err != nil {
		return err
	}
	var a answer
	if resp.OK() && json.Unmarshal(resp.Body, &a) == nil && a.OK {
		return nil
	}
	desc := a.Description
	if desc == "" {
		desc = httpchan.Snippet(resp.Body)
	}
	e := &Error{Status: resp.Status, Description: desc}
	if resp.Status == http.StatusUnauthorized || resp.Status == http.StatusNotFound {
		return fmt.Errorf("the bot token was refused: %w", e)
	}
	return fmt.Errorf("telegram getMe: %w", e)
}
