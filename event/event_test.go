package event

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

func many(n int) map[string]any {
	m := map[string]any{}
	for i := range n {
		m[fmt.Sprintf("a%d", i)] = i
	}
	return m
}

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
		{"an id of the longest length is kept", Event{ID: strings.Repeat("я", MaxIDLength), Type: "x", CustomerID: strings.Repeat("я", MaxIDLength)}, ""},
		{"customer ids are bounded", Event{Type: "x", CustomerID: strings.Repeat("x", MaxIDLength+1)}, "customer_id"},
		{"an id may hold colons and spaces", Event{ID: "order: A-1", Type: "x", CustomerID: "shop:c 42"}, ""},
		{"an id with a closing brace is refused", Event{ID: "q}:customer", Type: "x", CustomerID: "zz"}, "id"},
		{"a customer id with a closing brace is refused", Event{Type: "x", CustomerID: "zz}:applied:q"}, "customer_id"},
		{"a customer id with an opening brace is refused", Event{Type: "x", CustomerID: "{stats"}, "customer_id"},
		{"an id with a newline is refused", Event{ID: "a\nb", Type: "x", CustomerID: "c"}, "id"},
		{"a customer id with a NUL is refused", Event{Type: "x", CustomerID: "c\x00"}, "customer_id"},
		{"a customer id with a C1 control is refused", Event{Type: "x", CustomerID: "c\u0085"}, "customer_id"},
		{"a customer id that is not UTF-8 is refused", Event{Type: "x", CustomerID: "c\xff"}, "customer_id"},
		{"derived attributes are Rapport's", Event{Type: "x", CustomerID: "c", Customer: map[string]any{"total_spent": 1}}, "customer.total_spent"},
		{"the reserved prefix is Rapport's", Event{Type: "x", CustomerID: "c", Customer: map[string]any{"~e:welcome": "x"}}, "customer.~e:welcome"},
		{"the reserved prefix only counts at the start", Event{Type: "x", CustomerID: "c", Customer: map[string]any{"a~b": "x"}}, ""},
		{"a total is a number", Event{Type: "x", CustomerID: "c", Data: map[string]any{"total": 59.9}}, ""},
		{"a total may come as a string", Event{Type: "x", CustomerID: "c", Data: map[string]any{"total": "59.90"}}, ""},
		{"a total may be null", Event{Type: "x", CustomerID: "c", Data: map[string]any{"total": nil}}, ""},
		{"a total of NaN is refused", Event{Type: "x", CustomerID: "c", Data: map[string]any{"total": "NaN"}}, "data.total"},
		{"a total of Infinity is refused", Event{Type: "x", CustomerID: "c", Data: map[string]any{"total": "Infinity"}}, "data.total"},
		{"a total too large for a number is refused", Event{Type: "x", CustomerID: "c", Data: map[string]any{"total": "1e999"}}, "data.total"},
		{"a total beyond what can be counted in cents is refused", Event{Type: "x", CustomerID: "c", Data: map[string]any{"total": 1e300}}, "data.total"},
		{"a total that is no number is refused", Event{Type: "x", CustomerID: "c", Data: map[string]any{"total": "lots"}}, "data.total"},
		{"an infinite float is refused where it is", Event{Type: "x", CustomerID: "c", Data: map[string]any{"items": []any{map[string]any{"price": math.Inf(1)}}}}, "data.items[0].price"},
		{"a NaN attribute is refused", Event{Type: "x", CustomerID: "c", Customer: map[string]any{"score": math.NaN()}}, "customer.score"},
		{"a long name is refused", Event{Type: "x", CustomerID: "c", Customer: map[string]any{"first_name": strings.Repeat("A", 3000)}}, "customer.first_name"},
		{"a name of the longest length is kept", Event{Type: "x", CustomerID: "c", Customer: map[string]any{"first_name": strings.Repeat("Я", MaxAttributeValue)}}, ""},
		{"a long list is refused", Event{Type: "x", CustomerID: "c", Customer: map[string]any{"tags": []any{strings.Repeat("a", 600), strings.Repeat("b", 600)}}}, "customer.tags"},
		{"a long attribute name is refused", Event{Type: "x", CustomerID: "c", Customer: map[string]any{strings.Repeat("k", 65): "v"}}, "customer"},
		{"too many attributes are refused", Event{Type: "x", CustomerID: "c", Customer: many(MaxAttributes + 1)}, "customer"},
		{"a locale is a language tag", Event{Type: "x", CustomerID: "c", Customer: map[string]any{"locale": "pt-BR"}}, ""},
		{"a locale may be cleared", Event{Type: "x", CustomerID: "c", Customer: map[string]any{"locale": nil}}, ""},
		{"a locale may be empty", Event{Type: "x", CustomerID: "c", Customer: map[string]any{"locale": ""}}, ""},
		{"a locale that is a path is refused", Event{Type: "x", CustomerID: "c", Customer: map[string]any{"locale": "../../../x/owned"}}, "customer.locale"},
		{"a locale of an unknown language is refused", Event{Type: "x", CustomerID: "c", Customer: map[string]any{"locale": "zz"}}, "customer.locale"},
		{"a locale that is no string is refused", Event{Type: "x", CustomerID: "c", Customer: map[string]any{"locale": 7.0}}, "customer.locale"},
		{"a birthday is a date", Event{Type: "x", CustomerID: "c", Customer: map[string]any{"birthday": "1990-11-25"}}, ""},
		{"a birthday may leave out the year", Event{Type: "x", CustomerID: "c", Customer: map[string]any{"birthday": "02-29"}}, ""},
		{"a birthday may be cleared", Event{Type: "x", CustomerID: "c", Customer: map[string]any{"birthday": nil}}, ""},
		{"a birthday in another format is refused", Event{Type: "x", CustomerID: "c", Customer: map[string]any{"birthday": "25.11.1990"}}, "customer.birthday"},
		{"a birthday that is no date is refused", Event{Type: "x", CustomerID: "c", Customer: map[string]any{"birthday": "1990-02-30"}}, "customer.birthday"},
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
