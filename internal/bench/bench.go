package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/channels/email"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/queue"
	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/smtptest"
	"github.com/rapporthq/rapport/internal/store"
	"github.com/rapporthq/rapport/templates"
	"github.com/rapporthq/rapport/workflows"
)

// Sections are the parts of a run, in the order they run.
var Sections = []string{"ingest", "delivery", "memory", "lateness", "experiment"}

// Config sizes a run. Zero values take the defaults in brackets.
type Config struct {
	// RedisURL is a Redis to measure on; its database must be empty, since the run
	// flushes it between measurements. Empty: a private redis-server on a free port.
	RedisURL string
	// Templates is the folder holding the shipped thank-you template ["templates"].
	Templates string
	// Reps is how many times each figure is measured; the median is reported [3].
	Reps int
	// Events is how many events each ingest measurement sends [5000].
	Events int
	// Emails is how many emails each delivery measurement sends [5000].
	Emails int
	// Pending is how many pending steps and timers the memory measurement keeps [10000].
	Pending int
	// Due is how many steps fall due within one second in the lateness measurement [20000].
	Due int
	// PollInterval is the workers' poll interval, Rapport's and bare asynq's [1s].
	PollInterval time.Duration
	// Concurrency is the workers' concurrency [64]; Pool the SMTP connections [32].
	Concurrency, Pool int
	// Only runs these sections (see Sections); empty runs all.
	Only []string
	// Instrument, when set, gives each engine and worker what `rapport serve` hangs on
	// them besides the send path (relationship statistics, journey counters, metrics),
	// so that the run measures Rapport as it is served. Nil leaves them out.
	Instrument func(rdb redis.UniversalClient, st *store.Store) Instruments
	// Progress receives a line per measurement; nil discards them.
	Progress io.Writer
}

func (c *Config) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Reps, 3)
	def(&c.Events, 5000)
	def(&c.Emails, 5000)
	def(&c.Pending, 10000)
	def(&c.Due, 20000)
	def(&c.Concurrency, 64)
	def(&c.Pool, 32)
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.Templates == "" {
		c.Templates = "templates"
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
}

func (c *Config) runs(section string) bool {
	return len(c.Only) == 0 || slices.Contains(c.Only, section)
}

// Instruments are what an engine and its worker report to besides the send path.
type Instruments struct {
	Stats      engine.Stats
	Observer   engine.Observer
	Middleware []asynq.MiddlewareFunc
}

// Result is a run's figures; it is what `rapport bench --json` prints.
type Result struct {
	Config   Settings  `json:"config"`
	Ingest   *Ingest   `json:"ingest,omitempty"`
	Delivery *Delivery `json:"delivery,omitempty"`
	Memory   *Memory   `json:"memory,omitempty"`
	Lateness *Lateness `json:"lateness,omitempty"`
	// Experiment compares a journey with a split and a holdout against without.
	Experiment *Experiment `json:"experiment,omitempty"`
}

// Settings records what the run measured with.
type Settings struct {
	Reps           int    `json:"reps"`
	Events         int    `json:"events"`
	Emails         int    `json:"emails"`
	Pending        int    `json:"pending"`
	Due            int    `json:"due"`
	PollIntervalMS int64  `json:"poll_interval_ms"`
	Concurrency    int    `json:"concurrency"`
	Pool           int    `json:"pool"`
	Redis          string `json:"redis"`
	CPUs           int    `json:"cpus"`
}

// Pair is one figure for Rapport and for the bare stack. Ratio is Rapport/Bare for rates
// (higher is better) and for sizes (lower is better) alike.
type Pair struct {
	Rapport float64 `json:"rapport"`
	Bare    float64 `json:"bare"`
	Ratio   float64 `json:"ratio"`
}

func pair(rapport, bare []float64) Pair {
	p := Pair{Rapport: median(rapport), Bare: median(bare)}
	if p.Bare != 0 {
		p.Ratio = round(p.Rapport/p.Bare, 3)
	}
	p.Rapport, p.Bare = round(p.Rapport, 1), round(p.Bare, 1)
	return p
}

