// Package feedback makes and checks the signed links of customer feedback (NPS) pages.
// A link names one customer and the locale the message was written in, so the page
// speaks the customer's language without looking anything up; it is signed with a key
// of its own derived from the config secret (internal/signing), so a forged link, or an
// unsubscribe token passed as one, is refused.
package feedback

import (
	"errors"
	"strings"

	"github.com/rapporthq/rapport/internal/signing"
)

// ErrInvalid is returned for a token that is malformed or not signed with our secret.
var ErrInvalid = errors.New("invalid feedback token")

// EventType is the type of the event a submitted answer records.
const EventType = "nps.submitted"

// Link is what a verified feedback token names.
type Link struct {
	CustomerID string
	// Locale is the locale the message carrying the link was rendered in.
	Locale string
}

// Signer signs and verifies feedback tokens and builds the public feedback URL.
type Signer struct {
	key     *signing.Key
	baseURL string
}

// NewSigner returns a Signer for secret, building URLs under baseURL (the public address
// of the HTTP API).
func NewSigner(secret, baseURL string) *Signer {
	return &Signer{key: signing.NewKey(secret, "feedback"), baseURL: strings.TrimRight(baseURL, "/")}
}

// Token returns the signed token for a customer, whose page speaks locale (empty: en).
func (s *Signer) Token(customerID, locale string) string {
	if locale == "" {
		locale = "en"
	}
	return s.key.Sign(customerID, locale)
}

// URL returns BASE_URL/feedback/TOKEN. Templates add ?score=N for each answer.
func (s *Signer) URL(customerID, locale string) string {
	return s.baseURL + "/feedback/" + s.Token(customerID, locale)
}

// Verify checks token and returns what it names.
func (s *Signer) Verify(token string) (Link, error) {
	f, err := s.key.Verify(token, 2)
	if err != nil {
		return Link{}, ErrInvalid
	}
	return Link{CustomerID: f[0], Locale: f[1]}, nil
}
