package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

const secret = "a-long-enough-secret"

var sent = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// sample is a valid link of each purpose.
var sample = map[Purpose]Link{
	Unsubscribe:   {Purpose: Unsubscribe, CustomerID: "c-42", Channel: "email"},
	Feedback:      {Purpose: Feedback, CustomerID: "c-42", MessageID: "m-1", Locale: "ru", IssuedAt: sent},
	Click:         {Purpose: Click, CustomerID: "c-42", MessageID: "m-1", URL: "https://shop.example/a?b=c"},
	Preferences:   {Purpose: Preferences, CustomerID: "c-42", Channel: "email"},
	ReturnPath:    {Purpose: ReturnPath, Ref: RefFor("m-1")},
	TelegramStart: {Purpose: TelegramStart, Ref: RefFor("c-42"), IssuedAt: sent},
}

func sign(t *testing.T, k *Keys, l Link) string {
	t.Helper()
	tok, err := k.Sign(l)
	if err != nil {
		t.Fatalf("Sign(%+v): %v", l, err)
	}
	return tok
}

func TestEveryPurposeRoundTrips(t *testing.T) {
	k := NewKeys(secret)
	for p, l := range sample {
		t.Run(p.String(), func(t *testing.T) {
			got, err := k.Verify(p, sign(t, k, l), sent.Add(time.Hour))
			if err != nil || got != l {
				t.Fatalf("Verify = %+v, %v; want %+v", got, err, l)
			}
			if got.ID() != l.ID() || len(got.ID()) != 24 {
				t.Errorf("ID = %q, want %q of 24 digits", got.ID(), l.ID())
			}
		})
	}
}

func TestTokensThatMustNotVerify(t *testing.T) {
	k := NewKeys(secret)
	fb := sign(t, k, sample[Feedback])
	later := sent.Add(time.Hour)
	cases := []struct {
		name  string
		keys  *Keys
		p     Purpose
		token string
		now   time.Time
		want  error
	}{
		{"a token of another purpose", k, Unsubscribe, fb, later, ErrInvalid},
		{"a token signed with another secret", k, Feedback, sign(t, NewKeys("another-long-secret"), sample[Feedback]), later, ErrInvalid},
		{"a token whose old secret was removed", NewKeys("the-new-secret-0123"), Feedback, fb, later, ErrInvalid},
		{"a feedback link at 90 days", k, Feedback, fb, sent.Add(90 * 24 * time.Hour), ErrExpired},
		{"a feedback link issued in the future", k, Feedback, fb, sent.Add(-time.Hour), ErrExpired},
		{"a start token at 30 days", k, TelegramStart, sign(t, k, sample[TelegramStart]), sent.Add(30 * 24 * time.Hour), ErrExpired},
		{"an empty token", k, Feedback, "", later, ErrInvalid},
		{"a cut token", k, Feedback, fb[:len(fb)-3], later, ErrInvalid},
		{"a token with a character more", k, Feedback, fb + "A", later, ErrInvalid},
		{"garbage", k, Feedback, "!!!???", later, ErrInvalid},
		{"an unknown purpose", k, Purpose(0), fb, later, ErrInvalid},
		{"a legacy token for a new purpose", k, Click, legacyToken([]byte(secret), "email", "c-42"), later, ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name+" is refused", func(t *testing.T) {
			if _, err := c.keys.Verify(c.p, c.token, c.now); !errors.Is(err, c.want) {
				t.Fatalf("Verify = %v, want %v", err, c.want)
			}
		})
	}
	if _, err := k.Verify(Feedback, fb, sent.Add(90*24*time.Hour-time.Second)); err != nil {
		t.Errorf("a feedback link a second before 90 days: %v", err)
	}
}

// TestEveryByteIsSigned changes each byte of the decoded token to each other value, and
// each character of the token to each other one of the alphabet: none verifies.
func TestEveryByteIsSigned(t *testing.T) {
	k := NewKeys(secret)
	for p, l := range sample {
		tok := sign(t, k, l)
		raw, err := enc.DecodeString(tok)
		if err != nil {
			t.Fatal(err)
		}
		for i := range raw {
			for v := 0; v < 256; v++ {
				if byte(v) == raw[i] {
					continue
				}
				b := append([]byte(nil), raw...)
				b[i] = byte(v)
				if _, err := k.Verify(p, enc.EncodeToString(b), sent); err == nil {
					t.Fatalf("%s: byte %d changed to %d still verifies", p, i, v)
				}
			}
		}
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		for i := range tok {
			for _, c := range alphabet {
				if byte(c) != tok[i] {
					if _, err := k.Verify(p, tok[:i]+string(c)+tok[i+1:], sent); err == nil {
						t.Fatalf("%s: character %d changed to %q still verifies", p, i, c)
					}
				}
			}
		}
	}
}

