// Package tokenauth checks Rapport's API tokens on HTTP requests, for the API and for the
// pages people open in a browser: a token comes as a bearer token (Authorization: Bearer
// TOKEN) or, from a browser, as the password of HTTP basic auth with any user name.
// Tokens are compared as SHA-256 digests in constant time, so neither a token's content
// nor its length shows in the timing.
package tokenauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// Tokens is a set of accepted API tokens. Its zero value accepts none.
type Tokens struct {
	digests [][sha256.Size]byte
}

// New returns the set of tokens; empty strings are left out, so an unset token never
// matches an empty credential.
func New(tokens []string) Tokens {
	var t Tokens
	for _, tok := range tokens {
		if tok != "" {
			t.digests = append(t.digests, sha256.Sum256([]byte(tok)))
		}
	}
	return t
}

// Valid reports whether tok is one of the tokens. It checks every token whatever
// matched, in constant time.
func (t Tokens) Valid(tok string) bool {
	if tok == "" {
		return false
	}
	sum := sha256.Sum256([]byte(tok))
	valid := 0
	for _, d := range t.digests {
		valid |= subtle.ConstantTimeCompare(d[:], sum[:])
	}
	return valid == 1
}

// Bearer returns the bearer token of r's Authorization header, or "" when it has none.
func Bearer(r *http.Request) string {
	scheme, tok, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// FromBrowser returns the token r carries as the basic-auth password (any user name) or,
// failing that, as a bearer token; "" when it carries neither.
func FromBrowser(r *http.Request) string {
	if _, pass, ok := r.BasicAuth(); ok {
		return pass
	}
	return Bearer(r)
}
