package whatsapp

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the header in which Meta signs a webhook POST.
const SignatureHeader = "X-Hub-Signature-256"

// Handshake answers Meta's webhook subscription request (GET with hub.mode=subscribe,
// hub.verify_token and hub.challenge): the challenge to echo, and whether the verify
// token is the configured one (compared in constant time). Without a configured
// verify_token nothing passes.
func (w *WhatsApp) Handshake(q url.Values) (challenge string, ok bool) {
	tok := q.Get("hub.verify_token")
	ok = q.Get("hub.mode") == "subscribe" && w.cfg.VerifyToken != "" &&
		subtle.ConstantTimeCompare([]byte(tok), []byte(w.cfg.VerifyToken)) == 1
	return q.Get("hub.challenge"), ok
}

// CheckSignature reports whether header (X-Hub-Signature-256) is "sha256=" and the hex
// HMAC-SHA256 of body with the app secret, compared in constant time. Without a
// configured app_secret nothing passes.
func (w *WhatsApp) CheckSignature(body []byte, header string) bool {
	return w.cfg.AppSecret != "" && ValidSignature(w.cfg.AppSecret, body, header)
}

// ValidSignature reports whether header is "sha256=" and the hex HMAC-SHA256 of body
// with secret; the comparison is constant-time.
func ValidSignature(secret string, body []byte, header string) bool {
	hexSum, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSum)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

// Sign returns the X-Hub-Signature-256 value of body under secret, as Meta sends it.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Notification is what one webhook POST reports: message statuses and customers'
// messages, from every entry and change.
type Notification struct {
	Statuses []Status
	Messages []Inbound
}

// Status is a message's delivery status.
type Status struct {
	// ID is the message's wamid, the ProviderID of its receipt.
	ID string
	// Status is sent, delivered, read or failed.
	Status string
	// RecipientID is the customer's number, digits only.
	RecipientID string
	At          time.Time
	// Code and Title are the first error of a failed status.
	Code  int
	Title string
}

// Permanent reports whether a failed status is for good: an error that is not a rate
// limit or the API's own trouble.
func (s Status) Permanent() bool {
	switch s.Code {
	case 4, 80007, 130429, 131048, 131056, 1, 2, 131000, 131016, 133004, 131049:
		return false
	}
	return s.Status == "failed"
}

// Inbound is a message a customer sent to the business number.
type Inbound struct {
	// ID is the message's wamid.
	ID string
	// From is the customer's number in E.164, with the plus.
	From string
	At   time.Time
	// Type is text, image, button, ...; Text is the text of a text message (or a
	// button's text).
	Type, Text string
}

// ErrBadNotification is returned by Decode for a body that is not a WhatsApp webhook
// notification.
var ErrBadNotification = errors.New("not a WhatsApp webhook notification")

// Decode reads a webhook POST's body (object whatsapp_business_account).
func Decode(body []byte) (Notification, error) {
	var p struct {
		Object string `json:"object"`
		Entry  []struct {
			Changes []struct {
				Field string `json:"field"`
				Value struct {
					Statuses []struct {
						ID          string `json:"id"`
						Status      string `json:"status"`
						Timestamp   string `json:"timestamp"`
						RecipientID string `json:"recipient_id"`
						Errors      []struct {
							Code  int    `json:"code"`
							Title string `json:"title"`
						} `json:"errors"`
					} `json:"statuses"`
					Messages []struct {
						ID        string `json:"id"`
						From      string `json:"from"`
						Timestamp string `json:"timestamp"`
						Type      string `json:"type"`
						Text      struct {
							Body string `json:"body"`
						} `json:"text"`
						Button struct {
							Text string `json:"text"`
						} `json:"button"`
					} `json:"messages"`
				} `json:"value"`
			} `json:"changes"`
		} `json:"entry"`
	}
	var n Notification
	if err := json.Unmarshal(body, &p); err != nil {
		return n, fmt.Errorf("%w: %v", ErrBadNotification, err)
	}
	if p.Object != "whatsapp_business_account" {
		return n, fmt.Errorf("%w: object is %q", ErrBadNotification, p.Object)
	}
	for _, e := range p.Entry {
		for _, c := range e.Changes {
			for _, s := range c.Value.Statuses {
				st := Status{ID: s.ID, Status: s.Status, RecipientID: s.RecipientID, At: unix(s.Timestamp)}
				if len(s.Errors) > 0 {
					st.Code, st.Title = s.Errors[0].Code, s.Errors[0].Title
				}
				n.Statuses = append(n.Statuses, st)
			}
			for _, m := range c.Value.Messages {
				in := Inbound{ID: m.ID, From: "+" + strings.TrimPrefix(m.From, "+"), At: unix(m.Timestamp), Type: m.Type, Text: m.Text.Body}
				if in.Text == "" {
					in.Text = m.Button.Text
				}
				n.Messages = append(n.Messages, in)
			}
		}
	}
	return n, nil
}

// unix reads a Unix-seconds timestamp; the zero time when it is not one.
func unix(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.Unix(n, 0).UTC()
}

// Window is how long after a customer's message a business may answer in free text.
const Window = 24 * time.Hour
