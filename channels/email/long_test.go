package email

import (
	"fmt"
	"mime"
	"strings"
	"testing"
	"time"

	"github.com/rapporthq/rapport/internal/smtptest"
)

// TestLongSubjectsAreFoldedAndArriveWhole sends subjects made from long profile values
// to a real server and reads what went over the wire: every header line within the 998
// characters of RFC 5322, the subject folded to 78 where it can be, and decoded back to
// exactly what was rendered.
func TestLongSubjectsAreFoldedAndArriveWhole(t *testing.T) {
	cases := map[string]string{
		"a 3000-character ASCII name":     "Thank you, " + strings.Repeat("Anna", 750) + "!",
		"a 3000-character Cyrillic name":  "Спасибо, " + strings.Repeat("Аня", 1000) + "!",
		"many short words":                strings.Repeat("thank you ", 300),
		"a long word with accents inside": "Merci " + strings.Repeat("é", 10) + strings.Repeat("x", 200),
		"a long word after accents":       "Привет " + strings.Repeat("x", 1200),
		"an ordinary subject":             "Thank you for your order, Anna!",
	}
	srv := smtptest.Start(t)
	s := newSMTP(t, srv, SMTPConfig{})
	n := 0
	for name, subj := range cases {
		t.Run(name, func(t *testing.T) {
			m := message(fmt.Sprintf("r%d@example.com", n))
			m.Subject = subj
			send(t, s, m)
			n++
			got := last(t, srv, m.To)
			head, _, _ := strings.Cut(string(got.Data), "\r\n\r\n")
			inSubject := false
			for _, line := range strings.Split(head, "\r\n") {
				if len(line) > 998 {
					t.Errorf("a header line of %d characters: %.60s...", len(line), line)
				}
				if strings.HasPrefix(line, "Subject:") {
					inSubject = true
				} else if !strings.HasPrefix(line, " ") {
					inSubject = false
				}
				if inSubject && len(line) > 78 {
					t.Errorf("a subject line of %d characters: %.60s...", len(line), line)
				}
			}
			decoded, err := new(mime.WordDecoder).DecodeHeader(got.Header.Get("Subject"))
			if err != nil {
				t.Fatal(err)
			}
			if decoded != strings.TrimSpace(subj) {
				t.Errorf("subject arrived as %.80q..., want %.80q...", decoded, subj)
			}
		})
	}
	if c := srv.WaitFor(t, len(cases), 5*time.Second); len(c) != len(cases) {
		t.Fatalf("%d messages, want %d", len(c), len(cases))
	}
}
