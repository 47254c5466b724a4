package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrInvalid is returned for a token that is malformed, altered, made for another purpose
// or not signed with any of the configured secrets.
var ErrInvalid = errors.New("invalid signed token")

// ErrExpired is returned for a genuine token whose link has outlived its purpose's MaxAge.
var ErrExpired = errors.New("expired signed token")

// Purpose is the kind of a link. Each purpose signs with a key of its own derived from
// the secret, and names itself in the token, so a token made for one purpose never
// verifies for another.
type Purpose uint8

// The purposes of Rapport's links.
const (
	// Unsubscribe is the one-click unsubscribe link (RFC 8058): CustomerID and Channel.
	// It never expires.
	Unsubscribe Purpose = iota + 1
	// Feedback is the NPS page: CustomerID, MessageID and IssuedAt (the send time), and
	// Locale for the page's language. It expires 90 days after it was sent.
	Feedback
	// Click is a tracked link: MessageID and URL (the target), CustomerID and Extra as
	// the caller likes. It never expires.
	Click
	// Preferences is the preference centre: CustomerID, Channel as the caller likes.
	Preferences
	// ReturnPath is the VERP token of an envelope sender or Reply-To: Ref, a short
	// reference the caller stores (RefFor of the message id). At most 64 characters.
	ReturnPath
	// TelegramStart is the /start token of a t.me link: Ref, a short reference to the
	// customer the caller stores. At most 64 characters; expires after 30 days.
	TelegramStart
)

type spec struct {
	name   string
	need   uint8         // fields a token must carry
	maxAge time.Duration // 0: never expires
	maxLen int           // 0: no limit on the token's length
}

var specs = [...]spec{
	Unsubscribe:   {name: "unsubscribe", need: fCustomer | fChannel},
	Feedback:      {name: "feedback", need: fCustomer | fMessage | fIssued, maxAge: 90 * 24 * time.Hour},
	Click:         {name: "click", need: fMessage | fURL},
	Preferences:   {name: "preferences", need: fCustomer},
	ReturnPath:    {name: "return-path", need: fRef, maxLen: 64},
	TelegramStart: {name: "telegram-start", need: fRef | fIssued, maxAge: 30 * 24 * time.Hour, maxLen: 64},
}

func (p Purpose) spec() (spec, bool) {
	if p == 0 || int(p) >= len(specs) {
		return spec{}, false
	}
	return specs[p], true
}

// String is the purpose's name, such as "unsubscribe".
func (p Purpose) String() string {
	if s, ok := p.spec(); ok {
		return s.name
	}
	return fmt.Sprintf("purpose(%d)", uint8(p))
}

// MaxAge is how long after IssuedAt a link of this purpose verifies; 0 means forever.
func (p Purpose) MaxAge() time.Duration {
	s, _ := p.spec()
	return s.maxAge
}

// MaxLen is the longest token of this purpose in characters; 0 means no limit.
func (p Purpose) MaxLen() int {
	s, _ := p.spec()
	return s.maxLen
}

// MaxRef is the longest Ref a link may carry, in bytes: with it, a ReturnPath or
// TelegramStart token stays within 64 characters.
const MaxRef = 20

// Link is what a token carries. Which fields a purpose needs is said at its constant;
// the others may be empty, and cost nothing in the token when they are.
type Link struct {
	// Purpose is the kind of link; Verify sets it.
	Purpose Purpose
	// legacy is the fields of a token in the format before this one, which names the
	// link for ID.
	legacy string
	// CustomerID is the customer the link is for.
	CustomerID string
	// Channel is the channel name, such as "email".
	Channel string
	// MessageID is the id Rapport gave the message carrying the link.
	MessageID string
	// URL is a click's target.
	URL string
	// Locale is the language of the page the link opens.
	Locale string
	// Extra is free for a purpose that needs one more value.
	Extra string
	// Ref is a short reference (at most MaxRef bytes) that the caller stores, for the
	// purposes whose token is too short to carry an id of up to 200 characters.
	Ref string
	// IssuedAt is when the link was made (the message's send time), to the second; the
	// zero time means none. Expiry counts from it.
	IssuedAt time.Time
}

// ExpiresAt is when the link stops verifying; the zero time means never.
func (l Link) ExpiresAt() time.Time {
	age := l.Purpose.MaxAge()
	if age == 0 || l.IssuedAt.IsZero() {
		return time.Time{}
	}
	return l.IssuedAt.Add(age)
}

