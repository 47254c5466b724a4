package providers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"
)

// Mailgun reads Mailgun's webhooks: JSON with a signature block whose signature is the
// hex HMAC-SHA256, under the webhook signing key, of timestamp and token.
type Mailgun struct {
	key []byte
}

type mailgunPayload struct {
	Signature struct {
		Timestamp string `json:"timestamp"`
		Token     string `json:"token"`
		Signature string `json:"signature"`
	} `json:"signature"`
	EventData struct {
		ID        string  `json:"id"`
		Event     string  `json:"event"`
		Severity  string  `json:"severity"`
		Recipient string  `json:"recipient"`
		Timestamp float64 `json:"timestamp"`
		URL       string  `json:"url"`
		Reason    string  `json:"reason"`
		Message   struct {
			Headers struct {
				MessageID string `json:"message-id"`
			} `json:"headers"`
		} `json:"message"`
		DeliveryStatus struct {
			Code           json.Number `json:"code"`
			EnhancedCode   string      `json:"enhanced-code"`
			Message        string      `json:"message"`
			Description    string      `json:"description"`
			BounceCodeText string      `json:"bounce-code"`
		} `json:"delivery-status"`
		UserVariables map[string]any `json:"user-variables"`
	} `json:"event-data"`
}

// Sign returns the signature Mailgun sends with timestamp and token under key; tests
// and the simulator use it to make requests that verify.
func (m *Mailgun) Sign(timestamp, token string) string {
	mac := hmac.New(sha256.New, m.key)
	mac.Write([]byte(timestamp + token))
	return hex.EncodeToString(mac.Sum(nil))
}

// Events verifies the request's signature and returns its one event, or none for an
// event kind Rapport does not act on.
func (m *Mailgun) Events(_ *http.Request, body []byte) ([]Event, error) {
	var p mailgunPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, ErrUnverified // no signature can be read from it
	}
	s := p.Signature
	got, err := hex.DecodeString(s.Signature)
	if err != nil || s.Timestamp == "" || s.Token == "" {
		return nil, ErrUnverified
	}
	want, err := hex.DecodeString(m.Sign(s.Timestamp, s.Token))
	if err != nil || !hmac.Equal(got, want) {
		return nil, ErrUnverified
	}
	d := p.EventData
	e := Event{
		ID:         d.ID,
		Address:    d.Recipient,
		MessageID:  trimID(d.Message.Headers.MessageID),
		Status:     d.DeliveryStatus.EnhancedCode,
		Diagnostic: firstNonEmpty(d.DeliveryStatus.Description, d.DeliveryStatus.Message, d.Reason),
		URL:        d.URL,
	}
	if d.Timestamp > 0 && d.Timestamp < math.MaxInt32*4 {
		sec, frac := math.Modf(d.Timestamp)
		e.At = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	}
	if len(d.UserVariables) > 0 {
		e.Vars = map[string]string{}
		for k, v := range d.UserVariables {
			e.Vars[k] = fmt.Sprint(v)
		}
	}
	if e.ID == "" {
		e.ID = s.Token
	}
	switch d.Event {
	case "failed":
		if d.Severity == "temporary" {
			e.Kind = BounceSoft
		} else {
			e.Kind = BounceHard
		}
	case "complained":
		e.Kind = Complaint
	case "delivered":
		e.Kind = Delivered
	case "clicked":
		e.Kind = Click
	default:
		return nil, nil
	}
	if e.Address == "" {
		return nil, fmt.Errorf("%w: event-data.recipient is missing", ErrMalformed)
	}
	if e.Status == "" {
		if c, err := strconv.Atoi(d.DeliveryStatus.Code.String()); err == nil && c >= 400 && c < 600 {
			e.Status = strconv.Itoa(c/100) + ".0.0"
		}
	}
	return []Event{e}, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
