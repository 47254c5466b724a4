package mailparse

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func parseFile(t *testing.T, name string) *Message {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := Parse(f)
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return m
}

func TestDSNsOfCommonMailSystemsGiveEachRecipientsResult(t *testing.T) {
	for _, c := range []struct {
		file, address, action, status, kind, diagnostic, originalID string
	}{
		{"postfix-hard.eml", "nobody@example.net", "failed", "5.1.1", Hard, "550 5.1.1 <nobody@example.net>: Recipient address rejected", "m-123@rapport"},
		{"postfix-delayed.eml", "anna@example.org", "delayed", "4.4.1", Soft, "connect to mx.example.org", "m-124@rapport"},
		{"gmail-hard.eml", "gone.away@gmail.com", "failed", "5.1.1", Hard, "550-5.1.1 The email account that you tried to reach does not exist", "m-200@rapport"},
		{"exchange-hard.eml", "old.user@contoso.com", "failed", "5.1.10", Hard, "RESOLVER.ADR.RecipientNotFound", "m-300@rapport"},
	} {
		t.Run(c.file, func(t *testing.T) {
			m := parseFile(t, c.file)
			if m.DSN == nil || m.Feedback != nil {
				t.Fatalf("DSN = %v, Feedback = %v; want a DSN only", m.DSN, m.Feedback)
			}
			if !m.Automatic {
				t.Error("a DSN is not Automatic")
			}
			if len(m.DSN.Recipients) != 1 {
				t.Fatalf("recipients = %+v, want 1", m.DSN.Recipients)
			}
			r := m.DSN.Recipients[0]
			if r.Address() != c.address || r.Action != c.action || r.Status != c.status || r.Kind() != c.kind {
				t.Errorf("recipient = %+v (kind %q), want %s %s %s %s", r, r.Kind(), c.address, c.action, c.status, c.kind)
			}
			if !strings.Contains(r.Diagnostic, c.diagnostic) || strings.HasPrefix(r.Diagnostic, "smtp;") {
				t.Errorf("diagnostic = %q, want it to hold %q without its type", r.Diagnostic, c.diagnostic)
			}
			if m.DSN.Original == nil || firstID(m.DSN.Original.Get("Message-Id")) != c.originalID {
				t.Errorf("original header = %v, want Message-ID %s", m.DSN.Original, c.originalID)
			}
			if m.DSN.ReportingMTA == "" || strings.HasPrefix(m.DSN.ReportingMTA, "dns") {
				t.Errorf("reporting MTA = %q", m.DSN.ReportingMTA)
			}
		})
	}
}

