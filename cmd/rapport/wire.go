package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/channels"
	_ "github.com/rapporthq/rapport/channels/email" // registers the smtp and outbox types
	"github.com/rapporthq/rapport/client"
	"github.com/rapporthq/rapport/config"
	"github.com/rapporthq/rapport/internal/api"
	"github.com/rapporthq/rapport/internal/duration"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/policy"
	"github.com/rapporthq/rapport/internal/queue"
	"github.com/rapporthq/rapport/internal/store"
	"github.com/rapporthq/rapport/internal/unsubscribe"
	"github.com/rapporthq/rapport/internal/yamlx"
	"github.com/rapporthq/rapport/templates"
	"github.com/rapporthq/rapport/workflows"
)

// loaded is everything the files define: config, templates, channels and journeys.
type loaded struct {
	cfg       *config.Config
	templates *templates.Set
	channels  channels.Set
	journeys  *workflows.Set
}

// load reads the config and what it points to, collecting every problem of every file.
func load(path string) (*loaded, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	var errs yamlx.Errors
	l := &loaded{cfg: cfg}
	if l.templates, err = templates.Load(cfg.Templates); err != nil {
		errs.Add(cfg.Templates, err)
	}
	if l.channels, err = cfg.BuildChannels(); err != nil {
		errs.Add(cfg.File, err)
	}
	opts := workflows.Options{Channel: func(name string) (channels.Kind, bool) {
		if c, ok := cfg.Channels[name]; ok {
			if t, ok := channels.Lookup(c.Type); ok {
				return t.Kind, true
			}
		}
		return "", false
	}}
	if l.templates != nil {
		opts.HasTemplate = l.templates.Has
	}
	if l.journeys, err = workflows.Load(cfg.Workflows, opts); err != nil {
		errs.Add(cfg.Workflows, err)
	}
	if err := errs.Err(); err != nil {
		l.channels.Close()
		return nil, err
	}
	return l, nil
}

func validate(path string, stdout, stderr io.Writer) int {
	l, err := load(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer l.channels.Close()
	fmt.Fprintf(stdout, "ok: %s: %s, %s, %s\n", l.cfg.File, count(len(l.journeys.All()), "journey"),
		count(len(l.templates.Names()), "template"), count(len(l.channels), "channel"))
	return 0
}

type roles struct{ worker, api bool }

// serve runs the worker, the HTTP API, or both, until ctx ends.
func serve(ctx context.Context, path string, r roles, log *slog.Logger) error {
	l, err := load(path)
	if err != nil {
		return err
	}
	defer l.channels.Close()
	cfg := l.cfg

	rdb, closeRedis, err := connectRedis(cfg.Redis.URL, r, log)
	if err != nil {
		return err
	}
	defer closeRedis()

	st := store.New(rdb)
	signer := unsubscribe.NewSigner(cfg.Secret, cfg.HTTP.BaseURL)
	policies, err := buildPolicies(cfg, st)
	if err != nil {
		return err
	}
	eng, err := engine.New(engine.Config{
		Store:          st,
		Scheduler:      queue.NewScheduler(rdb),
		Journeys:       l.journeys,
		Templates:      l.templates,
		Channels:       l.channels,
		Location:       cfg.Location(),
		Locale:         cfg.Defaults.Locale,
		UnsubscribeURL: signer.URL,
		Policies:       policies,
		Logger:         log,
	})
	if err != nil {
		return err
	}

	var worker *queue.Worker
	if r.worker {
		worker = queue.NewWorker(rdb, eng, queue.WorkerConfig{
			Concurrency:     cfg.Worker.Concurrency,
			ShutdownTimeout: time.Duration(cfg.Worker.ShutdownTimeout),
			PollInterval:    time.Duration(cfg.Worker.PollInterval),
			Logger:          log,
		})
		if err := worker.Start(); err != nil {
			return fmt.Errorf("start worker: %w", err)
		}
		log.Info("worker started", "journeys", len(l.journeys.All()), "channels", len(l.channels))
	}

	errc := make(chan error, 1)
	var srv *http.Server
	if r.api {
		intake := client.NewFromRedis(rdb)
		srv = &http.Server{
			Addr:              cfg.HTTP.Addr,
			ReadHeaderTimeout: 10 * time.Second,
			Handler: api.New(api.Options{
				Tokens:      cfg.HTTP.APITokens,
				Intake:      intake,
				Ready:       st.Ping,
				Logger:      log,
				Journeys:    func() []api.JourneyInfo { return journeyInfo(eng.Journeys()) },
				Customers:   eng,
				Unsubscribe: signer.Verify,
			}),
		}
		go func() { errc <- srv.ListenAndServe() }()
		log.Info("HTTP API listening", "addr", cfg.HTTP.Addr)
		if cfg.Redis.URL == "" {
			log.Info("try it: send an order, then look in the outbox folder (see README)",
				"example", `curl -H 'Authorization: Bearer TOKEN' `+cfg.HTTP.BaseURL+`/v1/events -d '{"type":"order.placed","customer_id":"c-1","customer":{"email":"anna@example.com","first_name":"Anna"},"data":{"order_id":"A-1","items":[{"name":"Ethiopia Guji","price":19.9}]}}'`)
		}
	}

	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err = <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	}
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		srv.Shutdown(sctx)
		cancel()
	}
	if worker != nil {
		worker.Shutdown()
	}
	return err
}

// buildPolicies makes the send pipeline's checks from the config: quiet hours first (a
// held message is checked again when it runs), then frequency caps.
func buildPolicies(cfg *config.Config, st *store.Store) ([]engine.Policy, error) {
	var out []engine.Policy
	if q := cfg.QuietHours; q != nil {
		qh, err := policy.NewQuietHours(q.Start, q.End, cfg.Location())
		if err != nil {
			return nil, err
		}
		out = append(out, qh)
	}
	if len(cfg.Caps) > 0 {
		limits := map[string]policy.Limit{}
		for name, c := range cfg.Caps {
			limits[name] = policy.Limit{Limit: c.Limit, Per: time.Duration(c.Per)}
		}
		out = append(out, policy.NewCaps(limits))
	}
	return out, nil
}

// connectRedis connects to the configured Redis, or starts the embedded in-process one
// when no URL is configured.
func connectRedis(url string, r roles, log *slog.Logger) (redis.UniversalClient, func(), error) {
	if url != "" {
		opt, err := redis.ParseURL(url)
		if err != nil {
			return nil, nil, fmt.Errorf("redis.url: %w", err)
		}
		rdb := redis.NewClient(opt)
		return rdb, func() { rdb.Close() }, nil
	}
	if !(r.worker && r.api) {
		return nil, nil, errors.New("the embedded Redis lives inside one process: `worker` and `api` alone need redis.url; use `serve`")
	}
	m := miniredis.NewMiniRedis()
	if err := m.Start(); err != nil {
		return nil, nil, fmt.Errorf("start embedded redis: %w", err)
	}
	log.Warn("EMBEDDED REDIS: no redis.url configured, so state lives in this process only. " +
		"Nothing survives a restart: pending steps, timers and profiles are lost. Set REDIS_URL for production.")
	stop := make(chan struct{})
	go func() { // miniredis keeps TTLs still unless told time passes
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				m.FastForward(time.Second)
			case <-stop:
				return
			}
		}
	}()
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	return rdb, func() { close(stop); rdb.Close(); m.Close() }, nil
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

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
