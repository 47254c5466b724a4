package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/messenger"
)

// Linker makes a customer's start link on a messenger channel; (*messenger.Listener).Link
// is one. An error wrapping messenger.ErrUnknownChannel is a 404, one wrapping
// messenger.ErrNotLinkable a 400.
type Linker func(ctx context.Context, customerID, channel string) (string, error)

// messengerRoutes serves GET /v1/customers/{id}/channels/{channel}/link and the hooks.
func (s *server) messengerRoutes(mux *http.ServeMux) {
	if s.Link != nil {
		mux.Handle("GET /v1/customers/{id}/channels/{channel}/link", s.auth(http.HandlerFunc(s.link)))
	}
	if s.Hooks != nil {
		mux.Handle("/hooks/{channel}", s.Hooks)
	}
}

func (s *server) link(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ev := event.Event{Type: "channel.link", CustomerID: id}
	if err := ev.Validate(); err != nil || strings.ContainsAny(id, "{}") {
		s.fail(w, r, &badRequest{"id", "must be 1 to 200 characters, without { or }"})
		return
	}
	url, err := s.Link(r.Context(), id, r.PathValue("channel"))
	switch {
	case errors.Is(err, messenger.ErrUnknownChannel):
		writeError(w, http.StatusNotFound, err.Error(), "channel")
	case errors.Is(err, messenger.ErrNotLinkable):
		s.fail(w, r, &badRequest{"channel", err.Error()})
	case err != nil:
		s.fail(w, r, err)
	default:
		writeJSON(w, http.StatusOK, map[string]string{"url": url})
	}
}
