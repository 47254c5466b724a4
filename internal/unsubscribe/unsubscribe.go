// Package unsubscribe makes and checks the signed tokens of one-click unsubscribe links
// (RFC 8058). A token names one customer and one channel and is signed with HMAC-SHA256
// under the config secret (internal/signing), so a forged or altered token is refused.
package unsubscribe

import (
	"errors"
	"strings"

	"github.com/rapporthq/rapport/internal/signing"
)

// ErrInvalid is returned for a token that is malformed or not signed with our secret.
var ErrInvalid = errors.New("invalid unsubscribe token")

// Signer signs and verifies tokens and builds the public unsubscribe URL.
type Signer struct {
	key     *signing.Key
	baseURL string
}

// NewSigner returns a Signer for secret, building URLs under baseURL (the public address
// of the HTTP API, e.g. https://rapport.shop.example).
func NewSigner(secret, baseURL string) *Signer {
	// The empty purpose keeps the token format of links already sent.
	return &Signer{key: signing.NewKey(secret, ""), baseURL: strings.TrimRight(baseURL, "/")}
}

// Token returns the signed token for a customer on a channel.
func (s *Signer) Token(customerID, channel string) string {
	return s.key.Sign(channel, customerID)
}

// URL returns BASE_URL/unsubscribe/TOKEN.
func (s *Signer) URL(customerID, channel string) string {
	return s.baseURL + "/unsubscribe/" + s.Token(customerID, channel)
}

// Verify checks token and returns the customer and channel it names.
func (s *Signer) Verify(token string) (customerID, channel string, err error) {
	f, err := s.key.Verify(token, 2)
	if err != nil {
		return "", "", ErrInvalid
	}
	return f[1], f[0], nil
}