// ID is a stable name of the link, the same whichever secret signed it: 24 hex digits
// of a hash over its purpose and fields. An answer keyed by it is one answer per link.
func (l Link) ID() string {
	var sum [32]byte
	if l.legacy != "" {
		sum = sha256.Sum256([]byte("legacy\x00" + l.Purpose.String() + "\x00" + l.legacy))
	} else {
		sum = sha256.Sum256(l.payload())
	}
	return hex.EncodeToString(sum[:12])
}

// Field bits: which fields a payload carries, in this order.
const (
	fCustomer uint8 = 1 << iota
	fChannel
	fMessage
	fURL
	fLocale
	fExtra
	fRef
	fIssued
)

// version is the token format, in the high nibble of a payload's first byte.
const version = 1

func (l Link) fields() []string {
	return []string{l.CustomerID, l.Channel, l.MessageID, l.URL, l.Locale, l.Extra, l.Ref}
}

func (l Link) mask() uint8 {
	var m uint8
	for i, f := range l.fields() {
		if f != "" {
			m |= 1 << i
		}
	}
	if !l.IssuedAt.IsZero() {
		m |= fIssued
	}
	return m
}

// payload is the compact binary form: version<<4|purpose, the field mask, then each
// present field as a uvarint length and its bytes, then IssuedAt as uvarint Unix seconds.
func (l Link) payload() []byte {
	m := l.mask()
	b := []byte{version<<4 | byte(l.Purpose), m}
	for i, f := range l.fields() {
		if m&(1<<i) != 0 {
			b = binary.AppendUvarint(b, uint64(len(f)))
			b = append(b, f...)
		}
	}
	if m&fIssued != 0 {
		b = binary.AppendUvarint(b, uint64(l.IssuedAt.Unix()))
	}
	return b
}

func parsePayload(b []byte) (Link, bool) {
	if len(b) < 2 || b[0]>>4 != version {
		return Link{}, false
	}
	l := Link{Purpose: Purpose(b[0] & 0x0f)}
	m, b := b[1], b[2:]
	vals := make([]string, 7)
	for i := range vals {
		if m&(1<<i) == 0 {
			continue
		}
		n, k := binary.Uvarint(b)
		if k <= 0 || n == 0 || n > uint64(len(b)-k) {
			return Link{}, false
		}
		vals[i], b = string(b[k:k+int(n)]), b[k+int(n):]
	}
	l.CustomerID, l.Channel, l.MessageID, l.URL, l.Locale, l.Extra, l.Ref =
		vals[0], vals[1], vals[2], vals[3], vals[4], vals[5], vals[6]
	if m&fIssued != 0 {
		s, k := binary.Uvarint(b)
		if k <= 0 || s == 0 || s > 1<<40 {
			return Link{}, false
		}
		l.IssuedAt, b = time.Unix(int64(s), 0).UTC(), b[k:]
	}
	// One spelling only: nothing after the fields, and the time in its shortest varint.
	if len(b) != 0 || m != l.mask() {
		return Link{}, false
	}
	return l, true
}

// macLen is how much of the HMAC-SHA256 a token keeps: 128 bits.
const macLen = 16

// enc is strict: a token has exactly one spelling, so a changed last character, whose
// low bits base64 would otherwise ignore, is a different and invalid token.
var enc = base64.RawURLEncoding.Strict()

// Keys signs links with the current secret and verifies them with it or any previous
// one, so a secret can be rotated without breaking links already sent. It is safe for
// concurrent use.
type Keys struct {
	secrets [][]byte             // current first
	derived [][len(specs)][]byte // per secret, per purpose
}

// NewKeys returns the keys of secret, the current one, and previous secrets that still
// verify links made before the rotation. Empty previous secrets are skipped.
func NewKeys(secret string, previous ...string) *Keys {
	k := &Keys{secrets: [][]byte{[]byte(secret)}}
	for _, p := range previous {
		if p != "" {
			k.secrets = append(k.secrets, []byte(p))
		}
	}
	k.derived = make([][len(specs)][]byte, len(k.secrets))
	for i, sec := range k.secrets {
		for p := Unsubscribe; int(p) < len(specs); p++ {
			k.derived[i][p] = derive(sec, p)
		}
	}
	return k
}

