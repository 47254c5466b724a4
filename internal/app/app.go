package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/config"
	"github.com/rapporthq/rapport/internal/backfill"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/inbound"
	"github.com/rapporthq/rapport/internal/messenger"
	"github.com/rapporthq/rapport/internal/queue"
	"github.com/rapporthq/rapport/internal/signing"
	"github.com/rapporthq/rapport/internal/stats"
	"github.com/rapporthq/rapport/internal/store"
	"github.com/rapporthq/rapport/workflows"
)

// Roles are the parts of Rapport a process runs: `serve` runs both, `worker` and `api`
// one each.
type Roles struct {
	// Worker processes events, steps and timers, and backfills new journeys.
	Worker bool
	// API serves the HTTP API, the pages for people and the dashboard.
	API bool
}

// App is one Rapport process: built by New, run by Start until Shutdown. Run does all
// three.
type App struct {
	path  string
	roles Roles
	log   *slog.Logger
	files *Loaded
	conn  *redisConn
	store *store.Store
	in    Instruments
	links *signing.Links // the URLs messages carry and the API verifies
	eng   *engine.Engine
	// listen hears back from the channels: bounces, complaints, replies, clicks.
	listen *inbound.Service
	// listen hears the messengers: hooks, start links, polling, the WhatsApp window.
	chat        *messenger.Listener
	stopPolling func()

	worker *queue.Worker // nil without the worker role
	srv    *http.Server  // nil when nothing serves HTTP
	dash   io.Closer     // nil without the api role

	cancel          context.CancelFunc // ends reload watching and backfills
	stopInstruments func()
	errc            chan error // the HTTP server failing while it runs
}

// NewLinks signs the public links with the config's secret, and verifies them with it and
// the previous secrets.
func NewLinks(cfg *config.Config) *signing.Links {
	return signing.NewLinks(signing.NewKeys(cfg.Secret, cfg.PreviousSecrets...), cfg.HTTP.BaseURL)
}

// httpShutdownTimeout bounds how long Shutdown waits for HTTP requests under way.
const httpShutdownTimeout = 5 * time.Second

// New loads the config at path and the files it names, connects to Redis (or starts the
// embedded one) and builds what roles ask for, starting nothing yet. A problem in the
// files comes back as yamlx.Errors with every problem of every file.
func New(path string, roles Roles, log *slog.Logger) (*App, error) {
	l, err := Load(path)
	if err != nil {
		return nil, err
	}
	a := &App{path: path, roles: roles, log: log, files: l, errc: make(chan error, 1)}
	if err := a.build(); err != nil {
		return nil, errors.Join(err, a.close())
	}
	return a, nil
}

// build makes the parts in the order they depend on each other.
func (a *App) build() error {
	cfg := a.files.Config
	redis.SetLogger(NewRedisLogger(a.log, 5*time.Second))
	conn, err := connectRedis(cfg.Redis, a.roles, a.log)
	if err != nil {
		return err
	}
	a.conn = conn
	a.store = newStore(conn.rdb, cfg)
	// A newer layout is not ours to touch; an older one needs `rapport migrate` first.
	if err := a.store.CheckSchema(context.Background()); err != nil {
		return err
	}
	a.in = NewInstruments(conn.rdb, a.store, a.log, stats.Options{
		AttributionWindow: time.Duration(cfg.Attribution.Window), Journeys: a.journeysInForce})
	a.in.Metrics.WatchQueues(conn.rdb)
	a.links = NewLinks(cfg)
	if a.listen, err = a.newListening(); err != nil {
		return err
	}
	a.chat = a.newListener()
	if a.eng, err = a.newEngine(); err != nil {
		return err
	}
	if a.roles.Worker {
		a.worker = a.newWorker()
	}
	a.srv, a.dash = a.newHTTP()
	return nil
}

// newStore returns the store on rdb. With a master and replicas (Sentinel) a hand-over,
// and every task before it is marked done, waits for one replica, so that a failover
// cannot forget a message's hand-over and have it sent again, nor forget a task's work
// and keep it done (store.WaitForReplicas, queue.Fenced in newWorker).
func newStore(rdb redis.UniversalClient, cfg *config.Config) *store.Store {
	var opts []store.Option
	if cfg.Redis.Sentinel != nil {
		opts = append(opts, store.WaitForReplicas(1, time.Second))
	}
	return store.New(rdb, opts...)
}

// stepQueues is how many queues steps and timers are spread over.
func stepQueues(cfg *config.Config) int {
	if cfg.Worker.StepQueues == 0 && len(cfg.Redis.Cluster) > 0 {
		return queue.DefaultClusterShards
	}
	return cfg.Worker.StepQueues
}

func (a *App) newEngine() (*engine.Engine, error) {
	cfg, l := a.files.Config, a.files
	tiers, err := cfg.TierRules()
	if err != nil {
		return nil, err
	}
	return engine.New(engine.Config{
		Tiers:       tiers,
		Topics:      cfg.TopicNames(),
		TopicTitles: cfg.TopicTitles(),
		PreferencesURL: func(cid, channel string) string {
			u, err := a.links.URL(signing.Link{Purpose: signing.Preferences, CustomerID: cid, Channel: channel})
			if err != nil {
				return "" // a link must name the customer; a message without one has none
			}
			return u
		},
		Store:          a.store,
		Scheduler:      queue.NewScheduler(a.conn.rdb, queue.Shards(stepQueues(cfg))),
		Journeys:       l.Journeys,
		Templates:      l.Templates,
		Channels:       l.Channels,
		Location:       cfg.Location(),
		Locale:         cfg.Defaults.Locale,
		UnsubscribeURL: a.links.UnsubscribeURL,
		FeedbackURL:    a.links.FeedbackURL,
		Stats:          a.in.Stats,
		Winners:        a.in.Stats,
		Observer:       engine.Observers{a.in.Observer(), a.chat},
		FreeForm:       a.chat.FreeForm,
		Policies:       l.Policies,
		Backlog:        queue.NewEventBacklog(a.conn.rdb),
		Logger:         a.log,
		Return:         a.listen.Return,
		ClickURL:       a.listen.EngineClickURL(),
	})
}

