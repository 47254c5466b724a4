package httpchan

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rapporthq/rapport/channels"
)

func TestRetryAfterReadsSecondsAndDates(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		value string
		want  time.Duration
	}{
		{"", 0}, {"30", 30 * time.Second}, {"0", 0}, {"-5", 0}, {"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	} {
		h := http.Header{}
		if tc.value != "" {
			h.Set("Retry-After", tc.value)
		}
		if got := RetryAfter(h, now); got != tc.want {
			t.Errorf("Retry-After %q = %s, want %s", tc.value, got, tc.want)
		}
	}
}

func TestErrorsNeverShowTheURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/bot123:SECRET/sendMessage", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(time.Second).Send(context.Background(), "telegram sendMessage", req)
	if !channels.IsTemporary(err) || strings.Contains(err.Error(), "SECRET") || !strings.HasPrefix(errors.Unwrap(err).Error(), "telegram sendMessage: ") {
		t.Fatalf("got %v", err)
	}
}

func TestARedirectIsTheAnswer(t *testing.T) {
	var followed bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/new" {
			followed = true
			return
		}
		http.Redirect(w, r, "/new", http.StatusFound)
	}))
	defer srv.Close()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/old", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := New(time.Second).Send(context.Background(), "webhook", req)
	if err != nil || resp.Status != http.StatusFound || resp.OK() || followed {
		t.Fatalf("got %+v %v, followed %v", resp, err, followed)
	}
}

func TestProblemsAreReportedAllAtOnce(t *testing.T) {
	var p Problems
	if p.Err() != nil {
		t.Fatalf("no problems gave %v", p.Err())
	}
	p.Add("token is required")
	p.Check(CheckURL("url", "ftp://x", "https://example.com"))
	p.Check(CheckURL("api_url", "https://api.example.com", "https://example.com"))
	p.Check(CheckTimeout(-1))
	p.Check(CheckTimeout(0))
	want := `token is required; url "ftp://x" must be an http(s) URL like https://example.com; timeout must not be negative`
	if err := p.Err(); err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}
