// Package unsubscribe makes and checks the signed tokens of one-click unsubscribe links
// (RFC 8058). A token names one customer and one channel and is signed with HMAC-SHA256
// under the config secret, so a forged or altered token is refused.
package unsubscribe

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
)

// ErrInvalid is returned for a token that is malformed or not signed with our secret.
var ErrInvalid = errors.New("invalid unsubscribe token")

// Signer signs and verifies tokens and builds the public unsubscribe URL.
type Signer struct {
	secret  []byte
	baseURL string
}

// NewSigner returns a Signer for secret, building URLs under baseURL (the public address
// of the HTTP API, e.g. https://rapport.shop.example).
func NewSigner(secret, baseURL string) *Signer {
	return &Signer{secret: []byte(secret), baseURL: strings.TrimRight(baseURL, "/")}
}

// enc is strict: a token has exactly one spelling, so a changed last character, whose
// low bits base64 would otherwise ignore, is a different and invalid token.
var enc = base64.RawURLEncoding.Strict()

// Token returns the signed token for a customer on a channel.
func (s *Signer) Token(customerID, channel string) string {
	payload := enc.EncodeToString([]byte(channel + "\x00" + customerID))
	return payload + "." + enc.EncodeToString(s.mac(payload))
}

// URL returns BASE_URL/unsubscribe/TOKEN.
func (s *Signer) URL(customerID, channel string) string {
	return s.baseURL + "/unsubscribe/" + s.Token(customerID, channel)
}

// Verify checks token and returns the customer and channel it names.
func (s *Signer) Verify(token string) (customerID, channel string, err error) {
	payload, sig, ok := strings.Cut(token, ".")
	if !ok {
		return "", "", ErrInvalid
	}
	got, err := enc.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(payload)) {
		return "", "", ErrInvalid
	}
	raw, err := enc.DecodeString(payload)
	if err != nil {
		return "", "", ErrInvalid
	}
	channel, customerID, ok = strings.Cut(string(raw), "\x00")
	if !ok || customerID == "" || channel == "" {
		return "", "", ErrInvalid
	}
	return customerID, channel, nil
}

func (s *Signer) mac(payload string) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(payload))
	return m.Sum(nil)[:16]
}
