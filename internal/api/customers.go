package api

import (
	"context"
	"errors"
	"html/template"
	"net/http"

	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/signing"
)

// Customers is what the customer endpoints need of the engine; *engine.Engine is one.
type Customers interface {
	Customer(ctx context.Context, id string) (engine.CustomerView, error)
	SetConsent(ctx context.Context, id, channel string, subscribed bool) error
	SetTopicConsent(ctx context.Context, id, topic string, subscribed bool) error
	Forget(ctx context.Context, id string) error
}

// ProfileUpdated is the type of the event PUT /v1/customers/{id} sends through the intake,
// so a profile change moves the customer's date timers like any event does.
const ProfileUpdated = "customer.updated"

func (s *server) customerRoutes(mux *http.ServeMux) {
	mux.Handle("GET /v1/customers/{id}", s.auth(s.checkedID(func(w http.ResponseWriter, r *http.Request) {
		v, err := s.Customers.Customer(r.Context(), r.PathValue("id"))
		if errors.Is(err, engine.ErrUnknownCustomer) {
			writeError(w, http.StatusNotFound, "no customer with this id: nothing is known about them", "")
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, v)
	})))
	mux.Handle("PUT /v1/customers/{id}", s.auth(s.checkedID(func(w http.ResponseWriter, r *http.Request) {
		var attrs map[string]any
		if err := s.decode(w, r, &attrs); err != nil {
			s.fail(w, r, err)
			return
		}
		attrs, err := unwrapCustomer(attrs)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if err := numbers("customer", attrs); err != nil {
			s.fail(w, r, err)
			return
		}
		ev := event.Event{Type: ProfileUpdated, CustomerID: r.PathValue("id"), Customer: attrs}
		if err := ev.Validate(); err != nil {
			s.fail(w, r, intakeError(err, ""))
			return
		}
		res, err := s.Intake.Send(r.Context(), ev)
		if err != nil {
			s.fail(w, r, intakeError(err, ""))
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]any{"id": res.ID})
	})))
	mux.Handle("DELETE /v1/customers/{id}", s.auth(s.checkedID(func(w http.ResponseWriter, r *http.Request) {
		if err := s.Customers.Forget(r.Context(), r.PathValue("id")); err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"deleted": true})
	})))
	mux.Handle("POST /v1/customers/{id}/consent", s.auth(s.checkedID(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Channel    string `json:"channel"`
			Topic      string `json:"topic"`
			Subscribed *bool  `json:"subscribed"`
		}
		if err := s.decode(w, r, &body); err != nil {
			s.fail(w, r, err)
			return
		}
		if body.Subscribed == nil {
			s.fail(w, r, &badRequest{"subscribed", "is required: true or false"})
			return
		}
		if body.Topic != "" || body.Channel == "" {
			s.topicConsent(w, r, body.Channel, body.Topic, *body.Subscribed)
			return
		}
		err := s.Customers.SetConsent(r.Context(), r.PathValue("id"), body.Channel, *body.Subscribed)
		if errors.Is(err, engine.ErrUnknownChannel) {
			s.fail(w, r, &badRequest{"channel", err.Error()})
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"channel": body.Channel, "subscribed": *body.Subscribed})
	})))
}

// checkedID lets a request through to next only when the {id} of its path is a
// customer id as event.CheckID takes it; otherwise it answers 400 naming the field id.
func (s *server) checkedID(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := event.CheckID("id", r.PathValue("id")); err != nil {
			s.fail(w, r, intakeError(err, ""))
			return
		}
		next(w, r)
	})
}

// unwrapCustomer takes the attributes out of a PUT body shaped like an event's customer
// field, {"customer": {...}}, which is a common slip; a body that holds such an object
// beside other attributes is refused, since an attribute that is itself a customer is
// surely one.
func unwrapCustomer(attrs map[string]any) (map[string]any, error) {
	inner, ok := attrs["customer"].(map[string]any)
	switch {
	case !ok:
		return attrs, nil
	case len(attrs) == 1:
		return inner, nil
	}
	return nil, &badRequest{"customer", `the body is the attributes themselves, like {"email": "anna@example.com"}, or {"customer": {...}} alone`}
}

// LinkVerifier checks the token of a public link and returns what it names;
// (*signing.Links).VerifyUnsubscribe and VerifyFeedback are two. A token that does not
// verify is an error wrapping signing.ErrInvalid or signing.ErrExpired.
type LinkVerifier func(token string) (signing.Link, error)

var page = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ .Title }}</title></head>
<body style="font-family:Georgia,serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#2b2b2b;line-height:1.6">
<h1 style="font-size:1.4rem">{{ .Title }}</h1>
<p>{{ .Text }}</p>
{{ if .Form }}<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit" style="font-size:1rem;padding:.5rem 1rem">Unsubscribe</button></form>{{ end }}
</body></html>
`))

type pageData struct {
	Title, Text string
	Form        bool
}

// unsubscribe serves the one-click unsubscribe of RFC 8058: POST opts out at once, GET
// shows a confirmation page whose button POSTs, so that link scanners fetching the URL
// unsubscribe no one.
func (s *server) unsubscribe(w http.ResponseWriter, r *http.Request) {
	link, err := s.Unsubscribe(r.PathValue("token"))
	cid, channel := link.CustomerID, link.Channel
	if err != nil {
		showPage(w, http.StatusBadRequest, pageData{Title: "This link is not valid",
			Text: "The unsubscribe link is damaged or incomplete, so nothing was changed. Try the link from the newest message."})
		return
	}
	if r.Method == http.MethodGet {
		showPage(w, http.StatusOK, pageData{Title: "Unsubscribe?",
			Text: "Press the button and we will not send you messages by " + channel + " any more.", Form: true})
		return
	}
	if err := s.Customers.SetConsent(r.Context(), cid, channel, false); err != nil {
		s.Logger.Error("unsubscribe failed", "channel", channel, "err", err)
		showPage(w, http.StatusServiceUnavailable, pageData{Title: "Please try again",
			Text: "We could not record your choice just now. Please try again in a minute."})
		return
	}
	showPage(w, http.StatusOK, pageData{Title: "You are unsubscribed",
		Text: "We will not send you messages by " + channel + " any more. Thank you for having been with us."})
}

func showPage(w http.ResponseWriter, status int, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	page.Execute(w, d)
}
