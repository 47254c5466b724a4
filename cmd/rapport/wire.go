package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/channels"
	_ "github.com/rapporthq/rapport/channels/email"    // registers the smtp and outbox types
	_ "github.com/rapporthq/rapport/channels/telegram" // registers the telegram type
	_ "github.com/rapporthq/rapport/channels/webhook"  // registers the webhook type
	_ "github.com/rapporthq/rapport/channels/whatsapp" // registers the whatsapp type
	"github.com/rapporthq/rapport/client"
	"github.com/rapporthq/rapport/config"
	"github.com/rapporthq/rapport/internal/api"
	"github.com/rapporthq/rapport/internal/backfill"
	"github.com/rapporthq/rapport/internal/dashboard"
	"github.com/rapporthq/rapport/internal/duration"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/journeystats"
	"github.com/rapporthq/rapport/internal/metrics"
	"github.com/rapporthq/rapport/internal/policy"
	"github.com/rapporthq/rapport/internal/queue"
	"github.com/rapporthq/rapport/internal/signing"
	"github.com/rapporthq/rapport/internal/stats"
	"github.com/rapporthq/rapport/internal/store"
	"github.com/rapporthq/rapport/internal/web"
	"github.com/rapporthq/rapport/internal/yamlx"
	"github.com/rapporthq/rapport/templates"
	"github.com/rapporthq/rapport/workflows"
)

// instruments are what the engine and the worker report to besides the send path:
// relationship statistics, each journey's counters and the Prometheus metrics. serve and
// bench wire them alike, so that the bench measures Rapport as it is served.
type instruments struct {
	stats    *stats.Recorder
	journeys *journeystats.Counters
	metrics  *metrics.Metrics
}

func newInstruments(rdb redis.UniversalClient, st *store.Store, log *slog.Logger) instruments {
	return instruments{stats: stats.New(rdb, st, stats.Options{Logger: log}), journeys: journeystats.New(rdb, log),
		metrics: metrics.New()}
}

func (in instruments) observer() engine.Observer {
	return engine.Observers{in.metrics, in.journeys, in.stats}
}

func (in instruments) middleware() []asynq.MiddlewareFunc {
	return []asynq.MiddlewareFunc{in.metrics.TaskTimer}
}

// start writes the counts the instruments add up in the process (journey counters,
// enrolment statistics) to Redis every second until stop, which writes them once more
// and returns when that is done.
func (in instruments) start() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { in.journeys.Run(ctx, time.Second) })
	wg.Go(func() { in.stats.Run(ctx, time.Second) })
	return func() {
		cancel()
		wg.Wait()
	}
}

// loaded is everything the files define: config, templates, channels and journeys.
type loaded struct {
	cfg       *config.Config
	templates *templates.Set
	channels  channels.Set
	journeys  *workflows.Set
}

