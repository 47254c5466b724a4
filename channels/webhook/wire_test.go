package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rapporthq/rapport/channels/webhook"
)

// TestTheRequestIsWhatTheSpecSays checks the request as a receiver written in another
// language sees it, without the package's own Sign or Verify: the headers of api.md, the
// signature as HMAC-SHA256 over "{timestamp}.{body}" computed here, and the body's keys.
func TestTheRequestIsWhatTheSpecSays(t *testing.T) {
	type seen struct {
		method string
		header http.Header
		body   []byte
	}
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got <- seen{r.Method, r.Header.Clone(), body}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	w, err := webhook.New(webhook.Config{URL: srv.URL, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().Unix()
	if _, err := w.Send(context.Background(), message()); err != nil {
		t.Fatal(err)
	}
	after := time.Now().Unix()
	r := <-got

	if r.method != http.MethodPost || r.header.Get("Idempotency-Key") != "enr-1/call" ||
		!strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Errorf("%s with Idempotency-Key %q, Content-Type %q", r.method, r.header.Get("Idempotency-Key"), r.header.Get("Content-Type"))
	}
	ts := r.header.Get("X-Rapport-Timestamp")
	if sec, err := strconv.ParseInt(ts, 10, 64); err != nil || sec < before || sec > after {
		t.Errorf("X-Rapport-Timestamp %q is not the unix seconds of the send", ts)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	io.WriteString(mac, ts+"."+string(r.body))
	if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); r.header.Get("X-Rapport-Signature") != want {
		t.Errorf("X-Rapport-Signature %q, want %q", r.header.Get("X-Rapport-Signature"), want)
	}

	var body map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range body {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if want := "channel customer customer_id id journey step subject template text"; strings.Join(keys, " ") != want {
		t.Errorf("body keys %q, want %q", strings.Join(keys, " "), want)
	}
}
