package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// RequireToken lets a request through to next only with one of tokens: as a bearer token
// (Authorization: Bearer TOKEN), or, for a browser, as the password of HTTP basic auth
// with any user name. Otherwise it answers 401 and asks the browser for a password.
func RequireToken(tokens []string, next http.Handler) http.Handler {
	digests := make([][32]byte, 0, len(tokens))
	for _, t := range tokens {
		if t != "" {
			digests = append(digests, sha256.Sum256([]byte(t)))
		}
	}
	valid := func(tok string) bool {
		if tok == "" {
			return false
		}
		sum := sha256.Sum256([]byte(tok))
		ok := 0
		for _, d := range digests {
			ok |= subtle.ConstantTimeCompare(d[:], sum[:])
		}
		return ok == 1
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := ""
		if _, pass, ok := r.BasicAuth(); ok {
			tok = pass
		} else if scheme, rest, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
			tok = strings.TrimSpace(rest)
		}
		if !valid(tok) {
			w.Header().Set("WWW-Authenticate", `Basic realm="Rapport (any user name, an API token as the password)"`)
			http.Error(w, "401: send an API token as a bearer token, or as the basic-auth password", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