// Run measures what cfg asks for and returns the medians. It starts and stops everything
// it needs; ctx cancels it between measurements.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg.defaults()
	for _, s := range cfg.Only {
		if !slices.Contains(Sections, s) {
			return nil, fmt.Errorf("unknown section %q (known: %s)", s, strings.Join(Sections, ", "))
		}
	}
	st, err := newStack(cfg)
	if err != nil {
		return nil, err
	}
	defer st.close()
	res := &Result{Config: Settings{Reps: cfg.Reps, Events: cfg.Events, Emails: cfg.Emails, Pending: cfg.Pending,
		Due: cfg.Due, PollIntervalMS: cfg.PollInterval.Milliseconds(), Concurrency: cfg.Concurrency, Pool: cfg.Pool,
		Redis: st.version, CPUs: numCPU()}}
	steps := []struct {
		name string
		run  func(context.Context, *stack) error
	}{
		{"ingest", func(ctx context.Context, st *stack) (err error) { res.Ingest, err = runIngest(ctx, st); return }},
		{"delivery", func(ctx context.Context, st *stack) (err error) { res.Delivery, err = runDelivery(ctx, st); return }},
		{"memory", func(ctx context.Context, st *stack) (err error) { res.Memory, err = runMemory(ctx, st); return }},
		{"lateness", func(ctx context.Context, st *stack) (err error) { res.Lateness, err = runLateness(ctx, st); return }},
		{"experiment", func(ctx context.Context, st *stack) (err error) { res.Experiment, err = runExperiment(ctx, st); return }},
	}
	for _, s := range steps {
		if !cfg.runs(s.name) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := s.run(ctx, st); err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return res, nil
}

// stack is what every measurement shares: Redis, the SMTP sink, one go-mail pool into it
// and the parsed templates.
type stack struct {
	cfg     Config
	rdb     *redis.Client
	sink    *smtptest.Server
	smtp    *email.SMTP
	tmpl    *templates.Set
	version string
	inst    Instruments // what every engine and worker reports to (Config.Instrument)
	trips   tripCounter
	closers []func()
}

func newStack(cfg Config) (_ *stack, err error) {
	st := &stack{cfg: cfg}
	defer func() {
		if err != nil {
			st.close()
		}
	}()
	if st.tmpl, err = templates.Load(cfg.Templates); err != nil {
		return nil, fmt.Errorf("templates (run from the repository root or pass --templates): %w", err)
	}
	opt := &redis.Options{}
	if cfg.RedisURL == "" {
		dir, err := os.MkdirTemp("", "rapport-bench-")
		if err != nil {
			return nil, err
		}
		st.closers = append(st.closers, func() { os.RemoveAll(dir) })
		srv, err := redistest.Launch(dir)
		if err != nil {
			return nil, err
		}
		st.closers = append(st.closers, srv.Kill)
		opt.Addr = srv.Addr
	} else if opt, err = redis.ParseURL(cfg.RedisURL); err != nil {
		return nil, fmt.Errorf("--redis: %w", err)
	}
	opt.PoolSize = 2 * cfg.Concurrency
	st.rdb = redis.NewClient(opt)
	st.rdb.AddHook(&st.trips)
	st.closers = append(st.closers, func() { st.rdb.Close() })
	ctx := context.Background()
	n, err := st.rdb.DBSize(ctx).Result()
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	if n != 0 {
		return nil, fmt.Errorf("redis database holds %d keys: the bench flushes its database between measurements, so give it an empty one (e.g. redis://HOST:6379/15)", n)
	}
	st.version = infoString(ctx, st.rdb, "server", "redis_version")
	if cfg.Instrument != nil {
		st.inst = cfg.Instrument(st.rdb, store.New(st.rdb))
	}
	if st.sink, err = smtptest.New(smtptest.WithoutKeeping()); err != nil {
		return nil, fmt.Errorf("smtp sink: %w", err)
	}
	st.closers = append(st.closers, st.sink.Close)
	st.smtp, err = email.NewSMTP(email.SMTPConfig{Host: st.sink.Host, Port: st.sink.Port, TLS: "none",
		From: "Shop <hello@shop.example>", Pool: cfg.Pool})
	if err != nil {
		return nil, err
	}
	st.closers = append(st.closers, func() { st.smtp.Close() })
	return st, nil
}

func (st *stack) close() {
	for i := len(st.closers) - 1; i >= 0; i-- {
		st.closers[i]()
	}
}

func (st *stack) logf(format string, args ...any) { fmt.Fprintf(st.cfg.Progress, format+"\n", args...) }

// flush empties the database between measurements.
func (st *stack) flush(ctx context.Context) error { return st.rdb.FlushDB(ctx).Err() }

// emailChannels is the SMTP pool as the engine's only channel, optionally wrapped.
func (st *stack) emailChannels(ch channels.Channel) channels.Set {
	if ch == nil {
		ch = st.smtp
	}
	return channels.Set{"email": {Name: "email", Type: channels.Type{Name: "smtp", Kind: channels.KindEmail, AddressKey: "email"}, Channel: ch}}
}