func TestRotation(t *testing.T) {
	old, rotated := NewKeys(secret), NewKeys("the-new-secret-0123", "", secret)
	for p, l := range sample {
		t.Run(p.String()+" made with the previous secret verifies", func(t *testing.T) {
			if got, err := rotated.Verify(p, sign(t, old, l), sent); err != nil || got != l {
				t.Fatalf("Verify = %+v, %v", got, err)
			}
		})
		t.Run(p.String()+" is signed with the current secret", func(t *testing.T) {
			if _, err := NewKeys("the-new-secret-0123").Verify(p, sign(t, rotated, l), sent); err != nil {
				t.Fatalf("Verify with the current secret alone: %v", err)
			}
			if _, err := old.Verify(p, sign(t, rotated, l), sent); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Verify with the previous secret alone = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestSignRefusesLinksItCannotCarry(t *testing.T) {
	k := NewKeys(secret)
	for name, l := range map[string]Link{
		"unsubscribe without channel":  {Purpose: Unsubscribe, CustomerID: "c"},
		"feedback without send time":   {Purpose: Feedback, CustomerID: "c", MessageID: "m"},
		"click without url":            {Purpose: Click, MessageID: "m"},
		"a return path carrying an id": {Purpose: ReturnPath, Ref: RefFor("m"), MessageID: strings.Repeat("m", 200)},
		"a ref too long":               {Purpose: ReturnPath, Ref: strings.Repeat("r", MaxRef+1)},
		"no purpose":                   {CustomerID: "c"},
	} {
		if tok, err := k.Sign(l); err == nil {
			t.Errorf("Sign(%s) = %q, want an error", name, tok)
		}
	}
}

// TestShortTokensFitTheirLimits signs the longest valid links of the purposes whose
// token is bounded: a Ref of MaxRef bytes and a send time in the year 9999.
func TestShortTokensFitTheirLimits(t *testing.T) {
	k := NewKeys(secret)
	far := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	ref := strings.Repeat("\xff", MaxRef)
	telegram := regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	verp := regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	for _, c := range []struct {
		l  Link
		re *regexp.Regexp
	}{
		{Link{Purpose: TelegramStart, Ref: ref, IssuedAt: far}, telegram},
		{Link{Purpose: TelegramStart, Ref: RefFor(strings.Repeat("c", 200)), IssuedAt: far}, telegram},
		{Link{Purpose: ReturnPath, Ref: ref, IssuedAt: far}, verp},
		{Link{Purpose: ReturnPath, Ref: RefFor(strings.Repeat("m", 200))}, verp},
	} {
		tok := sign(t, k, c.l)
		if !c.re.MatchString(tok) {
			t.Errorf("%s token %q (%d characters) does not match %s", c.l.Purpose, tok, len(tok), c.re)
		}
		if got, err := k.Verify(c.l.Purpose, tok, far); err != nil || got != c.l {
			t.Errorf("Verify(%s) = %+v, %v", c.l.Purpose, got, err)
		}
	}
	if r := RefFor(strings.Repeat("x", 200)); len(r) != 16 || r == RefFor(strings.Repeat("x", 199)) {
		t.Errorf("RefFor = %q, want 16 characters that differ by id", r)
	}
}

// TestIDsAreOnePerLink: the id is the same whichever secret signed, and differs for
// every field.
func TestIDsAreOnePerLink(t *testing.T) {
	base := sample[Feedback]
	seen := map[string]string{base.ID(): "base"}
	for name, l := range map[string]Link{
		"another message":  {Purpose: Feedback, CustomerID: "c-42", MessageID: "m-2", Locale: "ru", IssuedAt: sent},
		"another customer": {Purpose: Feedback, CustomerID: "c-43", MessageID: "m-1", Locale: "ru", IssuedAt: sent},
		"another time":     {Purpose: Feedback, CustomerID: "c-42", MessageID: "m-1", Locale: "ru", IssuedAt: sent.Add(time.Second)},
		"another purpose":  {Purpose: Click, CustomerID: "c-42", MessageID: "m-1", Locale: "ru", IssuedAt: sent},
		"fields shifted":   {Purpose: Feedback, CustomerID: "c-42m-1", Locale: "ru", IssuedAt: sent},
	} {
		if prev, dup := seen[l.ID()]; dup {
			t.Errorf("%s has the id of %s", name, prev)
		}
		seen[l.ID()] = name
	}
}

// legacyToken is a token of the format before this one, as the old code made it.
func legacyToken(key []byte, fields ...string) string {
	e := base64.RawURLEncoding
	payload := e.EncodeToString([]byte(strings.Join(fields, "\x00")))
	m := hmac.New(sha256.New, key)
	m.Write([]byte(payload))
	return payload + "." + e.EncodeToString(m.Sum(nil)[:16])
}

func legacyFeedbackKey(secret string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("rapport/feedback"))
	return m.Sum(nil)
}

func TestLinksAlreadySentKeepVerifying(t *testing.T) {
	k := NewKeys("the-new-secret-0123", secret)
	unsub := legacyToken([]byte(secret), "email", "c-42")
	got, err := k.Verify(Unsubscribe, unsub, time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil || got.CustomerID != "c-42" || got.Channel != "email" {
		t.Fatalf("an old unsubscribe token = %+v, %v", got, err)
	}
	fb := legacyToken(legacyFeedbackKey(secret), "c-42", "ru")
	got, err = k.Verify(Feedback, fb, sent)
	if err != nil || got.CustomerID != "c-42" || got.Locale != "ru" || got.ID() == "" {
		t.Fatalf("an old feedback token = %+v, %v", got, err)
	}
	if got.ID() == (Link{Purpose: Feedback, CustomerID: "c-42", Locale: "ru"}).ID() {
		t.Errorf("an old token's id collides with a new link's")
	}
	if _, err := k.Verify(Feedback, fb, LegacyFeedbackUntil); !errors.Is(err, ErrExpired) {
		t.Errorf("an old feedback token at LegacyFeedbackUntil = %v, want ErrExpired", err)
	}
	for name, c := range map[string]struct {
		p   Purpose
		tok string
	}{
		"an old unsubscribe token as feedback":   {Feedback, unsub},
		"an old feedback token as unsubscribe":   {Unsubscribe, fb},
		"an old token of a removed secret":       {Unsubscribe, legacyToken([]byte("removed-secret-0123"), "email", "c-42")},
		"an old token with a field changed":      {Unsubscribe, legacyToken([]byte(secret), "email", "c-43")[:14] + unsub[14:]},
		"an old token with three fields":         {Unsubscribe, legacyToken([]byte(secret), "email", "c-42", "x")},
		"an old token with an empty field":       {Unsubscribe, legacyToken([]byte(secret), "email", "")},
		"an old token without signature":         {Unsubscribe, strings.Split(unsub, ".")[0] + "."},
		"an old token with a changed last digit": {Unsubscribe, unsub[:len(unsub)-1] + "B"},
	} {
		if _, err := k.Verify(c.p, c.tok, sent); err == nil {
			t.Errorf("%s verifies", name)
		}
	}
}

func TestLinksBuildURLs(t *testing.T) {
	s := NewLinks(NewKeys(secret), "https://r.example/")
	u := s.UnsubscribeURL("c-42", "email")
	tok, ok := strings.CutPrefix(u, "https://r.example/unsubscribe/")
	if !ok {
		t.Fatalf("UnsubscribeURL = %q", u)
	}
	if l, err := s.VerifyUnsubscribe(tok); err != nil || l.CustomerID != "c-42" || l.Channel != "email" {
		t.Errorf("VerifyUnsubscribe = %+v, %v", l, err)
	}
	now := time.Now().Truncate(time.Second)
	u = s.FeedbackURL(Link{CustomerID: "c-42", MessageID: "m-1", Locale: "ru", IssuedAt: now})
	tok, ok = strings.CutPrefix(u, "https://r.example/feedback/")
	if !ok {
		t.Fatalf("FeedbackURL = %q", u)
	}
	if l, err := s.VerifyFeedback(tok); err != nil || l.MessageID != "m-1" || !l.IssuedAt.Equal(now) {
		t.Errorf("VerifyFeedback = %+v, %v", l, err)
	}
	if u := s.UnsubscribeURL("", "email"); u != "" {
		t.Errorf("UnsubscribeURL without customer = %q, want none", u)
	}
	if u, err := s.URL(sample[ReturnPath]); err == nil {
		t.Errorf("URL(return path) = %q, want an error", u)
	}
}
