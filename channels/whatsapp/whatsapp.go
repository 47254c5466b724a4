// Package whatsapp sends Rapport's messages through the WhatsApp Cloud API: POST
// {api_url}/{phone_number_id}/messages with a bearer token, to the customer's phone
// (E.164). It sends the message text, or, when the template's .msg.txt names one in its
// front matter, the approved WhatsApp template with its rendered params. It registers
// the channel type "whatsapp".
//
// The Cloud API's error codes map to the channels error kinds: rate limits (4, 80007,
// 130429, 131048, 131056) and the API's own failures (1, 2, 131000, 131016, 133004, any
// 5xx) are a *channels.TemporaryError; an undeliverable number (131026), a recipient who
// stopped marketing messages (131050) or who is not on a test number's allowed list
// (131030) is a *channels.UnreachableError, so the step falls back to the next channel;
// 131047 is a permanent "outside the 24-hour window: needs a WhatsApp template"; the rest
// are permanent. Every refusal carries a *Error with the code.
package whatsapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/channels/httpchan"
	"github.com/rapporthq/rapport/internal/duration"
)

func init() {
	channels.Register(channels.Type{Name: "whatsapp", Kind: channels.KindMsg, AddressKey: "phone", New: channels.NewFrom(New)})
}

// DefaultAPIURL is the Graph API version the channel speaks when api_url is unset.
const DefaultAPIURL = "https://graph.facebook.com/v21.0"

// Config is the config block of a whatsapp channel.
type Config struct {
	// Token is a system user access token with the whatsapp_business_messaging permission.
	Token string `yaml:"token"`
	// PhoneNumberID is the id of the business phone number that sends (not the number
	// itself), from the WhatsApp Manager.
	PhoneNumberID string `yaml:"phone_number_id"`
	// APIURL is the Graph API address with its version; default
	// https://graph.facebook.com/v21.0.
	APIURL string `yaml:"api_url"`
	// Timeout bounds one request; default 30s.
	Timeout duration.Duration `yaml:"timeout"`
	// VerifyToken is the token Meta's webhook subscription handshake must present
	// (hub.verify_token); without it the handshake is refused.
	VerifyToken string `yaml:"verify_token"`
	// AppSecret is the app's secret, with which Meta signs each webhook POST
	// (X-Hub-Signature-256); without it every POST is refused.
	AppSecret string `yaml:"app_secret"`
}

// WhatsApp is a whatsapp channel. It is safe for concurrent use.
type WhatsApp struct {
	base   string // {api_url}/{phone_number_id}
	token  string
	client *httpchan.Client
	cfg    Config
}

var digits = regexp.MustCompile(`^[0-9]+$`)

// New checks cfg and returns the channel. It sends nothing; Check asks the API about the
// phone number id.
func New(cfg Config) (*WhatsApp, error) {
	var problems httpchan.Problems
	if cfg.Token == "" {
		problems.Add("token is required: an access token with whatsapp_business_messaging")
	}
	if !digits.MatchString(cfg.PhoneNumberID) {
		problems.Add(fmt.Sprintf("phone_number_id %q must be the sending number's id, all digits, from the WhatsApp Manager", cfg.PhoneNumberID))
	}
	if cfg.APIURL == "" {
		cfg.APIURL = DefaultAPIURL
	}
	problems.Check(httpchan.CheckURL("api_url", cfg.APIURL, DefaultAPIURL))
	problems.Check(httpchan.CheckTimeout(cfg.Timeout))
	if err := problems.Err(); err != nil {
		return nil, err
	}
	return &WhatsApp{
		base:   strings.TrimRight(cfg.APIURL, "/") + "/" + cfg.PhoneNumberID,
		token:  cfg.Token,
		client: httpchan.New(time.Duration(cfg.Timeout)),
		cfg:    cfg,
	}, nil
}

// Error is the Cloud API's answer to a request it refused (a Graph API error).
type Error struct {
	// Status is the HTTP status.
	Status int
	// Code is the error code, like 131047; zero when the body was not a Graph API error.
	Code int
	// Message is the API's message, like "(#131047) Re-engagement message".
	Message string
	// Details is error_data.details, the longer explanation, when given.
	Details string
}

// Error reads "whatsapp: 400 (#131026) Message undeliverable: details".
func (e *Error) Error() string {
	s := fmt.Sprintf("whatsapp: %d %s", e.Status, e.Message)
	if e.Details != "" {
		s += ": " + e.Details
	}
	return s
}

// ErrNeedsTemplate is the permanent failure of a free-form message outside the 24 hours
// after the customer last wrote (code 131047). The error that carries it also carries
// the *Error.
var ErrNeedsTemplate = errors.New("outside the 24-hour window: needs a WhatsApp template")

// E.164: a plus, a country code that does not start with 0, at most 15 digits in all.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// Phone returns the E.164 form of a phone number as customers' profiles hold it,
// dropping spaces, dashes, dots and parentheses, or false when it is not one.
func Phone(s string) (string, bool) {
	p := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '.', '(', ')', '\u00a0':
			return -1
		}
		return r
	}, s)
	return p, e164.MatchString(p)
}

// request is a message request: type "text" with Text, or "template" with Template.
type request struct {
	Product  string    `json:"messaging_product"`
	To       string    `json:"to"`
	Type     string    `json:"type"`
	Text     *text     `json:"text,omitempty"`
	Template *template `json:"template,omitempty"`
}

