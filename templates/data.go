package templates

import (
	"time"

	"github.com/rapporthq/rapport/internal/signing"
)

// Input is what a message's template data is made of. The engine, `rapport preview` and
// the preview page fill one in and call NewData, so that a template renders with the same
// data wherever it is rendered.
type Input struct {
	// CustomerID is whom the message is for; the signed links name them.
	CustomerID string
	// Customer is the customer's profile attributes (.customer).
	Customer map[string]any
	// Event is the event behind the message (.event).
	Event Event
	// Journey is the journey the message belongs to (.journey).
	Journey Journey
	// Channel is the name of the channel the message goes out on; the unsubscribe link
	// unsubscribes from it. Empty: the message has no unsubscribe link.
	Channel string
	// MessageID is the id of the message the data renders; the feedback link names it.
	MessageID string
	// Locale is the locale the message is rendered in; the feedback page speaks it.
	Locale string
	// Now is the render time (.now).
	Now time.Time
	// UnsubscribeURL signs a one-click unsubscribe link; nil: messages carry none.
	UnsubscribeURL func(customerID, channel string) string
	// FeedbackURL signs a feedback link; nil: messages carry none.
	FeedbackURL func(l signing.Link) string
	// PreferencesURL signs the customer's preference page; nil: messages carry none.
	PreferencesURL func(customerID, channel string) string
}

// Event is the event behind a message, as templates see it under .event: id, type,
// customer_id, occurred_at and data.
type Event struct {
	ID, Type, CustomerID string
	OccurredAt           time.Time
	Data                 map[string]any
}

// NewData is the data a template renders with for in.
func NewData(in Input) Data {
	d := Data{
		Customer: in.Customer,
		Event: map[string]any{"id": in.Event.ID, "type": in.Event.Type, "customer_id": in.Event.CustomerID,
			"occurred_at": in.Event.OccurredAt, "data": in.Event.Data},
		Journey: in.Journey,
		Now:     in.Now,
	}
	if in.UnsubscribeURL != nil && in.Channel != "" {
		d.UnsubscribeURL = in.UnsubscribeURL(in.CustomerID, in.Channel)
	}
	if in.FeedbackURL != nil {
		d.FeedbackURL = in.FeedbackURL(signing.Link{CustomerID: in.CustomerID, Channel: in.Channel,
			MessageID: in.MessageID, Locale: in.Locale, IssuedAt: in.Now})
	}
	if in.PreferencesURL != nil && in.CustomerID != "" {
		d.PreferencesURL = in.PreferencesURL(in.CustomerID, in.Channel)
	}
	return d
}
