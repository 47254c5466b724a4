package signing

import (
	"strings"
	"time"
)

// Links builds the public URLs of links under the API's base URL and verifies their
// tokens against the wall clock. It is safe for concurrent use.
type Links struct {
	keys *Keys
	base string
}

// NewLinks returns Links signing with keys, building URLs under baseURL (the public
// address of the HTTP API, e.g. https://rapport.shop.example).
func NewLinks(keys *Keys, baseURL string) *Links {
	return &Links{keys: keys, base: strings.TrimRight(baseURL, "/")}
}

// Keys returns the keys the links sign with, for purposes without a URL.
func (s *Links) Keys() *Keys { return s.keys }

// paths are the URL paths of the purposes a browser opens.
var paths = map[Purpose]string{
	Unsubscribe: "/unsubscribe/", Feedback: "/feedback/", Click: "/c/", Preferences: "/preferences/",
}

// URL returns BASE_URL/PATH/TOKEN for l: /unsubscribe/, /feedback/, /c/ or /preferences/
// by its purpose. It fails as Keys.Sign does, and for a purpose that has no URL.
func (s *Links) URL(l Link) (string, error) {
	path, ok := paths[l.Purpose]
	if !ok {
		return "", errNoURL(l.Purpose)
	}
	tok, err := s.keys.Sign(l)
	if err != nil {
		return "", err
	}
	return s.base + path + tok, nil
}

type errNoURL Purpose

func (e errNoURL) Error() string { return "a " + Purpose(e).String() + " link has no URL" }

// UnsubscribeURL returns the one-click unsubscribe URL of a customer on a channel, or ""
// when either is empty: a link must name both.
func (s *Links) UnsubscribeURL(customerID, channel string) string {
	u, err := s.URL(Link{Purpose: Unsubscribe, CustomerID: customerID, Channel: channel})
	if err != nil {
		return ""
	}
	return u
}

// FeedbackURL returns the feedback page of the message l names (CustomerID, MessageID,
// IssuedAt: its send time; Locale), or "" when one of the first three is missing.
// Templates add ?score=N.
func (s *Links) FeedbackURL(l Link) string {
	l.Purpose = Feedback
	u, err := s.URL(l)
	if err != nil {
		return ""
	}
	return u
}

// Verify checks token as a link of purpose p, now; see Keys.Verify.
func (s *Links) Verify(p Purpose, token string) (Link, error) {
	return s.keys.Verify(p, token, time.Now())
}

// VerifyUnsubscribe checks an unsubscribe token.
func (s *Links) VerifyUnsubscribe(token string) (Link, error) { return s.Verify(Unsubscribe, token) }

// VerifyFeedback checks a feedback token; an expired one is ErrExpired.
func (s *Links) VerifyFeedback(token string) (Link, error) { return s.Verify(Feedback, token) }