type text struct {
	Body string `json:"body"`
}

type template struct {
	Name     string `json:"name"`
	Language struct {
		Code string `json:"code"`
	} `json:"language"`
	Components []component `json:"components,omitempty"`
}

type component struct {
	Type       string  `json:"type"`
	Parameters []param `json:"parameters"`
}

type param struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// body builds the request: the approved template when msg has one, else the text.
func body(to string, msg channels.Message) ([]byte, error) {
	b := request{Product: "whatsapp", To: to}
	if t := msg.WhatsApp; t != nil {
		b.Type = "template"
		b.Template = &template{Name: t.Name}
		b.Template.Language.Code = t.Language
		if len(t.Params) > 0 {
			c := component{Type: "body"}
			for _, p := range t.Params {
				c.Parameters = append(c.Parameters, param{Type: "text", Text: p})
			}
			b.Template.Components = []component{c}
		}
	} else {
		if strings.TrimSpace(msg.Text) == "" {
			return nil, errors.New("whatsapp: the message text is empty")
		}
		b.Type, b.Text = "text", &text{Body: msg.Text}
	}
	return json.Marshal(b)
}

// Send sends msg to the phone msg.To. The receipt's ProviderID is the message's wamid
// (messages[0].id). See the package doc for the error kinds.
func (w *WhatsApp) Send(ctx context.Context, msg channels.Message) (channels.Receipt, error) {
	to, ok := Phone(msg.To)
	if !ok {
		return channels.Receipt{}, channels.Unreachable(errors.New("whatsapp: the phone is not an E.164 number like +15551234567"))
	}
	data, err := body(to, msg)
	if err != nil {
		return channels.Receipt{}, err
	}
	req, err := http.NewRequest(http.MethodPost, w.base+"/messages", bytes.NewReader(data))
	if err != nil {
		return channels.Receipt{}, fmt.Errorf("whatsapp: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+w.token)
	resp, err := w.client.Send(ctx, "whatsapp messages", req)
	if err != nil {
		return channels.Receipt{}, err
	}
	if resp.OK() {
		var a struct {
			Messages []struct {
				ID string `json:"id"`
			} `json:"messages"`
		}
		if json.Unmarshal(resp.Body, &a) == nil && len(a.Messages) > 0 {
			return channels.Receipt{ProviderID: a.Messages[0].ID}, nil
		}
		return channels.Receipt{}, nil // accepted; only the id is lost
	}
	return channels.Receipt{}, classify(refusal(resp), resp)
}

// refusal reads a Graph API error body.
func refusal(resp *httpchan.Response) *Error {
	var a struct {
		Error struct {
			Message   string `json:"message"`
			Code      int    `json:"code"`
			ErrorData struct {
				Details string `json:"details"`
			} `json:"error_data"`
		} `json:"error"`
	}
	e := &Error{Status: resp.Status}
	if json.Unmarshal(resp.Body, &a) == nil && a.Error.Message != "" {
		e.Code, e.Message, e.Details = a.Error.Code, a.Error.Message, a.Error.ErrorData.Details
	} else {
		e.Message = strings.TrimSpace(http.StatusText(resp.Status) + " " + httpchan.Snippet(resp.Body))
	}
	return e
}

// classify turns a refusal into the error kind that says what to do next.
func classify(e *Error, resp *httpchan.Response) error {
	switch e.Code {
	case 4, 80007, 130429, 131048, 131056, // rate limits
		1, 2, 131000, 131016, 133004, 131049: // the API's own trouble; 131049 is Meta holding a marketing message back for now
		return &channels.TemporaryError{Err: e, RetryAfter: httpchan.RetryAfter(resp.Header, time.Now())}
	case 131026, 131050, 131030:
		return channels.Unreachable(e)
	case 131047:
		return fmt.Errorf("%w (%w)", ErrNeedsTemplate, e)
	case 190, 10, 200: // token expired or invalid, permission missing
		return fmt.Errorf("the access token was refused (check the token in the config): %w", e)
	}
	switch {
	case e.Status == http.StatusUnauthorized:
		return fmt.Errorf("the access token was refused (check the token in the config): %w", e)
	case e.Status == http.StatusTooManyRequests || e.Status >= 500:
		return &channels.TemporaryError{Err: e, RetryAfter: httpchan.RetryAfter(resp.Header, time.Now())}
	}
	return e
}

// Check asks the API about the phone number id (GET {api_url}/{phone_number_id}): it
// fails when the API cannot be reached, the token is refused or the id is unknown to it.
func (w *WhatsApp) Check(ctx context.Context) error {
	req, err := http.NewRequest(http.MethodGet, w.base+"?fields=display_phone_number,verified_name", nil)
	if err != nil {
		return fmt.Errorf("whatsapp: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+w.token)
	resp, err := w.client.Get(ctx, "whatsapp phone number", req)
	if err != nil {
		return err
	}
	if resp.OK() {
		return nil
	}
	e := refusal(resp)
	if e.Code == 190 || resp.Status == http.StatusUnauthorized {
		return fmt.Errorf("the access token was refused: %w", e)
	}
	return fmt.Errorf("phone_number_id: %w", e)
}
