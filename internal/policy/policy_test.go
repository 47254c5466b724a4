package policy_test

import (
	"context"
	"testing"
	"time"

	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/engine/enginetest"
	"github.com/rapporthq/rapport/internal/policy"
	"github.com/rapporthq/rapport/internal/store"
	"github.com/rapporthq/rapport/workflows"
)

func TestQuietHoursHoldMessagesUntilTheirEnd(t *testing.T) {
	q, err := policy.NewQuietHours("21:00", "09:00", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	day := func(h, m int) time.Time { return time.Date(2026, 3, 2, h, m, 0, 0, time.UTC) }
	cases := []struct {
		name string
		now  time.Time
		tz   string
		want time.Time // zero: goes now
	}{
		{"the afternoon is not quiet", day(15, 0), "", time.Time{}},
		{"late evening waits for the morning", day(22, 30), "", day(33, 0)},
		{"the small hours wait for the morning", day(3, 0), "", day(9, 0)},
		{"the end of the quiet hours is not quiet", day(9, 0), "", time.Time{}},
		{"the customer's own time zone counts", day(15, 0), "Asia/Tokyo", day(24, 0)}, // 00:00 in Tokyo
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := &engine.Delivery{Now: c.now, Customer: map[string]any{}}
			if c.tz != "" {
				d.Customer["timezone"] = c.tz
			}
			v, err := q.Check(context.Background(), d)
			if err != nil || !v.Until.Equal(c.want) {
				t.Fatalf("Until = %v, %v; want %v", v.Until, err, c.want)
			}
		})
	}
	bypass := &engine.Delivery{Now: day(23, 0), Customer: map[string]any{}, Step: &workflows.Step{Send: workflows.Send{Caps: workflows.CapsBypass}}}
	if v, _ := q.Check(context.Background(), bypass); !v.Until.IsZero() {
		t.Error("a transactional message (caps: bypass) was held back")
	}
	if _, err := policy.NewQuietHours("9pm", "09:00", time.UTC); err == nil {
		t.Error("a bad time was accepted")
	}
}

const threeSteps = `
id: busy
trigger: {event: signed.up}
steps:
  - {id: one, wait: 1h, send: {template: hello, channels: [email]}}
  - {id: two, wait: 1h, send: {template: hello, channels: [email]}}
  - {id: three, wait: 1h, send: {template: hello, channels: [email]}}
  - {id: receipt, wait: 1h, send: {template: hello, channels: [email], caps: bypass}}
  - {id: later, wait: 7d, send: {template: hello, channels: [email]}}
`

func TestCapsSkipWhatWouldExceedThemAndBypassStillCounts(t *testing.T) {
	start := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	h := enginetest.New(t, enginetest.Config{Start: start, Journeys: []string{threeSteps}, Templates: "../engine/testdata/templates",
		Policies: func(st *store.Store) []engine.Policy {
			return []engine.Policy{policy.NewCaps(map[string]policy.Limit{"email": {Limit: 2, Per: 7 * 24 * time.Hour}})}
		}})
	h.Event(event.Event{Type: "signed.up", CustomerID: "c", Customer: map[string]any{"email": "c@x.example"}})
	h.Advance(5 * time.Hour)
	outcomes := func() []string {
		var out []string
		for _, r := range h.History("c") {
			out = append([]string{r.Step + ":" + r.Outcome}, out...)
		}
		return out
	}
	want := []string{"one:sent", "two:sent", "three:capped", "receipt:sent"}
	if got := outcomes(); len(got) != 4 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] {
		t.Fatalf("outcomes = %v, want %v", got, want)
	}
	// Seven days after "receipt": "one" and "two" have left the window; "receipt" (bypass,
	// but counted) is still in it, so exactly one more fits under the cap of two.
	h.Advance(7 * 24 * time.Hour)
	if got := outcomes(); got[len(got)-1] != "later:sent" {
		t.Fatalf("outcomes = %v, want the last one sent once the window moved on", got)
	}
	if n := len(h.Sent.To("c@x.example")); n != 4 {
		t.Fatalf("%d emails, want 4", n)
	}
}

func TestQuietHoursInTheEngine(t *testing.T) {
	start := time.Date(2026, 3, 2, 20, 30, 0, 0, time.UTC)
	h := enginetest.New(t, enginetest.Config{Start: start, Journeys: []string{threeSteps}, Templates: "../engine/testdata/templates",
		Policies: func(*store.Store) []engine.Policy {
			q, _ := policy.NewQuietHours("21:00", "09:00", time.UTC)
			return []engine.Policy{q}
		}})
	h.Event(event.Event{Type: "signed.up", CustomerID: "c", Customer: map[string]any{"email": "c@x.example"}})
	h.Advance(12*time.Hour + 29*time.Minute) // 08:59 next morning
	if n := len(h.Sent.To("c@x.example")); n != 0 {
		t.Fatalf("%d messages during quiet hours", n)
	}
	h.Advance(time.Minute)
	if n := len(h.Sent.To("c@x.example")); n != 1 {
		t.Fatalf("%d messages at 09:00, want the held one", n)
	}
	h.Advance(time.Hour) // the next step counts its wait from when the held one went out
	if n := len(h.Sent.To("c@x.example")); n != 2 {
		t.Fatalf("%d messages at 10:00, want 2", n)
	}
}
