package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/rapporthq/rapport/internal/testutil"
)

func TestCapsHoldAcrossThreeProcesses(t *testing.T) {
	// Ten journeys fall due for one customer in the same second; serve and two workers
	// share the work on one Redis. The cap of two must hold.
	capsHold(t, "serve", "worker", "worker")
}

func TestCapsHoldInOneProcess(t *testing.T) {
	capsHold(t, "serve") // twenty concurrent handlers
}

func capsHold(t *testing.T, commands ...string) {
	dir, _ := filepath.Abs("testdata/caps")
	s := newSetup(t, dir, "caps:\n  email: {limit: 2, per: 1d}\n")
	for _, c := range commands {
		s.start(t, c)
	}
	body := `{"id": "signup-1", "type": "customer.signed_up", "customer_id": "c-1",
	  "customer": {"email": "anna@example.com", "first_name": "Anna"}}`
	if code, _ := s.post(t, "/v1/events", body); code != 202 {
		t.Fatalf("event refused: %d", code)
	}
	outcomes := map[string]int{}
	testutil.WaitFor(t, 20*time.Second, "ten outcomes in the history", func() bool {
		h, _ := s.customer(t, "c-1")["history"].([]any)
		clear(outcomes)
		for _, r := range h {
			o, _ := r.(map[string]any)["outcome"].(string)
			outcomes[o]++
		}
		return len(h) == 10
	})
	if outcomes["sent"] != 2 || outcomes["capped"] != 8 {
		t.Fatalf("outcomes = %v, want exactly 2 sent and 8 capped", outcomes)
	}
	if n := s.smtp.Count(); n != 2 {
		t.Fatalf("the SMTP server received %d emails, want 2", n)
	}
}
