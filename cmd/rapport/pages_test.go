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
