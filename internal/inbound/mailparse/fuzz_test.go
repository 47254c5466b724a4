package mailparse

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// FuzzParse feeds any bytes to Parse: it must not panic, and what it returns keeps its
// promises (valid UTF-8 text of at most MaxText characters, DSN statuses of the right
// shape).
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(bytes.NewReader(b))
		if err != nil {
			return
		}
		if !utf8.ValidString(m.Text) || utf8.RuneCountInString(m.Text) > MaxText {
			t.Fatalf("Text is not valid UTF-8 of at most %d characters: %q", MaxText, m.Text)
		}
		if m.DSN != nil {
			for _, r := range m.DSN.Recipients {
				if r.Status != "" && !statusCode.MatchString(r.Status) {
					t.Fatalf("status %q", r.Status)
				}
				if r.Address() == "" {
					t.Fatalf("a recipient with no address: %+v", r)
				}
			}
		}
	})
}
