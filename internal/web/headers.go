package web

import (
	"net/http"
	"strings"
)

// PageCSP is the Content-Security-Policy of Rapport's own pages: no script at all, the
// pages' own inline styles, images and fonts from anywhere (a previewed email shows the
// shop's logo), forms that post only back to Rapport, and no framing by any site.
const PageCSP = "default-src 'none'; style-src 'unsafe-inline' https:; img-src * data:; font-src https: data:; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// SecurityHeaders sets on every answer of next X-Content-Type-Options: nosniff,
// X-Frame-Options: DENY and a Content-Security-Policy: the policy of the longest prefix
// of policies that starts the request's path, or PageCSP. Wrap the whole server's
// handler in it, so that every page, those added later too, sends them.
func SecurityHeaders(next http.Handler, policies map[string]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		csp, longest := PageCSP, -1
		for prefix, p := range policies {
			if strings.HasPrefix(r.URL.Path, prefix) && len(prefix) > longest {
				csp, longest = p, len(prefix)
			}
		}
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", csp)
		next.ServeHTTP(w, r)
	})
}
