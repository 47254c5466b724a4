package smtpd

import (
	"bytes"
	"context"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/rapporthq/rapport/internal/inbound/mailparse"
)

type discard struct{}

func (discard) Receive(context.Context, Delivery) error { return nil }

type parsing struct{ b *testing.B }

func (p parsing) Receive(_ context.Context, d Delivery) error {
	m, err := mailparse.Parse(bytes.NewReader(d.Data))
	if err != nil || m.DSN == nil || len(m.DSN.Recipients) != 1 {
		p.b.Fatalf("parse: %v %+v", err, m)
	}
	return nil
}

// benchReceive sends the Gmail DSN of mailparse's testdata b.N times over one SMTP
// connection to a server whose receiver is r.
func benchReceive(b *testing.B, r Receiver) {
	dsn, err := os.ReadFile("../mailparse/testdata/gmail-hard.eml")
	if err != nil {
		b.Fatal(err)
	}
	data := strings.ReplaceAll(string(dsn), "\n", "\r\n")
	s, err := New(Config{Verifier: tokens{"AbC.d-1_x": Bounces}, Receiver: r,
		Addresses: []Address{{Bounces, "bounces@mail.shop.example"}}})
	if err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go s.Serve(l)
	defer s.Close()
	c, err := smtp.Dial(l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		if err := c.SendMail("", []string{"bounces+AbC.d-1_x@mail.shop.example"}, strings.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInboundDSN is the inbound path up to the store: go-smtp receives a DSN and
// mailparse reads it. BenchmarkInboundDiscard is its baseline, the same conversation
// with the message thrown away; the ratio of the two is the parser's cost.
func BenchmarkInboundDSN(b *testing.B)     { benchReceive(b, parsing{b}) }
func BenchmarkInboundDiscard(b *testing.B) { benchReceive(b, discard{}) }

// BenchmarkParseDSN is mailparse alone on the same DSN.
func BenchmarkParseDSN(b *testing.B) {
	dsn, err := os.ReadFile("../mailparse/testdata/gmail-hard.eml")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(dsn)))
	for range b.N {
		if _, err := mailparse.Parse(bytes.NewReader(dsn)); err != nil {
			b.Fatal(err)
		}
	}
}
