package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// rapport serve shows the preview page under the API tokens, beside the API.
func TestServeShowsThePreviewPageUnderTheAPITokens(t *testing.T) {
	s := newSetup(t, "../../workflows", "")
	s.start(t, "serve")
	get := func(path string, auth func(*http.Request)) (int, string) {
		req, _ := http.NewRequest("GET", "http://"+s.addr+path, nil)
		auth(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	basic := func(r *http.Request) { r.SetBasicAuth("marketing", token) }
	if code, body := get("/preview/", basic); code != 200 || !strings.Contains(body, `id="abandoned-cart"`) {
		t.Fatalf("GET /preview/ = %d\n%s", code, body)
	}
	if code, _ := get("/preview/", func(*http.Request) {}); code != 401 {
		t.Fatalf("GET /preview/ without a token = %d, want 401", code)
	}
	if code, _ := get("/v1/journeys", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }); code != 200 {
		t.Fatalf("GET /v1/journeys = %d: the API must still answer beside the pages", code)
	}
}

// Every page Rapport serves, and those it will serve later, sends the security headers:
// one middleware wraps the whole server.
func TestEveryPageSendsTheSecurityHeaders(t *testing.T) {
	s := newSetup(t, "../../workflows", "")
	s.start(t, "serve")
	for _, path := range []string{"/preview/", "/preview/abandoned-cart", "/stats/", "/monitoring/",
		"/monitoring/queues/steps", "/feedback/forged-token?score=3", "/unsubscribe/forged-token",
		"/customers/", "/preferences/", "/v1/journeys", "/no-such-page"} {
		t.Run(path, func(t *testing.T) {
			req, err := http.NewRequest("GET", "http://"+s.addr+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.SetBasicAuth("ops", token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			h := resp.Header
			if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" ||
				!strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
				t.Fatalf("GET %s (%d): nosniff %q, frame options %q, policy %q", path, resp.StatusCode,
					h.Get("X-Content-Type-Options"), h.Get("X-Frame-Options"), h.Get("Content-Security-Policy"))
			}
			if strings.HasPrefix(path, "/monitoring/") != strings.Contains(h.Get("Content-Security-Policy"), "'sha256-") {
				t.Fatalf("GET %s has the policy %q: the dashboard's scripts by hash, and only there", path, h.Get("Content-Security-Policy"))
			}
		})
	}
}
