package inbound

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/rapporthq/rapport/internal/inbound/providers"
	"github.com/rapporthq/rapport/internal/store"
)

// maxHookBody bounds a webhook request's body.
const maxHookBody = 1 << 20

// Hook returns the handler of POST /hooks/{channel} for an email channel whose events
// come from provider p. A request that fails verification is 401 and changes nothing;
// a verified one that cannot be read is 400; a failure to store is 503, so that the
// provider tries again; otherwise 200.
func (l *Listener) Hook(channel string, p providers.Provider) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxHookBody))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		evs, err := p.Events(r, body)
		switch {
		case errors.Is(err, providers.ErrUnverified):
			l.reject(channel, "a webhook request that does not verify")
			http.Error(w, "not verified", http.StatusUnauthorized)
			return
		case errors.Is(err, providers.ErrMalformed):
			l.reject(channel, err.Error())
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		case err != nil:
			l.cfg.Logger.Error("webhook", "channel", channel, "err", err)
			http.Error(w, "could not handle the request", http.StatusBadGateway)
			return
		}
		for _, e := range evs {
			if err := l.Provided(r.Context(), channel, e); err != nil {
				l.cfg.Logger.Error("webhook: apply", "channel", channel, "err", err)
				http.Error(w, "could not store the event; try again", http.StatusServiceUnavailable)
				return
			}
		}
		w.WriteHeader(http.StatusOK)
	})
}

// Provided applies one verified provider event of channel. The message is found by the
// ref its Message-ID carries; an event that names no message Rapport knows is still
// applied to the address when it is a hard bounce or a complaint, and counted rejected
// otherwise.
func (l *Listener) Provided(ctx context.Context, channel string, e providers.Event) error {
	f := feedback{id: digest("provider", channel, e.ID), channel: channel, kind: e.Kind, address: e.Address,
		status: e.Status, diagnostic: e.Diagnostic, url: e.URL}
	if id := MessageIDRef(e.MessageID); id != "" {
		ref, err := l.cfg.Store.LoadRef(ctx, id)
		switch {
		case err == nil && ref.Channel == channel:
			f.ref = &ref
		case err != nil && !errors.Is(err, store.ErrUnknownRef):
			return err
		}
	}
	if f.ref == nil && f.kind != KindBounceHard && f.kind != KindComplaint && f.kind != KindDelivered && f.kind != KindBounceSoft {
		l.reject(channel, "a provider event for a message Rapport does not know")
		return nil
	}
	return l.apply(ctx, f)
}
