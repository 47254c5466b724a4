package feedback

import (
	"testing"

	"github.com/rapporthq/rapport/internal/unsubscribe"
)

func TestTokensRoundTripAndRefuseForgeries(t *testing.T) {
	s := NewSigner("a-long-enough-secret", "https://r.example/")
	tok := s.Token("c-42", "ru")
	got, err := s.Verify(tok)
	if err != nil || got != (Link{CustomerID: "c-42", Locale: "ru"}) {
		t.Fatalf("Verify(own token) = %+v, %v", got, err)
	}
	if u := s.URL("c-42", "ru"); u != "https://r.example/feedback/"+tok {
		t.Errorf("URL = %q", u)
	}
	if l, err := s.Verify(s.Token("c-1", "")); err != nil || l.Locale != "en" {
		t.Errorf("a token without locale = %+v, %v; want locale en", l, err)
	}
	for name, bad := range map[string]string{
		"signed with another secret":     NewSigner("another-secret-entirely", "").Token("c-42", "ru"),
		"an unsubscribe token, same key": unsubscribe.NewSigner("a-long-enough-secret", "").Token("ru", "c-42"),
		"signature cut":                  tok[:len(tok)-2],
		"empty":                          "",
	} {
		t.Run(name+" is refused", func(t *testing.T) {
			if _, err := s.Verify(bad); err != ErrInvalid {
				t.Fatalf("Verify(%q) = %v, want ErrInvalid", bad, err)
			}
		})
	}
}