// journeysInForce is the journeys the engine runs, for the statistics' experiments; none
// before the engine is built.
func (a *App) journeysInForce() *workflows.Set {
	if a.eng == nil {
		return nil
	}
	return a.eng.Journeys()
}

func (a *App) newWorker() *queue.Worker {
	cfg := a.files.Config
	middleware := a.in.Middleware()
	if cfg.Redis.Sentinel != nil {
		middleware = append(middleware, queue.Fenced(a.store.Fence)) // see newStore
	}
	return queue.NewWorker(a.conn.rdb, a.eng, queue.WorkerConfig{
		Concurrency:     cfg.Worker.Concurrency,
		ShutdownTimeout: time.Duration(cfg.Worker.ShutdownTimeout),
		PollInterval:    time.Duration(cfg.Worker.PollInterval),
		Logger:          a.log,
		Middleware:      middleware,
		Shards:          stepQueues(cfg),
	})
}

// Start starts the instruments, live reload, the backfills and the worker, and listens
// for HTTP. It returns once all run; an error means one could not start, and Shutdown
// then stops those that did.
func (a *App) Start(ctx context.Context) error {
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.cancel = cancel
	a.stopInstruments = a.in.Start()
	rl := &reloader{path: a.path, eng: a.eng, running: a.files, log: a.log, ctx: runCtx}
	if a.roles.Worker {
		rl.backfill = backfill.New(a.conn.rdb, a.eng.ArmExisting, a.log, 0)
		rl.backfill.Start(runCtx, a.files.Journeys)
	}
	if err := rl.watch(runCtx); err != nil {
		a.log.Warn("live reload is off: send SIGHUP or restart after edits", "err", err)
	}
	if a.worker != nil {
		if err := a.worker.Start(); err != nil {
			return fmt.Errorf("start worker: %w", err)
		}
		a.log.Info("worker started", "journeys", len(a.files.Journeys.All()), "channels", len(a.files.Channels))
		a.stopPolling = startPolling(runCtx, a.chat, a.files.Channels, a.conn.rdb, a.log)
	}
	if err := a.startListening(); err != nil {
		return err
	}
	if a.srv == nil {
		return nil
	}
	ln, err := net.Listen("tcp", a.srv.Addr)
	if err != nil {
		return err
	}
	a.announce()
	go func() {
		if err := a.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			a.errc <- err
		}
	}()
	return nil
}

// Err reports an error that stops the App while it runs: the HTTP server failing.
func (a *App) Err() <-chan error { return a.errc }

// Shutdown stops taking requests and tasks, waits for those under way within ctx (and
// each part's own bound), writes the last counts and closes the channels and Redis. It
// returns every error of the way.
func (a *App) Shutdown(ctx context.Context) error {
	if a.cancel != nil {
		a.cancel()
	}
	var errs []error
	if a.listen != nil {
		errs = append(errs, a.listen.Shutdown(ctx))
	}
	if a.srv != nil {
		errs = append(errs, a.stopHTTP(ctx))
	}
	if a.worker != nil {
		errs = append(errs, a.stopWorker(ctx))
	}
	if a.stopPolling != nil {
		a.stopPolling() // lets go of the bots' leases
	}
	if a.stopInstruments != nil {
		a.stopInstruments() // after the worker: its last counts too
	}
	return errors.Join(append(errs, a.close())...)
}

func (a *App) stopHTTP(ctx context.Context) error {
	hctx, cancel := context.WithTimeout(ctx, httpShutdownTimeout)
	defer cancel()
	if err := a.srv.Shutdown(hctx); err != nil {
		return errors.Join(fmt.Errorf("stop HTTP server: %w", err), a.srv.Close())
	}
	return nil
}

// stopWorker waits for the worker, which returns unfinished tasks to the queue after
// worker.shutdown_timeout, for no longer than ctx allows.
func (a *App) stopWorker(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		a.worker.Shutdown()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop worker: %w", ctx.Err())
	}
}

// inForce is the set of channels in force: those loaded, or what a live reload put in
// force since.
func (a *App) inForce() channels.Set {
	if a.eng != nil {
		return a.eng.Snapshot().Channels
	}
	return a.files.Channels
}

// close releases the dashboard, the channels in force and Redis.
func (a *App) close() error {
	var errs []error
	if a.dash != nil {
		errs = append(errs, a.dash.Close())
	}
	errs = append(errs, a.inForce().Close())
	if a.conn != nil {
		errs = append(errs, a.conn.close())
	}
	return errors.Join(errs...)
}

// Run starts the App and runs it until ctx ends or it fails, then shuts it down within
// the HTTP and worker shutdown bounds.
func (a *App) Run(ctx context.Context) error {
	err := a.Start(ctx)
	if err == nil {
		select {
		case <-ctx.Done():
			a.log.Info("shutting down")
		case err = <-a.errc:
		}
	}
	bound := httpShutdownTimeout + time.Duration(a.files.Config.Worker.ShutdownTimeout) + 5*time.Second
	sctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	return errors.Join(err, a.Shutdown(sctx))
}
