package email

import (
	"context"
	"strings"
	"testing"

	"github.com/rapporthq/rapport/internal/smtptest"
)

func TestCheckGreetsStartsTLSAndLogsIn(t *testing.T) {
	srv := smtptest.Start(t, smtptest.WithSTARTTLS(), smtptest.WithAuth("rapport", "pw"))
	good := newSMTP(t, srv, SMTPConfig{TLS: "starttls", Username: "rapport", Password: "pw"}, WithTLSConfig(srv.TLSConfig()))
	if err := good.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if srv.Count() != 0 {
		t.Fatal("a check sent a message")
	}
	wrong := newSMTP(t, srv, SMTPConfig{TLS: "starttls", Username: "rapport", Password: "nope"}, WithTLSConfig(srv.TLSConfig()))
	if err := wrong.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "smtp check") {
		t.Fatalf("a wrong password: %v", err)
	}
	untrusted := newSMTP(t, srv, SMTPConfig{TLS: "starttls", Username: "rapport", Password: "pw"})
	if err := untrusted.Check(context.Background()); err == nil {
		t.Fatal("a certificate nobody trusts passed the check")
	}
}
