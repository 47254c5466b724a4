package providers

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// SendGrid reads SendGrid's signed Event Webhook: an ECDSA (P-256, SHA-256) signature
// over the timestamp header followed by the raw body, base64 DER in
// X-Twilio-Email-Event-Webhook-Signature.
type SendGrid struct {
	key *ecdsa.PublicKey
}

// SendGrid's signature headers.
const (
	SendGridSignatureHeader = "X-Twilio-Email-Event-Webhook-Signature"
	SendGridTimestampHeader = "X-Twilio-Email-Event-Webhook-Timestamp"
)

// NewSendGrid returns a SendGrid provider for the verification key, base64 DER
// (PKIX) as SendGrid's settings show it.
func NewSendGrid(publicKey string) (*SendGrid, error) {
	if publicKey == "" {
		return nil, errors.New("events.public_key is required for sendgrid")
	}
	der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(publicKey))
	if err != nil {
		return nil, fmt.Errorf("events.public_key is not base64: %w", err)
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("events.public_key: %w", err)
	}
	key, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("events.public_key is not an ECDSA key")
	}
	return &SendGrid{key: key}, nil
}

type sendgridEvent struct {
	Event     string `json:"event"`
	Email     string `json:"email"`
	Timestamp int64  `json:"timestamp"`
	SMTPID    string `json:"smtp-id"`
	EventID   string `json:"sg_event_id"`
	Type      string `json:"type"`
	Status    string `json:"status"`
	Reason    string `json:"reason"`
	URL       string `json:"url"`
}

// Events verifies the request's signature and returns the events of its array that
// Rapport acts on.
func (s *SendGrid) Events(r *http.Request, body []byte) ([]Event, error) {
	sig, err := base64.StdEncoding.DecodeString(r.Header.Get(SendGridSignatureHeader))
	ts := r.Header.Get(SendGridTimestampHeader)
	if err != nil || len(sig) == 0 || ts == "" {
		return nil, ErrUnverified
	}
	sum := sha256.Sum256(append([]byte(ts), body...))
	if !ecdsa.VerifyASN1(s.key, sum[:], sig) {
		return nil, ErrUnverified
	}
	var in []sendgridEvent
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var out []Event
	for i, se := range in {
		e := Event{
			ID:         se.EventID,
			Address:    se.Email,
			MessageID:  trimID(se.SMTPID),
			Status:     se.Status,
			Diagnostic: se.Reason,
			URL:        se.URL,
		}
		if se.Timestamp > 0 {
			e.At = time.Unix(se.Timestamp, 0).UTC()
		}
		switch se.Event {
		case "bounce":
			e.Kind = BounceHard
			if se.Type == "blocked" {
				e.Kind = BounceSoft
			}
			e.Kind = kindOfStatus(se.Status, e.Kind)
		case "dropped":
			e.Kind = BounceHard
		case "spamreport":
			e.Kind = Complaint
		case "delivered":
			e.Kind = Delivered
		case "click":
			e.Kind = Click
		default:
			continue
		}
		if e.Address == "" {
			return nil, fmt.Errorf("%w: event %d has no email", ErrMalformed, i)
		}
		if e.ID == "" {
			return nil, fmt.Errorf("%w: event %d has no sg_event_id", ErrMalformed, i)
		}
		e.ID = "sendgrid/" + e.ID
		out = append(out, e)
	}
	return out, nil
}
