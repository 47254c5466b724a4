package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/hibiken/asynq"

	"github.com/rapporthq/rapport/client"
	"github.com/rapporthq/rapport/internal/api"
	"github.com/rapporthq/rapport/internal/dashboard"
	"github.com/rapporthq/rapport/internal/duration"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/messenger"
	"github.com/rapporthq/rapport/internal/queue"
	"github.com/rapporthq/rapport/internal/signing"
	"github.com/rapporthq/rapport/internal/web"
	"github.com/rapporthq/rapport/workflows"
)

// HTTP server timeouts: a slow or stalled client cannot hold a connection for long.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 2 * time.Minute
)

// newHTTP returns the HTTP server of the roles: the API, the pages and the dashboard on
// http.addr with the api role; else the worker's /metrics, /healthz and /readyz on
// worker.metrics_addr when set; else none. The dashboard is returned to be closed.
func (a *App) newHTTP() (*http.Server, io.Closer) {
	cfg := a.files.Config
	switch {
	case a.roles.API:
		dash := dashboard.New(a.conn.dial, true)
		csp := map[string]string{dashboard.Root + "/": dashboard.CSP(dash)}
		h := withPages(withListening(api.New(a.apiOptions(dash)), a.listen), a.pageOptions(), csp)
		return newHTTPServer(cfg.HTTP.Addr, h), dash
	case cfg.Worker.MetricsAddr != "":
		return newHTTPServer(cfg.Worker.MetricsAddr, api.Ops(a.opsOptions())), nil
	}
	return nil, nil
}

// opsOptions are what every HTTP server of Rapport serves: health, readiness, metrics.
func (a *App) opsOptions() api.Options {
	return api.Options{
		Ready:   a.store.Ping,
		Loaded:  func() bool { return len(a.eng.Journeys().All()) > 0 }, // no journey: nothing would ever be sent
		Metrics: a.in.Metrics.Handler(),
		Logger:  a.log,
	}
}

func (a *App) apiOptions(dash http.Handler) api.Options {
	cfg, rdb := a.files.Config, a.conn.rdb
	opts := a.opsOptions()
	opts.Tokens = cfg.HTTP.APITokens
	opts.Intake = client.NewFromRedis(rdb)
	opts.Journeys = func() []api.JourneyInfo { return journeyInfo(a.eng.Journeys()) }
	opts.Customers = erasing{Engine: a.eng, insp: asynq.NewInspectorFromRedisClient(rdb), chat: a.chat}
	opts.Link = a.chat.Link
	opts.Hooks = http.HandlerFunc(a.chat.ServeHook)
	opts.Unsubscribe = a.links.VerifyUnsubscribe
	opts.Feedback = a.links.VerifyFeedback
	opts.Preferences = func(token string) (signing.Link, error) { return a.links.Verify(signing.Preferences, token) }
	opts.PreferenceCentre = a.eng
	opts.Stats = a.in.Stats
	opts.Monitoring = dash
	opts.BaseURL = cfg.HTTP.BaseURL
	opts.Observer = a.in.Observer()
	opts.JourneyStats = a.in.Journeys.Get
	return opts
}

func (a *App) pageOptions() web.Options {
	cfg := a.files.Config
	return web.Options{Tokens: cfg.HTTP.APITokens, Files: func() (*workflows.Set, web.Renderer) {
		snap := a.eng.Snapshot() // what a live reload put in force
		if t, ok := snap.Templates.(web.Renderer); ok {
			return snap.Journeys, t
		}
		return snap.Journeys, a.files.Templates
	}, Locale: cfg.Defaults.Locale, UnsubscribeURL: a.links.UnsubscribeURL, Logger: a.log,
		FeedbackURL: a.links.FeedbackURL, Stats: a.in.Stats, Channels: a.inForce}
}

// announce logs where the server listens, and with the embedded Redis how to try it.
func (a *App) announce() {
	cfg := a.files.Config
	if !a.roles.API {
		a.log.Info("worker metrics listening", "addr", cfg.Worker.MetricsAddr)
		return
	}
	a.log.Info("HTTP API listening", "addr", cfg.HTTP.Addr, "dashboard", cfg.HTTP.BaseURL+dashboard.Root+"/")
	if cfg.Redis.Embedded() {
		a.log.Info("try it: send an order, then look in the outbox folder (see README)",
			"example", `curl -H 'Authorization: Bearer TOKEN' `+cfg.HTTP.BaseURL+`/v1/events -d '{"type":"order.placed","customer_id":"c-1","customer":{"email":"anna@example.com","first_name":"Anna"},"data":{"order_id":"A-1","items":[{"name":"Ethiopia Guji","price":19.9}]}}'`)
	}
}

// withPages serves the pages for people (/preview/, /stats/) beside the API handler, and
// sends the security headers (web.SecurityHeaders) with every answer of either, under the
// Content-Security-Policy of csp's longest matching path prefix.
func withPages(apiHandler http.Handler, opts web.Options, csp map[string]string) http.Handler {
	mux := http.NewServeMux()
	pages := web.Handler(opts)
	mux.Handle("/preview/", pages)
	mux.Handle("/stats/", pages)
	mux.Handle("/", apiHandler)
	return web.SecurityHeaders(mux, csp)
}

// erasing is the engine as the customer endpoints use it, its erasure reaching the
// customer's events that failed for good too (see queue.ForgetArchived).
type erasing struct {
	*engine.Engine
	insp *asynq.Inspector
	chat *messenger.Listener
}

// Forget erases what listening keeps of the customer (it reads their profile and
// history), the customer, and then the events of theirs that failed for good.
func (e erasing) Forget(ctx context.Context, id string) error {
	if err := e.chat.Forget(ctx, id); err != nil {
		return err
	}
	if err := e.Engine.Forget(ctx, id); err != nil {
		return err
	}
	_, err := queue.ForgetArchived(ctx, e.insp, id)
	return err
}

func newHTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
	}
}

func journeyInfo(set *workflows.Set) []api.JourneyInfo {
	var out []api.JourneyInfo
	for _, j := range set.All() {
		trigger := string(j.Trigger.Kind)
		switch j.Trigger.Kind {
		case workflows.TriggerEvent:
			trigger = "event " + j.Trigger.Event
		case workflows.TriggerDate:
			trigger = fmt.Sprintf("date customer.%s at %02d:%02d", j.Trigger.DateAttr, j.Trigger.AtHour, j.Trigger.AtMinute)
			if j.Trigger.AtSecond != 0 {
				trigger += fmt.Sprintf(":%02d", j.Trigger.AtSecond)
			}
		case workflows.TriggerInactivity:
			trigger = fmt.Sprintf("inactivity %s after %s", j.Trigger.Event, duration.Format(j.Trigger.After))
		}
		out = append(out, api.JourneyInfo{ID: j.ID, Name: j.Name, Trigger: trigger, Steps: len(j.Steps)})
	}
	return out
}
