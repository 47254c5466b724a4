package api

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// origin is the scheme://host[:port] of an absolute URL, lower-cased, with the default
// port of its scheme left out, so that two spellings of one origin compare equal. It is
// "" for anything else.
func origin(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname())
	port := u.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	switch {
	case port != "":
		host = net.JoinHostPort(host, port)
	case strings.Contains(host, ":"):
		host = "[" + host + "]" // an IPv6 literal
	}
	return scheme + "://" + host
}

// sameOrigin refuses with 403 a request that changes state (any method but GET and HEAD)
// sent from a page of another origin than baseURL's: its Origin header, or without one
// its Referer, must name baseURL's origin. A browser sends one of them with every such
// request, so a page elsewhere cannot make a logged-in browser act (a cross-site request
// forgery). A request with neither comes from a program, not a browser; it gets through
// only with a bearer token, which a browser never adds by itself, not with the basic-auth
// password a browser remembers.
func sameOrigin(baseURL string, next http.Handler) http.Handler {
	own := origin(baseURL)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		from := r.Header.Get("Origin")
		if from == "" {
			from = r.Header.Get("Referer")
		}
		_, _, basic := r.BasicAuth()
		switch {
		case from == "" && !basic:
			next.ServeHTTP(w, r)
		case from == "":
			writeError(w, http.StatusForbidden, "a change through the dashboard must come from its own page: the browser sent neither Origin nor Referer", "")
		case own == "" || origin(from) != own:
			shown := origin(from)
			if shown == "" {
				shown = "an origin that is no URL"
			}
			writeError(w, http.StatusForbidden, "a change through the dashboard must come from its own page at "+own+
				" (http.base_url), not from "+shown, "")
		default:
			next.ServeHTTP(w, r)
		}
	})
}
