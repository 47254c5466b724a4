package email

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/mail"
	"strings"

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

// sender is the parsed From address shared by both types.
type sender struct {
	from   string
	domain string
}

func parseFrom(from string) (sender, error) {
	if from == "" {
		return sender{}, fmt.Errorf("from is required, like \"Shop <hello@shop.example>\"")
	}
	a, err := mail.ParseAddress(from)
	if err != nil {
		return sender{}, fmt.Errorf("from %q is not an email address: %v", from, err)
	}
	_, domain, _ := strings.Cut(a.Address, "@")
	return sender{from: from, domain: domain}, nil
}

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
	m.Subject(msg.Subject)
	m.SetDate()
	if msg.ID != "" {
		sum := sha256.Sum256([]byte(msg.ID))
		m.SetMessageIDWithValue(hex.EncodeToString(sum[:12]) + "@" + s.domain)
	} else {
		m.SetMessageID()
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
