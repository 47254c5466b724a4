package main

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rapporthq/rapport/internal/testutil"
)

// The real binary: 1000 customers enter a journey with a 20% holdout and a 50/50 split.
// The held-out share is within 3 points of 20%, none of them gets an email, every other
// customer gets one of the two variants, and orders from chosen customers of both groups
// give exact per-group figures in /v1/stats.
func TestAHoldoutAndASplitOnTheRealBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("1000 customers through the binary")
	}
	dir := must(filepath.Abs("testdata/experiment"))
	s := newSetup(t, dir, "")
	s.start(t, "serve")
	const n = 1000
	for b := 0; b < n; b += 100 {
		var evs []string
		for i := b; i < b+100; i++ {
			evs = append(evs, fmt.Sprintf(`{"id": "cart-%d", "type": "cart.abandoned", "customer_id": "c%d",
			  "customer": {"email": "c%d@example.com"}, "data": {"cart_id": "K%d"}}`, i, i, i, i))
		}
		if code, body := s.post(t, "/v1/events/batch", `{"events": [`+strings.Join(evs, ",")+`]}`); code != 202 && code != 200 {
			t.Fatalf("batch = %d %v", code, body)
		}
	}
	// Every enrolment's first step has run once each customer has a history line.
	held := map[string]bool{}
	variants := map[string]string{}
	testutil.WaitFor(t, 60*time.Second, "every customer's reminder to be sent or held out", func() bool {
		for i := 0; i < n; i++ {
			cid := fmt.Sprintf("c%d", i)
			if held[cid] || variants[cid] != "" {
				continue
			}
			hist, _ := s.customer(t, cid)["history"].([]any)
			for _, h := range hist {
				line, _ := h.(map[string]any)
				switch line["outcome"] {
				case "held_out":
					held[cid] = true
				case "sent":
					variants[cid], _ = line["variant"].(string)
				}
			}
			if !held[cid] && variants[cid] == "" {
				return false
			}
		}
		return true
	})
	share := float64(len(held)) / n
	if math.Abs(share-0.20) > 0.03 {
		t.Fatalf("held out %.3f, want 0.20 ± 0.03", share)
	}
	msgs := s.smtp.WaitFor(t, n-len(held), 30*time.Second)
	split := map[string]int{}
	for _, m := range msgs {
		cid := strings.TrimSuffix(m.To[0], "@example.com")
		if held[cid] {
			t.Fatalf("held-out customer %s got an email", cid)
		}
		split[variants[cid]]++
	}
	if len(msgs) != n-len(held) || split["plain"] < 300 || split["urgent"] < 300 {
		t.Fatalf("%d emails, by variant %v; want %d split about evenly", len(msgs), split, n-len(held))
	}

	// Every seventh customer orders, for 10 plus its number in cents.
	type group struct {
		converted int64
		revenue   float64
	}
	var treat, hold group
	for i := 0; i < n; i += 7 {
		cid := fmt.Sprintf("c%d", i)
		total := 10 + float64(i)/100
		ev := fmt.Sprintf(`{"id": "order-%d", "type": "order.placed", "customer_id": %q, "data": {"order_id": "O%d", "total": %.2f}}`, i, cid, i, total)
		if code, body := s.post(t, "/v1/events", ev); code != 202 {
			t.Fatalf("order = %d %v", code, body)
		}
		g := &treat
		if held[cid] {
			g = &hold
		}
		g.converted++
		g.revenue += total
	}
	testutil.WaitFor(t, 30*time.Second, "every order in /v1/stats", func() bool {
		js, _ := s.stats(t, 1)["journeys"].(map[string]any)["split-cart"].(map[string]any)
		return js["converted"] == float64(treat.converted+hold.converted)
	})
	js := s.stats(t, 1)["journeys"].(map[string]any)["split-cart"].(map[string]any)
	groups := js["groups"].(map[string]any)
	for name, want := range map[string]struct {
		entered int
		g       group
	}{"treatment": {n - len(held), treat}, "holdout": {len(held), hold}} {
		got := groups[name].(map[string]any)
		if got["entered"] != float64(want.entered) || got["converted"] != float64(want.g.converted) ||
			math.Abs(got["revenue"].(float64)-want.g.revenue) > 0.001 {
			t.Errorf("%s = %v, want entered %d converted %d revenue %.2f", name, got, want.entered, want.g.converted, want.g.revenue)
		}
	}
	lift := js["lift"].(map[string]any)
	if !(lift["low"].(float64) <= lift["conversion"].(float64) && lift["conversion"].(float64) <= lift["high"].(float64)) || lift["confidence"] != 0.95 {
		t.Errorf("lift = %v", lift)
	}
	reminder := js["steps"].(map[string]any)["reminder"].(map[string]any)
	vs := reminder["variants"].(map[string]any)
	if reminder["sent"] != float64(len(msgs)) || vs["plain"].(map[string]any)["sent"] != float64(split["plain"]) ||
		reminder["winner"] != nil || reminder["held_out"] != float64(len(held)) {
		t.Errorf("reminder = %v, want %d sent (%v) and %d held out", reminder, len(msgs), split, len(held))
	}
	if reminder["converted"] != float64(treat.converted) {
		t.Errorf("reminder converted %v, want the %d orders of treated customers", reminder["converted"], treat.converted)
	}
}