// engine builds Rapport's engine on the stack's Redis with the given journey and clock
// (nil: the system clock), scheduling on asynq, as `rapport serve` does.
func (st *stack) engine(journey string, chans channels.Set, clock engine.Clock) (*engine.Engine, error) {
	j, err := workflows.LoadFile("bench.yaml", []byte(journey), workflows.Options{HasTemplate: st.tmpl.Has})
	if err != nil {
		return nil, err
	}
	set, err := workflows.NewSet([]*workflows.Journey{j})
	if err != nil {
		return nil, err
	}
	return engine.New(engine.Config{
		Store: store.New(st.rdb), Scheduler: queue.NewScheduler(st.rdb), Journeys: set, Templates: st.tmpl,
		Channels: chans, Clock: clock, Logger: quiet, Stats: st.inst.Stats, Observer: st.inst.Observer,
		UnsubscribeURL: func(cid, ch string) string { return "https://rapport.example/unsubscribe/" + ch + "/" + cid },
	})
}

// worker is Rapport's asynq worker for eng, sized like the bare server.
func (st *stack) worker(eng *engine.Engine) *queue.Worker {
	return queue.NewWorker(st.rdb, eng, queue.WorkerConfig{Concurrency: st.cfg.Concurrency,
		PollInterval: st.cfg.PollInterval, Logger: quiet, Middleware: st.inst.Middleware})
}

// waitSink waits until the sink has counted want messages, or gives up after a minute
// without progress.
func (st *stack) waitSink(ctx context.Context, want int) error {
	last, lastAt := st.sink.Count(), time.Now()
	for {
		n := st.sink.Count()
		if n >= want {
			return nil
		}
		if n != last {
			last, lastAt = n, time.Now()
		}
		if time.Since(lastAt) > time.Minute {
			return fmt.Errorf("stuck at %d of %d emails", n, want)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

var quiet = slog.New(slog.DiscardHandler)

// produce calls send for 0..n-1 from workers goroutines, as a busy shop backend would, and
// returns the first error.
func produce(n, workers int, send func(i int) error) error {
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	jobs := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := send(i); err != nil {
					once.Do(func() { first = err })
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return first
}

// alternate runs rapport and bare reps times each, taking turns and swapping which goes
// first every repetition, on a flushed database each time.
func alternate(ctx context.Context, st *stack, reps int, rapport, bare func(rep int) error) error {
	for rep := 0; rep < reps; rep++ {
		order := []func(int) error{rapport, bare}
		if rep%2 == 1 {
			order[0], order[1] = bare, rapport
		}
		for _, f := range order {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := st.flush(ctx); err != nil {
				return err
			}
			if err := f(rep); err != nil {
				return err
			}
		}
	}
	return st.flush(ctx)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func round(v float64, places int) float64 {
	p := 1.0
	for i := 0; i < places; i++ {
		p *= 10
	}
	if v < 0 {
		return -float64(int64(-v*p+0.5)) / p
	}
	return float64(int64(v*p+0.5)) / p
}

// infoField reads one numeric field of Redis INFO.
func infoField(ctx context.Context, rdb *redis.Client, section, field string) (float64, error) {
	v := infoString(ctx, rdb, section, field)
	if v == "" {
		return 0, fmt.Errorf("no %s in redis INFO %s", field, section)
	}
	return strconv.ParseFloat(v, 64)
}

func infoString(ctx context.Context, rdb *redis.Client, section, field string) string {
	info, err := rdb.Info(ctx, section).Result()
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// tripCounter counts the requests this process sends to Redis: a command, a pipeline or
// a script run is one round trip each.
type tripCounter struct{ n atomic.Int64 }

// DialHook leaves dialling alone.
func (c *tripCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook counts one command.
func (c *tripCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook counts one pipeline or transaction.
func (c *tripCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmds)
	}
}

// meter reads the counters a measurement reports per message: Go CPU of this process,
// Redis CPU, Redis commands (those scripts run included) and round trips.
type meter struct {
	goCPU, redisCPU, calls, trips float64
}

func (st *stack) meter(ctx context.Context) (meter, error) {
	m, err := readMeter(ctx, st.rdb)
	m.trips = float64(st.trips.n.Load())
	return m, err
}

func readMeter(ctx context.Context, rdb *redis.Client) (meter, error) {
	var m meter
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return m, err
	}
	m.goCPU = tv(ru.Utime) + tv(ru.Stime)
	user, err1 := infoField(ctx, rdb, "cpu", "used_cpu_user")
	sys, err2 := infoField(ctx, rdb, "cpu", "used_cpu_sys")
	calls, err3 := infoField(ctx, rdb, "stats", "total_commands_processed")
	m.redisCPU, m.calls = user+sys, calls
	return m, errors.Join(err1, err2, err3)
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// per is what happened between m and later, per message: µs of Go CPU, µs of Redis CPU,
// Redis commands and round trips.
func (m meter) per(later meter, n int) (goUS, redisUS, calls, trips float64) {
	f := float64(n)
	return (later.goCPU - m.goCPU) * 1e6 / f, (later.redisCPU - m.redisCPU) * 1e6 / f, (later.calls - m.calls) / f,
		(later.trips - m.trips) / f
}