// derive is a purpose's own key under secret.
func derive(secret []byte, p Purpose) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("rapport/link/v1/" + p.String()))
	return m.Sum(nil)
}

func mac(key, payload []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(payload)
	return m.Sum(nil)[:macLen]
}

// Sign returns the token of l, signed with the current secret: URL-safe base64 of the
// payload and a 128-bit HMAC-SHA256, of the characters [A-Za-z0-9_-]. It fails when the
// purpose is unknown, a field the purpose needs is empty, Ref is longer than MaxRef, or
// the token would exceed the purpose's MaxLen.
func (k *Keys) Sign(l Link) (string, error) {
	s, ok := l.Purpose.spec()
	if !ok {
		return "", fmt.Errorf("sign link: unknown purpose %d", l.Purpose)
	}
	if miss := s.need &^ l.mask(); miss != 0 {
		return "", fmt.Errorf("sign %s link: %s is empty", s.name, fieldName(miss))
	}
	if len(l.Ref) > MaxRef {
		return "", fmt.Errorf("sign %s link: ref has %d bytes, at most %d fit", s.name, len(l.Ref), MaxRef)
	}
	if l.IssuedAt.Unix() <= 0 && !l.IssuedAt.IsZero() {
		return "", fmt.Errorf("sign %s link: issued at %v, before 1970", s.name, l.IssuedAt)
	}
	l.IssuedAt = l.IssuedAt.Truncate(time.Second)
	p := l.payload()
	tok := enc.EncodeToString(append(p, mac(k.derived[0][l.Purpose], p)...))
	if s.maxLen > 0 && len(tok) > s.maxLen {
		return "", fmt.Errorf("sign %s link: the token has %d characters, at most %d fit; carry a Ref instead", s.name, len(tok), s.maxLen)
	}
	return tok, nil
}

func fieldName(bits uint8) string {
	names := []string{"customer id", "channel", "message id", "url", "locale", "extra", "ref", "issued at"}
	for i, n := range names {
		if bits&(1<<i) != 0 {
			return n
		}
	}
	return "a field"
}

// Verify checks token as a link of purpose p at time now and returns what it carries.
// A token that is malformed, altered, of another purpose or signed with no configured
// secret is ErrInvalid; a genuine one past its purpose's MaxAge is returned with
// ErrExpired, so a page can still speak its Locale. The MAC is compared in constant time.
func (k *Keys) Verify(p Purpose, token string, now time.Time) (Link, error) {
	s, ok := p.spec()
	if !ok {
		return Link{}, ErrInvalid
	}
	if strings.Contains(token, ".") {
		return k.verifyLegacy(p, token, now)
	}
	if s.maxLen > 0 && len(token) > s.maxLen {
		return Link{}, ErrInvalid
	}
	raw, err := enc.DecodeString(token)
	if err != nil || len(raw) < macLen+2 {
		return Link{}, ErrInvalid
	}
	payload, sum := raw[:len(raw)-macLen], raw[len(raw)-macLen:]
	if !k.matches(p, payload, sum) {
		return Link{}, ErrInvalid
	}
	l, ok := parsePayload(payload)
	if !ok || l.Purpose != p || s.need&^l.mask() != 0 {
		return Link{}, ErrInvalid
	}
	return l, checkAge(l, now)
}

// matches reports whether sum is the MAC of payload under one of the secrets. Every
// secret is tried, so the time taken does not say which one matched.
func (k *Keys) matches(p Purpose, payload, sum []byte) bool {
	ok := false
	for i := range k.derived {
		if hmac.Equal(sum, mac(k.derived[i][p], payload)) {
			ok = true
		}
	}
	return ok
}

func checkAge(l Link, now time.Time) error {
	age := l.Purpose.MaxAge()
	if age == 0 {
		return nil
	}
	// A link issued later than a minute from now was not made by this clock.
	if l.IssuedAt.IsZero() || now.Sub(l.IssuedAt) >= age || l.IssuedAt.Sub(now) > time.Minute {
		return ErrExpired
	}
	return nil
}

// RefFor is a short reference to id (a message or customer id of up to 200 characters):
// 16 characters of [A-Za-z0-9_-], the same for the same id. A ReturnPath or
// TelegramStart link carries it; the caller stores what it stands for.
func RefFor(id string) string {
	sum := sha256.Sum256([]byte("rapport/ref\x00" + id))
	return enc.EncodeToString(sum[:12])
}
