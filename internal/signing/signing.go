// Package signing makes and checks the signed tokens of Rapport's public links
// (unsubscribe, feedback). A token is its fields, base64url-encoded, and an HMAC-SHA256
// over them under the config secret, so a forged or altered token is refused. Each
// purpose signs with its own key derived from the secret, so a token made for one kind
// of link is never accepted by another.
package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
)

// ErrInvalid is returned for a token that is malformed, not signed with this key, or
// holding the wrong number of fields.
var ErrInvalid = errors.New("invalid signed token")

// Key signs and verifies tokens for one purpose. It is safe for concurrent use.
type Key struct {
	secret []byte
}

// NewKey returns the key for purpose under the config secret. The empty purpose signs
// with the secret itself, as unsubscribe links always have, so links already sent stay
// valid; every other purpose gets its own key derived from the secret.
func NewKey(secret, purpose string) *Key {
	if purpose == "" {
		return &Key{secret: []byte(secret)}
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("rapport/" + purpose))
	return &Key{secret: m.Sum(nil)}
}

// enc is strict: a token has exactly one spelling, so a changed last character, whose
// low bits base64 would otherwise ignore, is a different and invalid token.
var enc = base64.RawURLEncoding.Strict()

// Sign returns a URL-safe token holding fields, which must not contain NUL bytes.
func (k *Key) Sign(fields ...string) string {
	payload := enc.EncodeToString([]byte(strings.Join(fields, "\x00")))
	return payload + "." + enc.EncodeToString(k.mac(payload))
}

// Verify checks token and returns its n fields, every one non-empty; anything else is
// ErrInvalid.
func (k *Key) Verify(token string, n int) ([]string, error) {
	payload, sig, ok := strings.Cut(token, ".")
	if !ok {
		return nil, ErrInvalid
	}
	got, err := enc.DecodeString(sig)
	if err != nil || !hmac.Equal(got, k.mac(payload)) {
		return nil, ErrInvalid
	}
	raw, err := enc.DecodeString(payload)
	if err != nil {
		return nil, ErrInvalid
	}
	fields := strings.Split(string(raw), "\x00")
	if len(fields) != n {
		return nil, ErrInvalid
	}
	for _, f := range fields {
		if f == "" {
			return nil, ErrInvalid
		}
	}
	return fields, nil
}

func (k *Key) mac(payload string) []byte {
	m := hmac.New(sha256.New, k.secret)
	m.Write([]byte(payload))
	return m.Sum(nil)[:16]
}
