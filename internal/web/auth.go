package web

import (
	"net/http"

	"github.com/rapporthq/rapport/internal/tokenauth"
)

// RequireToken lets a request through to next only with one of tokens: as a bearer token
// (Authorization: Bearer TOKEN), or, for a browser, as the password of HTTP basic auth
// with any user name. Otherwise it answers 401 and asks the browser for a password.
func RequireToken(tokens []string, next http.Handler) http.Handler {
	valid := tokenauth.New(tokens)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !valid.Valid(tokenauth.FromBrowser(r)) {
			w.Header().Set("WWW-Authenticate", `Basic realm="Rapport (any user name, an API token as the password)"`)
			http.Error(w, "401: send an API token as a bearer token, or as the basic-auth password", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
