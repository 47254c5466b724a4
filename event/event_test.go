package event

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateNamesTheBadField(t *testing.T) {
	cases := []struct {
		name  string
		ev    Event
		field string // "" for a valid event
	}{
		{"a minimal event is valid", Event{Type: "order.placed", CustomerID: "c-1"}, ""},
		{"type is required", Event{CustomerID: "c-1"}, "type"},
		{"type has a shape", Event{Type: "order placed", CustomerID: "c-1"}, "type"},
		{"customer_id is required", Event{Type: "x"}, "customer_id"},
		{"ids are bounded", Event{ID: strings.Repeat("x", MaxIDLength+1), Type: "x", CustomerID: "c"}, "id"},
		{"derived attributes are Rapport's", Event{Type: "x", CustomerID: "c", Customer: map[string]any{"total_spent": 1}}, "customer.total_spent"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.ev.Validate()
			var fe *FieldError
			switch {
			case c.field == "" && err != nil:
				t.Fatalf("valid event refused: %v", err)
			case c.field != "" && (!errors.As(err, &fe) || fe.Field != c.field):
				t.Fatalf("got %v, want an error naming %s", err, c.field)
			}
		})
	}
}
