package api

import (
	"errors"
	"net/http"

	"github.com/rapporthq/rapport/internal/engine"
)

// topicConsent answers POST /v1/customers/{id}/consent with a topic: {"topic": "tips",
// "subscribed": false}. A body names a channel or a topic, not both.
func (s *server) topicConsent(w http.ResponseWriter, r *http.Request, channel, topic string, subscribed bool) {
	switch {
	case channel != "":
		s.fail(w, r, &badRequest{"topic", "name a channel or a topic, not both"})
		return
	case topic == "":
		s.fail(w, r, &badRequest{"channel", `is required (or "topic"): what the customer subscribes to or opts out of`})
		return
	}
	err := s.Customers.SetTopicConsent(r.Context(), r.PathValue("id"), topic, subscribed)
	if errors.Is(err, engine.ErrUnknownTopic) {
		s.fail(w, r, &badRequest{"topic", err.Error()})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"topic": topic, "subscribed": subscribed})
}
