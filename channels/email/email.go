package email

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"

	gomail "github.com/wneessen/go-mail"

	"github.com/rapporthq/rapport/channels"
)

func init() {
	channels.Register(channels.Type{Name: "smtp", Kind: channels.KindEmail, AddressKey: "email",
		New: func(decode func(any) error) (channels.Channel, error) {
			var cfg SMTPConfig
			if err := decode(&cfg); err != nil {
				return nil, err
			}
			return NewSMTP(cfg)
		}})
	channels.Register(channels.Type{Name: "outbox", Kind: channels.KindEmail, AddressKey: "email",
		New: func(decode func(any) error) (channels.Channel, error) {
			var cfg OutboxConfig
			if err := decode(&cfg); err != nil {
				return nil, err
			}
			return NewOutbox(cfg)
		}})
}

// sender is the parsed From address, and the return addresses, shared by both types.
type sender struct {
	from   string
	domain string
	// bounces and replies are the configured return addresses split at their @, empty
	// when not set.
	bounces, replies [2]string
}

// Return is the part of both types' config that names the return addresses.
type Return struct {
	// Bounces, like "bounces@mail.shop.example", makes each message's envelope sender
	// bounces+TOKEN@mail.shop.example, where TOKEN names the message (VERP).
	Bounces string `yaml:"bounces"`
	// Replies makes each message's Reply-To replies+TOKEN@DOMAIN.
	Replies string `yaml:"replies"`
}

func parseFrom(from string, ret Return) (sender, error) {
	if from == "" {
		return sender{}, fmt.Errorf("from is required, like \"Shop <hello@shop.example>\"")
	}
	a, err := mail.ParseAddress(from)
	if err != nil {
		return sender{}, fmt.Errorf("from %q is not an email address: %v", from, err)
	}
	_, domain, _ := strings.Cut(a.Address, "@")
	s := sender{from: from, domain: domain}
	for _, r := range []struct {
		key, addr string
		to        *[2]string
	}{{"bounces", ret.Bounces, &s.bounces}, {"replies", ret.Replies, &s.replies}} {
		if r.addr == "" {
			continue
		}
		local, dom, ok := strings.Cut(r.addr, "@")
		if a, err := mail.ParseAddress(r.addr); err != nil || !ok || a.Address != r.addr || local == "" || strings.Contains(local, "+") || strings.Contains(dom, "@") {
			return sender{}, fmt.Errorf("%s %q is not a plain address like %s@mail.shop.example (without a +)", r.key, r.addr, r.key)
		}
		*r.to = [2]string{local, dom}
	}
	return s, nil
}

// verp returns LOCAL+TOKEN@DOMAIN of a return address.
func verp(addr [2]string, token string) string { return addr[0] + "+" + token + "@" + addr[1] }

// build turns a rendered message into a MIME email. A bad recipient address is a
// permanent error.
func (s sender) build(msg channels.Message, opts ...gomail.MsgOption) (*gomail.Msg, error) {
	m := gomail.NewMsg(opts...)
	if err := m.From(s.from); err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	if err := m.To(msg.To); err != nil {
		return nil, fmt.Errorf("recipient address rejected: %w", err)
	}
	m.Subject(subject(msg.Subject))
	m.SetDate()
	switch {
	case msg.Return != nil && msg.ID != "":
		sum := sha256.Sum256([]byte(msg.ID))
		m.SetMessageIDWithValue("r" + msg.Return.Ref + "." + hex.EncodeToString(sum[:8]) + "@" + s.domain)
	case msg.ID != "":
		sum := sha256.Sum256([]byte(msg.ID))
		m.SetMessageIDWithValue(hex.EncodeToString(sum[:12]) + "@" + s.domain)
	default:
		m.SetMessageID()
	}
	if r := msg.Return; r != nil {
		if s.bounces[0] != "" && r.Bounces != "" {
			if err := m.EnvelopeFrom(verp(s.bounces, r.Bounces)); err != nil {
				return nil, fmt.Errorf("envelope sender: %w", err)
			}
		}
		if s.replies[0] != "" && r.Replies != "" {
			if err := m.ReplyTo(verp(s.replies, r.Replies)); err != nil {
				return nil, fmt.Errorf("reply-to: %w", err)
			}
		}
	}
	if msg.UnsubscribeURL != "" {
		m.SetGenHeader(gomail.HeaderListUnsubscribe, "<"+msg.UnsubscribeURL+">")
		m.SetGenHeader(gomail.HeaderListUnsubscribePost, "List-Unsubscribe=One-Click")
	}
	switch {
	case msg.HTML != "" && msg.Text != "":
		m.SetBodyString(gomail.TypeTextPlain, msg.Text)
		m.AddAlternativeString(gomail.TypeTextHTML, msg.HTML)
	case msg.HTML != "":
		m.SetBodyString(gomail.TypeTextHTML, msg.HTML)
	default:
		m.SetBodyString(gomail.TypeTextPlain, msg.Text)
	}
	return m, nil
}

// longestWord is the longest run without spaces that go-mail can fold a header at: with
// "Subject: " in front it still fits the 78 characters RFC 5322 recommends.
const longestWord = 60

// subject returns s ready for go-mail's Subject, which folds a header only at spaces
// and encodes (RFC 2047) only text that is not ASCII. An ASCII subject with a run too
// long to fold, such as a 3 000-character first name, would make a header line longer
// than the 998 characters servers accept; it is encoded here instead, as base64
// encoded-words short enough to fold between (the spaces between encoded-words are not
// part of the text). Anything else passes unchanged.
func subject(s string) string {
	for _, r := range s {
		if r >= utf8.RuneSelf {
			return s // go-mail encodes it, in words of at most 75 characters
		}
	}
	long := false
	for _, w := range strings.Fields(s) {
		long = long || len(w) > longestWord
	}
	if !long {
		return s
	}
	return encodeWords(s)
}

// encodeWords encodes s as UTF-8 base64 encoded-words of 45 bytes each (60 characters of
// base64, 72 with the markers), never splitting a character.
func encodeWords(s string) string {
	const chunk = 45
	var b strings.Builder
	for len(s) > 0 {
		n := min(chunk, len(s))
		for n < len(s) && n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("=?UTF-8?b?")
		b.WriteString(base64.StdEncoding.EncodeToString([]byte(s[:n])))
		b.WriteString("?=")
		s = s[n:]
	}
	return b.String()
}
