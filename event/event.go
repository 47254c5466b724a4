// Package event defines the trigger event a shop backend sends to Rapport, its validation,
// and how it travels through the queue. The HTTP API, the Go client and the engine all use
// this one definition, so an event means the same thing however it arrives.
package event

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"
)

// Event is one thing that happened to a customer: an order, an abandoned cart, a review.
type Event struct {
	// ID is the idempotency key: the same ID sent again within the dedup window (at least
	// seven days) changes nothing. The API and the client fill in a random one when empty.
	ID string `json:"id"`
	// Type names what happened, e.g. "order.placed". Required.
	Type string `json:"type"`
	// CustomerID identifies the customer in the shop. Required.
	CustomerID string `json:"customer_id"`
	// OccurredAt is when it happened; the zero value means "now" at intake.
	OccurredAt time.Time `json:"occurred_at"`
	// Customer upserts profile attributes (email, first_name, locale, timezone, ...).
	Customer map[string]any `json:"customer,omitempty"`
	// Data is free-form and reaches conditions and templates as event.data.
	Data map[string]any `json:"data,omitempty"`
}

// Queue wiring shared by every producer (API, Go client) and the worker.
const (
	// TaskType is the asynq task type of an accepted event.
	TaskType = "rapport:event"
	// Queue is the asynq queue that events wait in.
	Queue = "events"
	// DedupWindow is how long an event ID is remembered after the event was processed.
	DedupWindow = 7 * 24 * time.Hour
	// MaxIDLength bounds ids, in characters, so that keys stay small (see CheckID).
	MaxIDLength = 200
)

// Bounds on what one event may set on a profile. A profile attribute ends up in message
// headers and in every step's state, so it is kept to what a name, an address or a code
// needs.
const (
	// MaxAttributes is how many profile attributes one event may set.
	MaxAttributes = 100
	// MaxAttributeName is the longest attribute name, in bytes.
	MaxAttributeName = 64
	// MaxAttributeValue is the longest attribute value: characters of a string, bytes of
	// the JSON of a number, list or object.
	MaxAttributeValue = 1000
	// MaxTotal bounds data.total either way: revenue is counted in cents, exactly, and
	// a total beyond this would make the sums inexact.
	MaxTotal = 1e13
)

// TaskID is the asynq task ID of the event with the given id; asynq refuses a second task
// with the same ID, which is what makes intake idempotent.
func TaskID(id string) string { return "event:" + id }

var typePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]*$`)

// FieldError is a validation failure of one field, named as the JSON path the sender used.
type FieldError struct {
	Field   string
	Message string
}

// Error reads "field: message".
func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// Validate checks the required fields and their shapes. The error is a *FieldError naming
// the first bad field.
func (e *Event) Validate() error {
	switch {
	case e.Type == "":
		return &FieldError{"type", "is required"}
	case len(e.Type) > MaxIDLength || !typePattern.MatchString(e.Type):
		return &FieldError{"type", "must be letters, digits and . _ : - (like order.placed)"}
	}
	if err := CheckID("customer_id", e.CustomerID); err != nil {
		return err
	}
	if e.ID != "" { // the API and the client fill in an empty one
		if err := CheckID("id", e.ID); err != nil {
			return err
		}
	}
	if len(e.Customer) > MaxAttributes {
		return &FieldError{"customer", fmt.Sprintf("sets %d attributes; at most %d are allowed", len(e.Customer), MaxAttributes)}
	}
	for k, v := range e.Customer {
		if err := validateAttribute(k, v); err != nil {
			return err
		}
	}
	if err := finite("customer", e.Customer); err != nil {
		return err
	}
	if err := finite("data", e.Data); err != nil {
		return err
	}
	if t, ok := e.Data["total"]; ok && t != nil {
		f, ok := Number(t)
		if !ok {
			return &FieldError{"data.total", "must be a finite number, like 59.9"}
		}
		if math.Abs(f) > MaxTotal {
			return &FieldError{"data.total", fmt.Sprintf("is beyond ±%g, more than Rapport can count", MaxTotal)}
		}
	}
	return nil
}

// CheckID checks an event id or a customer id, which Rapport builds Redis keys from: 1
// to MaxIDLength characters of UTF-8 text, none of them a control character, { or }
// (braces would move the key's Redis hash tag, and let one id's keys be another's). The
// error is a *FieldError naming field.
func CheckID(field, id string) error {
	switch {
	case id == "":
		return &FieldError{field, "is required"}
	case !utf8.ValidString(id):
		return &FieldError{field, "is not valid UTF-8 text"}
	case utf8.RuneCountInString(id) > MaxIDLength:
		return &FieldError{field, fmt.Sprintf("is longer than %d characters", MaxIDLength)}
	}
	for _, r := range id {
		switch {
		case r == '{' || r == '}':
			return &FieldError{field, fmt.Sprintf("must not contain %q: braces are kept for Redis hash tags", r)}
		case unicode.IsControl(r):
			return &FieldError{field, fmt.Sprintf("must not contain the control character %U", r)}
		}
	}
	return nil
}

// validateAttribute checks one profile attribute's name, size and, for the attributes
// Rapport reads itself, shape.
func validateAttribute(k string, v any) error {
	field := "customer." + k
	switch {
	case k == "":
		return &FieldError{"customer", "has an empty attribute name"}
	case len(k) > MaxAttributeName:
		return &FieldError{"customer", fmt.Sprintf("attribute name %.20q... is longer than %d bytes", k, MaxAttributeName)}
	case derived[k]:
		return &FieldError{field, "is kept by Rapport from order.placed events and cannot be set"}
	case strings.HasPrefix(k, ReservedPrefix):
		return &FieldError{field, "starts with " + ReservedPrefix + ", which names the fields Rapport keeps beside the profile"}
	}
	switch v := v.(type) {
	case string:
		if n := utf8.RuneCountInString(v); n > MaxAttributeValue {
			return &FieldError{field, fmt.Sprintf("is %d characters long; at most %d are allowed", n, MaxAttributeValue)}
		}
	case nil, bool, float64:
	default:
		b, err := json.Marshal(v)
		if err == nil && len(b) > MaxAttributeValue {
			return &FieldError{field, fmt.Sprintf("is %d bytes of JSON; at most %d are allowed", len(b), MaxAttributeValue)}
		}
	}
	if k == "locale" && v != nil && v != "" {
		s, ok := v.(string)
		if !ok {
			return &FieldError{field, "must be a BCP 47 language tag like ru or pt-BR"}
		}
		if _, err := ParseLocale(field, s); err != nil {
			return err
		}
	}
	if k == "birthday" && v != nil {
		if s, ok := v.(string); !ok || !IsDate(s) {
			return &FieldError{field, "must be a date YYYY-MM-DD or MM-DD, like 1990-02-28"}
		}
	}
	return nil
}

// ParseLocale reads a locale as a BCP 47 language tag (ru, pt-BR, en_US) and returns it
// in its canonical form (pt-BR, en-US), which holds only letters, digits and hyphens. An
// error is a *FieldError naming field.
func ParseLocale(field, s string) (string, error) {
	tag, err := language.Parse(s)
	if err != nil {
		return "", &FieldError{field, fmt.Sprintf("%.50q is not a BCP 47 language tag like ru or pt-BR (%v)", s, err)}
	}
	return tag.String(), nil
}

// IsDate reports whether s is a yearly date as date triggers read it: YYYY-MM-DD or MM-DD.
func IsDate(s string) bool {
	s = strings.TrimSpace(s)
	if len(s) == len("01-02") {
		s = "2000-" + s // a leap year, so 02-29 parses
	}
	_, err := time.Parse("2006-01-02", s)
	return err == nil
}

// Number reads a JSON number or a string holding one, as order totals may come; ok is
// false for anything else and for NaN and the infinities.
func Number(v any) (f float64, ok bool) {
	switch n := v.(type) {
	case float64:
		f = n
	case int:
		f = float64(n)
	case int64:
		f = float64(n)
	case json.Number:
		var err error
		if f, err = n.Float64(); err != nil {
			return 0, false
		}
	case string:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(n), 64); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	return f, !math.IsNaN(f) && !math.IsInf(f, 0)
}

// finite refuses NaN and the infinities anywhere inside v, naming the path to them
// (data.items[2].price): JSON has no such numbers, and Redis refuses them as counters.
func finite(path string, v any) error {
	switch v := v.(type) {
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return &FieldError{path, "must be a finite number"}
		}
	case float32:
		return finite(path, float64(v))
	case map[string]any:
		for k, x := range v {
			if err := finite(path+"."+k, x); err != nil {
				return err
			}
		}
	case []any:
		for i, x := range v {
			if err := finite(fmt.Sprintf("%s[%d]", path, i), x); err != nil {
				return err
			}
		}
	}
	return nil
}

// ReservedPrefix starts the names of the fields Rapport keeps in a customer's profile hash
// for itself (the customer's enrolments and timers), beside the attributes; no attribute
// name may start with it, and profile reads never show such fields.
const ReservedPrefix = "~"

// Derived profile attributes are computed from order.placed events, never sent: the
// order statistics and the loyalty tier.
var derived = map[string]bool{"orders_count": true, "first_order_at": true, "last_order_at": true, "total_spent": true,
	"tier": true}

// IsDerived reports whether a profile attribute is one Rapport keeps itself.
func IsDerived(attr string) bool { return derived[attr] }

// Marshal encodes the event as a task payload.
func Marshal(e Event) ([]byte, error) { return json.Marshal(e) }

// Unmarshal decodes a task payload made by Marshal. Numbers in Customer and Data come back
// as float64, as they do from the HTTP API.
func Unmarshal(b []byte) (Event, error) {
	var e Event
	err := json.Unmarshal(b, &e)
	return e, err
}