func TestRecipientKind(t *testing.T) {
	for _, c := range []struct {
		name string
		r    Recipient
		want string
	}{
		{"a 5.x.x failure is hard", Recipient{Action: "failed", Status: "5.2.2"}, Hard},
		{"a 4.x.x failure after the queue lifetime is soft", Recipient{Action: "failed", Status: "4.4.7"}, Soft},
		{"a delay is soft", Recipient{Action: "delayed", Status: "4.7.0"}, Soft},
		{"a delivery is no bounce", Recipient{Action: "delivered", Status: "2.0.0"}, ""},
		{"a relay is no bounce even with an odd status", Recipient{Action: "relayed", Status: "5.0.0"}, ""},
		{"a failure with no status is hard", Recipient{Action: "failed"}, Hard},
		{"a delay with no status is nothing", Recipient{Action: "delayed"}, ""},
	} {
		if got := c.r.Kind(); got != c.want {
			t.Errorf("%s: Kind() = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestAStatusMissingFromTheFieldIsTakenFromTheDiagnostic(t *testing.T) {
	d := dsnFrom(readFieldGroups(strings.NewReader("Reporting-MTA: dns; mx\n\nFinal-Recipient: rfc822; a@b.example\nAction: failed\nDiagnostic-Code: smtp; 552 5.2.2 Mailbox full\n")), nil)
	if len(d.Recipients) != 1 || d.Recipients[0].Status != "5.2.2" {
		t.Fatalf("recipients = %+v, want status 5.2.2", d.Recipients)
	}
}

func TestFeedbackReportsGiveTheComplaint(t *testing.T) {
	for _, c := range []struct {
		file, agent, mailFrom, rcpt, originalID string
	}{
		{"yahoo-arf.eml", "Yahoo!-Mail-Feedback/2.0", "bounces+Yh.1@mail.shop.example", "anna@yahoo.com", "m-400@rapport"},
		{"microsoft-arf.eml", "Hotmail FBL", "bounces+MS.2@mail.shop.example", "redacted@hotmail.com", "m-500@rapport"},
	} {
		t.Run(c.file, func(t *testing.T) {
			m := parseFile(t, c.file)
			if m.Feedback == nil || m.DSN != nil {
				t.Fatalf("Feedback = %v, DSN = %v; want a feedback report only", m.Feedback, m.DSN)
			}
			f := m.Feedback
			if f.Type != "abuse" || f.UserAgent != c.agent || f.OriginalMailFrom != c.mailFrom ||
				len(f.OriginalRcptTo) != 1 || f.OriginalRcptTo[0] != c.rcpt {
				t.Errorf("feedback = %+v", f)
			}
			if f.Original == nil || firstID(f.Original.Get("Message-Id")) != c.originalID {
				t.Errorf("original header = %v, want Message-ID %s", f.Original, c.originalID)
			}
			if !m.Automatic {
				t.Error("a feedback report is not Automatic")
			}
		})
	}
}

func TestRepliesGiveTheCustomersOwnText(t *testing.T) {
	for _, c := range []struct {
		file, want, inReplyTo string
		automatic             bool
	}{
		{"gmail-reply.eml", "Hi! The grinder arrived broken — can someone help?\n\nAnna", "m-600@rapport", false},
		{"outlook-reply-html.eml", "Grüße, where is my parcel? & when does it come?", "m-700@rapport", false},
		{"out-of-office.eml", "I am out of the office until Monday.", "", true},
		{"image-only-reply.eml", "", "", false},
	} {
		t.Run(c.file, func(t *testing.T) {
			m := parseFile(t, c.file)
			if m.Text != c.want {
				t.Errorf("Text = %q, want %q", m.Text, c.want)
			}
			if m.InReplyTo != c.inReplyTo || m.Automatic != c.automatic {
				t.Errorf("InReplyTo = %q, Automatic = %v; want %q, %v", m.InReplyTo, m.Automatic, c.inReplyTo, c.automatic)
			}
			if m.DSN != nil || m.Feedback != nil {
				t.Error("a reply read as a report")
			}
		})
	}
}

func TestQuotedOriginalsOfCommonMailProgramsAreDropped(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"quoted lines", "Yes please.\n> Do you want more?\n>> older", "Yes please."},
		{"a wrapped Gmail intro", "Sure.\n\nOn Sun, Dec 6, 2026 at 10:00 AM Shop <\nhello@shop.example> wrote:\n> hi", "Sure."},
		{"Outlook's original message rule", "Thanks\n\n-----Original Message-----\nFrom: Shop\nhi", "Thanks"},
		{"Outlook's From/Sent block", "Thanks\n\nFrom: Shop <hello@shop.example>\nSent: Sunday, December 6, 2026\nTo: me", "Thanks"},
		{"an underscore rule", "ok\n________________________________\nFrom: Shop", "ok"},
		{"a French intro", "Merci !\n\nLe dim. 6 déc. 2026 à 10:00, Shop <hello@shop.example> a écrit :\n> hi", "Merci !"},
		{"a German intro", "Danke\n\nAm 06.12.2026 um 10:00 schrieb Shop <hello@shop.example>:\n> hi", "Danke"},
		{"a Russian intro", "Спасибо\n\n6 дек. 2026 г., в 10:00, Shop <hello@shop.example> написал:\n> hi", "Спасибо"},
		{"text with no quote", "Line one\n\n\n\nLine two", "Line one\n\nLine two"},
	} {
		if got := stripQuote(c.in); got != c.want {
			t.Errorf("%s: stripQuote = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestAReplyTextIsCutAtMaxText(t *testing.T) {
	body := strings.Repeat("é", MaxText+50)
	m, err := Parse(strings.NewReader("From: a@b.example\nContent-Type: text/plain; charset=utf-8\n\n" + body))
	if err != nil {
		t.Fatal(err)
	}
	if n := len([]rune(m.Text)); n != MaxText {
		t.Errorf("len(Text) = %d characters, want %d", n, MaxText)
	}
}

func TestAutomatic(t *testing.T) {
	for _, c := range []struct {
		header string
		want   bool
	}{
		{"Auto-Submitted: auto-replied", true},
		{"Auto-Submitted: auto-generated; owner-email=x@y", true},
		{"Auto-Submitted: no", false},
		{"Auto-Submitted: No ", false},
		{"Precedence: bulk", true},
		{"Precedence: list", true},
		{"Precedence: auto_reply", true},
		{"Precedence: first-class", false},
		{"X-Autoreply: yes", true},
		{"X-Autorespond: Out of office", true},
		{"X-POST-MessageClass: 9; Autoresponder", true},
		{"X-Mailer: Thunderbird", false},
	} {
		m, err := Parse(strings.NewReader(c.header + "\nFrom: a@b.example\n\nhello"))
		if err != nil {
			t.Fatalf("%s: %v", c.header, err)
		}
		if m.Automatic != c.want {
			t.Errorf("%s: Automatic = %v, want %v", c.header, m.Automatic, c.want)
		}
	}
}

func TestUnreadableInputIsAnErrorOrNothing(t *testing.T) {
	if _, err := Parse(strings.NewReader("no header here")); err == nil {
		t.Error("Parse(no header) gave no error")
	}
	for name, in := range map[string]string{
		"a report with no boundary": "Content-Type: multipart/report; report-type=delivery-status\n\nx",
		"a report with no parts":    "Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b--\n",
		"a DSN with no recipient":   "Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; x\n--b--\n",
		"a bad content type":        "Content-Type: ;;;\n\nhello",
		"a broken base64 body":      "Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n!!!!",
		"a deep nest of multiparts": strings.Repeat("Content-Type: multipart/mixed; boundary=b\n\n--b\n", 50),
		"an unknown charset":        "Content-Type: text/plain; charset=x-nonsense\n\nhello",
	} {
		m, err := Parse(strings.NewReader(in))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if m.DSN != nil && len(m.DSN.Recipients) > 0 {
			t.Errorf("%s: recipients %+v from nothing", name, m.DSN.Recipients)
		}
	}
}