// load reads the config and what it points to, collecting every problem of every file in
// one go, ordered by file and line: a problem of the config (an unset variable, a bad
// cap) does not hide those of its channels, journeys or templates.
func load(path string) (*loaded, error) {
	var errs yamlx.Errors
	cfg, err := config.Load(path)
	if cfg == nil {
		return nil, err
	}
	errs.Add(path, err)
	l := &loaded{cfg: cfg}
	if l.channels, err = cfg.BuildChannels(); err != nil {
		errs.Add(cfg.File, err)
	}
	l.templates, l.journeys, err = cfg.LoadFiles()
	errs.Add(cfg.File, err)
	if err := errs.Err(); err != nil {
		l.channels.Close()
		sort.SliceStable(errs, func(i, j int) bool {
			if errs[i].File != errs[j].File {
				return errs[i].File < errs[j].File
			}
			return errs[i].Line < errs[j].Line
		})
		return nil, errs
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

// HTTP server timeouts: a slow or stalled client cannot hold a connection for long.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 2 * time.Minute
)

// serve runs the worker, the HTTP API, or both, until ctx ends.
func serve(ctx context.Context, path string, r roles, log *slog.Logger) error {
	l, err := load(path)
	if err != nil {
		return err
	}
	cfg := l.cfg
	inForce := func() channels.Set { return l.channels }
	defer func() { inForce().Close() }() // the channels in force at the end

	redis.SetLogger(newRedisLogger(log, 5*time.Second))
	conn, err := connectRedis(cfg.Redis, r, log)
	if err != nil {
		return err
	}
	defer conn.close()
	rdb := conn.rdb

	var storeOpts []store.Option
	if cfg.Redis.Sentinel != nil {
		// A master with replicas: a hand-over, and every task before it is marked done,
		// waits for one, so that a failover cannot forget a message's hand-over and have
		// it sent again, nor forget a task's work and keep it done (store.WaitForReplicas,
		// queue.Fenced).
		storeOpts = append(storeOpts, store.WaitForReplicas(1, time.Second))
	}
	st := store.New(rdb, storeOpts...)
	links := newLinks(cfg)
	in := newInstruments(rdb, st, log)
	counters, stats, m := in.stats, in.journeys, in.metrics
	middleware := in.middleware()
	if cfg.Redis.Sentinel != nil {
		middleware = append(middleware, queue.Fenced(st.Fence)) // see storeOpts above
	}
	defer in.start()() // after the worker has stopped: its last counts too
	policies, err := policy.FromConfig(cfg)
	if err != nil {
		return err
	}
	shards := cfg.Worker.StepQueues
	if shards == 0 && len(cfg.Redis.Cluster) > 0 {
		shards = queue.DefaultClusterShards
	}
	m.WatchQueues(rdb)
	eng, err := engine.New(engine.Config{
		Store:          st,
		Scheduler:      queue.NewScheduler(rdb, queue.Shards(shards)),
		Journeys:       l.journeys,
		Templates:      l.templates,
		Channels:       l.channels,
		Location:       cfg.Location(),
		Locale:         cfg.Defaults.Locale,
		UnsubscribeURL: links.UnsubscribeURL,
		FeedbackURL:    links.FeedbackURL,
		Stats:          counters,
		Observer:       in.observer(),
		Policies:       policies,
		Logger:         log,
	})
	if err != nil {
		return err
	}
	inForce = func() channels.Set { return eng.Snapshot().Channels }
	rl := &reloader{path: path, eng: eng, running: l, log: log, ctx: ctx}
	if r.worker {
		rl.backfill = backfill.New(rdb, eng.ArmExisting, log, 0)
		rl.backfill.Start(ctx, l.journeys)
	}
	if err := rl.watch(ctx); err != nil {
		log.Warn("live reload is off: send SIGHUP or restart after edits", "err", err)
	}
	ops := api.Options{
		Ready:   st.Ping,
		Loaded:  func() bool { return len(eng.Journeys().All()) > 0 }, // no journey: nothing would ever be sent
		Metrics: m.Handler(),
		Logger:  log,
	}

	var worker *queue.Worker
	if r.worker {
		worker = queue.NewWorker(rdb, eng, queue.WorkerConfig{
			Concurrency:     cfg.Worker.Concurrency,
			ShutdownTimeout: time.Duration(cfg.Worker.ShutdownTimeout),
			PollInterval:    time.Duration(cfg.Worker.PollInterval),
			Logger:          log,
			Middleware:      middleware,
			Shards:          shards,
		})
		if err := worker.Start(); err != nil {
			return fmt.Errorf("start worker: %w", err)
		}
		log.Info("worker started", "journeys", len(l.journeys.All()), "channels", len(l.channels))
	}

	errc := make(chan error, 1)
	var srv *http.Server
	switch {
	case r.api:
		dash := dashboard.New(conn.dial, true)
		defer dash.Close()
		opts := ops
		opts.Tokens = cfg.HTTP.APITokens
		opts.Intake = client.NewFromRedis(rdb)
		opts.Journeys = func() []api.JourneyInfo { return journeyInfo(eng.Journeys()) }
		opts.Customers = erasing{Engine: eng, insp: asynq.NewInspectorFromRedisClient(rdb)}
		opts.Unsubscribe = links.VerifyUnsubscribe
		opts.Feedback = links.VerifyFeedback
		opts.Stats = counters
		opts.Monitoring = dash
		opts.EventResult = m.Event
		opts.JourneyStats = stats.Get
		pages := web.Options{Tokens: cfg.HTTP.APITokens, Files: func() (*workflows.Set, web.Renderer) {
			snap := eng.Snapshot() // what a live reload put in force
			if t, ok := snap.Templates.(web.Renderer); ok {
				return snap.Journeys, t
			}
			return snap.Journeys, l.templates
		}, Locale: cfg.Defaults.Locale, UnsubscribeURL: links.UnsubscribeURL, Logger: log,
			FeedbackURL: links.FeedbackURL, Stats: counters}
		srv = newHTTPServer(cfg.HTTP.Addr, withPages(api.New(opts), pages))
		log.Info("HTTP API listening", "addr", cfg.HTTP.Addr, "dashboard", cfg.HTTP.BaseURL+dashboard.Root+"/")
		if cfg.Redis.Embedded() {
			log.Info("try it: send an order, then look in the outbox folder (see README)",
				"example", `curl -H 'Authorization: Bearer TOKEN' `+cfg.HTTP.BaseURL+`/v1/events -d '{"type":"order.placed","customer_id":"c-1","customer":{"email":"anna@example.com","first_name":"Anna"},"data":{"order_id":"A-1","items":[{"name":"Ethiopia Guji","price":19.9}]}}'`)
		}
	case cfg.Worker.MetricsAddr != "":
		srv = newHTTPServer(cfg.Worker.MetricsAddr, api.Ops(ops))
		log.Info("worker metrics listening", "addr", cfg.Worker.MetricsAddr)
	}
	if srv != nil {
		go func() { errc <- srv.ListenAndServe() }()
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

// erasing is the engine as the customer endpoints use it, its erasure reaching the
// customer's events that failed for good too (see queue.ForgetArchived).
type erasing struct {
	*engine.Engine
	insp *asynq.Inspector
}

func (e erasing) Forget(ctx context.Context, id string) error {
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

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// newLinks signs the public links with the config's secret, and verifies them with it and
// the previous secrets.
func newLinks(cfg *config.Config) *signing.Links {
	return signing.NewLinks(signing.NewKeys(cfg.Secret, cfg.PreviousSecrets...), cfg.HTTP.BaseURL)
}
