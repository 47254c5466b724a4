package api

import (
	"errors"
	"reflect"
	"testing"

	"github.com/rapporthq/rapport/event"
)

// FuzzParseEvent: any body either becomes an event that passes Validate and travels
// through the queue's encoding unchanged, or is refused with a 400 (never a 5xx, which
// would tell the sender to retry); it never panics.
func FuzzParseEvent(f *testing.F) {
	// More seeds, and every crasher found, are in testdata/fuzz/FuzzParseEvent.
	f.Add([]byte(`{"id": "evt-1", "type": "order.placed", "customer_id": "c-42", "occurred_at": "2026-11-22T10:00:00Z",
		"customer": {"email": "anna@example.com", "first_name": "Anna", "birthday": "1990-02-28"},
		"data": {"order_id": "A-1001", "total": 59.9, "items": [{"sku": "CF-1", "price": 19.9}]}}`))
	f.Add([]byte(`{"type": "order.placed", "customer_id": "c", "data": {"total": 1e999}}`))
	f.Add([]byte(`{"type": "order.placed", "customer_id": "c", "data": {"total": "NaN"}}`))
	f.Add([]byte(`{"type": "x", "customer_id": "c", "customer": {"birthday": "25.11.1990"}}`))
	f.Add([]byte(`{"type": "x",`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := parseEvent(body, "")
		if err != nil {
			var br *badRequest
			if !errors.As(err, &br) || statusOf(err) != 400 || br.Error() == "" {
				t.Fatalf("parseEvent(%q) = %T %v, want a 400 that says why", body, err, err)
			}
			return
		}
		if err := ev.Validate(); err != nil {
			t.Fatalf("parseEvent(%q) accepted an event Validate refuses: %v", body, err)
		}
		payload, err := event.Marshal(ev)
		if err != nil {
			t.Fatalf("parseEvent(%q) accepted an event the queue cannot carry: %v", body, err)
		}
		back, err := event.Unmarshal(payload)
		if err != nil || !reflect.DeepEqual(orNil(back.Customer), orNil(ev.Customer)) || !reflect.DeepEqual(orNil(back.Data), orNil(ev.Data)) {
			t.Fatalf("parseEvent(%q): %+v came back from the queue as %+v, %v", body, ev, back, err)
		}
	})
}

// orNil makes an empty map nil: the queue's encoding leaves empty ones out.
func orNil(m map[string]any) map[string]any {
	if len(m) == 0 {
		return nil
	}
	return m
}
