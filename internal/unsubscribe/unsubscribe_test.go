package unsubscribe

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestTokenRoundTripsAndRefusesForgeries(t *testing.T) {
	s := NewSigner("a-long-enough-secret", "https://r.example/")
	tok := s.Token("c-42", "email")
	cid, ch, err := s.Verify(tok)
	if err != nil || cid != "c-42" || ch != "email" {
		t.Fatalf("Verify(own token) = %q, %q, %v", cid, ch, err)
	}
	if got := s.URL("c-42", "email"); got != "https://r.example/unsubscribe/"+tok {
		t.Errorf("URL = %q", got)
	}
	other := NewSigner("another-secret-entirely", "https://r.example")
	payload, _, _ := strings.Cut(tok, ".")
	forged := other.Token("c-43", "email")
	altered := base64.RawURLEncoding.EncodeToString([]byte("email\x00c-43")) + tok[len(payload):]
	for name, bad := range map[string]string{
		"signed with another secret": other.Token("c-42", "email"),
		"payload swapped":            altered,
		"another customer, forged":   forged,
		"no signature":               payload,
		"empty":                      "",
		"garbage":                    "!!!.???",
	} {
		t.Run(name+" is refused", func(t *testing.T) {
			if _, _, err := s.Verify(bad); err != ErrInvalid {
				t.Fatalf("Verify(%q) = %v, want ErrInvalid", bad, err)
			}
		})
	}
}

func TestATokenHasOneSpellingOnly(t *testing.T) {
	s := NewSigner("a-long-enough-secret", "https://r.example/")
	tok := s.Token("c-42", "email")
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range tok {
		if tok[i] == '.' {
			continue
		}
		for _, c := range alphabet {
			if byte(c) == tok[i] {
				continue
			}
			changed := tok[:i] + string(c) + tok[i+1:]
			if _, _, err := s.Verify(changed); err == nil {
				t.Fatalf("%q with character %d changed to %q still verifies", tok, i, c)
			}
		}
	}
}
