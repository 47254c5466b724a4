package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"time"
)

// The format before this one: base64url(fields joined by NUL) "." base64url(16 bytes of
// HMAC-SHA256 over the first part). Unsubscribe links signed with the secret itself and
// carried "channel NUL customer"; feedback links signed with HMAC(secret,
// "rapport/feedback") and carried "customer NUL locale", with no send time.

// LegacyFeedbackUntil is when feedback links of the old format stop verifying. They carry
// no send time, so the 90 days of a feedback link count from the day the format changed.
// Old unsubscribe links verify for ever, as unsubscribing must keep working.
var LegacyFeedbackUntil = time.Date(2027, time.March, 6, 0, 0, 0, 0, time.UTC)

func (k *Keys) verifyLegacy(p Purpose, token string, now time.Time) (Link, error) {
	if p != Unsubscribe && p != Feedback {
		return Link{}, ErrInvalid
	}
	payload, sig, ok := strings.Cut(token, ".")
	if !ok {
		return Link{}, ErrInvalid
	}
	got, err := enc.DecodeString(sig)
	if err != nil {
		return Link{}, ErrInvalid
	}
	matched := false
	for _, sec := range k.secrets {
		key := sec
		if p == Feedback {
			m := hmac.New(sha256.New, sec)
			m.Write([]byte("rapport/feedback"))
			key = m.Sum(nil)
		}
		if hmac.Equal(got, mac(key, []byte(payload))) {
			matched = true
		}
	}
	if !matched {
		return Link{}, ErrInvalid
	}
	raw, err := enc.DecodeString(payload)
	if err != nil {
		return Link{}, ErrInvalid
	}
	f := strings.Split(string(raw), "\x00")
	if len(f) != 2 || f[0] == "" || f[1] == "" {
		return Link{}, ErrInvalid
	}
	l := Link{Purpose: p, legacy: string(raw)}
	if p == Unsubscribe {
		l.Channel, l.CustomerID = f[0], f[1]
		return l, nil
	}
	l.CustomerID, l.Locale = f[0], f[1]
	if !now.Before(LegacyFeedbackUntil) {
		return l, ErrExpired
	}
	return l, nil
}
