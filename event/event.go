// Package event defines the trigger event a shop backend sends to Rapport, its validation,
// and how it travels through the queue. The HTTP API, the Go client and the engine all use
// this one definition, so an event means the same thing however it arrives.
package event

import (
	"encoding/json"
	"fmt"
	"regexp"
	"time"
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
	// MaxIDLength bounds ids so that keys stay small.
	MaxIDLength = 200
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
	case e.CustomerID == "":
		return &FieldError{"customer_id", "is required"}
	case len(e.CustomerID) > MaxIDLength:
		return &FieldError{"customer_id", fmt.Sprintf("is longer than %d characters", MaxIDLength)}
	case len(e.ID) > MaxIDLength:
		return &FieldError{"id", fmt.Sprintf("is longer than %d characters", MaxIDLength)}
	}
	for k := range e.Customer {
		if k == "" {
			return &FieldError{"customer", "has an empty attribute name"}
		}
		if derived[k] {
			return &FieldError{"customer." + k, "is kept by Rapport from order.placed events and cannot be set"}
		}
	}
	return nil
}

// Derived profile attributes are computed from order.placed events, never sent.
var derived = map[string]bool{"orders_count": true, "first_order_at": true, "last_order_at": true, "total_spent": true}

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
