package app

import (
	"context"
	"fmt"
	"net/http"

	"github.com/rapporthq/rapport/client"
	"github.com/rapporthq/rapport/internal/inbound"
)

// newListening builds what hears back from the channels: the inbound SMTP server, the
// provider webhooks and the click redirect. The engine, built after it, unsubscribes
// customers who complain.
func (a *App) newListening() (*inbound.Service, error) {
	return inbound.NewService(a.files.Config, inbound.Parts{Store: a.store, Keys: a.links.Keys(),
		Intake: client.NewFromRedis(a.conn.rdb),
		Consent: inbound.ConsentFunc(func(ctx context.Context, id, channel string, subscribed bool) error {
			return a.eng.SetConsent(ctx, id, channel, subscribed)
		}), Count: a.in.Metrics.Feedback, Logger: a.log})
}

// withListening serves what comes back from the channels (the click redirect, provider
// webhooks) beside h.
func withListening(h http.Handler, s *inbound.Service) http.Handler {
	mux := http.NewServeMux()
	s.Routes(mux)
	mux.Handle("/", h)
	return mux
}

// startListening starts the inbound SMTP server of the api role, when configured.
func (a *App) startListening() error {
	if !a.roles.API || a.listen == nil {
		return nil
	}
	if err := a.listen.Start(); err != nil {
		return fmt.Errorf("start inbound smtp: %w", err)
	}
	return nil
}
