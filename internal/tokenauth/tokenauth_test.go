package tokenauth

import (
	"net/http"
	"testing"
)

func TestValidAcceptsOnlyTheTokens(t *testing.T) {
	tokens := New([]string{"", "first-token", "second-token"})
	for _, tc := range []struct {
		tok  string
		want bool
	}{
		{"first-token", true}, {"second-token", true},
		{"", false}, {"first-toke", false}, {"first-token ", false}, {"third-token", false},
	} {
		if got := tokens.Valid(tc.tok); got != tc.want {
			t.Errorf("Valid(%q) = %v, want %v", tc.tok, got, tc.want)
		}
	}
	if (Tokens{}).Valid("first-token") {
		t.Error("the zero Tokens accepted a token")
	}
}

func TestTheTokenIsReadFromBearerOrBasicAuth(t *testing.T) {
	for _, tc := range []struct {
		name            string
		set             func(*http.Request)
		bearer, browser string
	}{
		{"no credentials", func(*http.Request) {}, "", ""},
		{"a bearer token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer tok") }, "tok", "tok"},
		{"a bearer token in lower case with spaces", func(r *http.Request) { r.Header.Set("Authorization", " bearer  tok ") }, "tok", "tok"},
		{"a basic-auth password", func(r *http.Request) { r.SetBasicAuth("anyone", "tok") }, "", "tok"},
		{"another scheme", func(r *http.Request) { r.Header.Set("Authorization", "Token tok") }, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := http.NewRequest(http.MethodGet, "/", nil)
			if err != nil {
				t.Fatal(err)
			}
			tc.set(r)
			if got := Bearer(r); got != tc.bearer {
				t.Errorf("Bearer = %q, want %q", got, tc.bearer)
			}
			if got := FromBrowser(r); got != tc.browser {
				t.Errorf("FromBrowser = %q, want %q", got, tc.browser)
			}
		})
	}
}
