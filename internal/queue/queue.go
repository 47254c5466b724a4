package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/retry"
)

// Steps is the queue of journey steps and timers, or the prefix of its shards (see
// StepQueue).
const Steps = "steps"

// MaxStepRetry is how often a step whose channel fails temporarily is retried before it
// is recorded as failed: retry.MaxRetry, the policy the simulator shares.
const MaxStepRetry = retry.MaxRetry

var taskTypes = map[engine.TaskKind]string{
	engine.KindStep:  "rapport:step",
	engine.KindTimer: "rapport:timer",
}

// Scheduler implements engine.Scheduler with asynq.
type Scheduler struct {
	client  *asynq.Client
	inspect *asynq.Inspector
	shards  int
}

// NewScheduler schedules through the Redis behind rdb, which the caller keeps and closes.
func NewScheduler(rdb redis.UniversalClient, opts ...SchedulerOption) *Scheduler {
	s := &Scheduler{client: asynq.NewClientFromRedisClient(rdb), inspect: asynq.NewInspectorFromRedisClient(rdb)}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Schedule enqueues t due at t.At under its ID; an ID that exists already is left as is.
func (s *Scheduler) Schedule(ctx context.Context, t engine.Task) error {
	typ, ok := taskTypes[t.Kind]
	if !ok {
		return fmt.Errorf("schedule %s: unknown task kind %q", t.ID, t.Kind)
	}
	opts := []asynq.Option{asynq.TaskID(t.ID), asynq.Queue(StepQueue(t.ID, s.shards)), asynq.MaxRetry(MaxStepRetry)}
	var headers map[string]string
	if t.At.After(time.Now()) {
		opts = append(opts, asynq.ProcessAt(t.At))
		if t.At.Nanosecond() >= int(time.Millisecond) {
			// asynq scores ProcessAt in whole seconds, so it may wake the task up to a
			// second early: the handler holds it until this exact time. Whole-second
			// times (timers) need no header and pay no bytes for one.
			headers = map[string]string{dueHeader: strconv.FormatInt(t.At.UnixMilli(), 10)}
		}
	} // else due already: straight to the pending list, not via the scheduled set
	_, err := s.client.EnqueueContext(ctx, asynq.NewTaskWithHeaders(typ, t.Payload, headers), opts...)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("schedule %s: %w", t.ID, err)
	}
	return nil
}

// Cancel deletes a pending task. A task that is gone or running now is left alone: the
// engine ignores tasks whose enrolment no longer expects them.
func (s *Scheduler) Cancel(ctx context.Context, id string) error {
	q := StepQueue(id, s.shards)
	err := s.inspect.DeleteTask(q, id)
	if (errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound)) && q != Steps {
		q = Steps // scheduled before the steps were sharded
		err = s.inspect.DeleteTask(q, id)
	}
	if err == nil || errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
		return nil
	}
	// Refused: the task is running. It may finish before we look (and be gone), or
	// still run: either way the engine ignores it, its enrolment no longer expecting it.
	info, ierr := s.inspect.GetTaskInfo(q, id)
	switch {
	case errors.Is(ierr, asynq.ErrTaskNotFound):
		return nil
	case ierr == nil && (info.State == asynq.TaskStateActive || info.State == asynq.TaskStateCompleted):
		return nil
	}
	return fmt.Errorf("cancel %s: %w", id, err)
}

// WorkerConfig tunes a Worker.
type WorkerConfig struct {
	// Concurrency is how many tasks run at once; default 20.
	Concurrency int
	// ShutdownTimeout bounds how long Shutdown waits for running tasks; default 10s.
	ShutdownTimeout time.Duration
	// RetryBase is the first retry delay, doubled on each retry up to an hour; default 10s.
	RetryBase time.Duration
	// PollInterval is how often due scheduled tasks are moved to run; default 1s.
	PollInterval time.Duration
	Logger       *slog.Logger
	// Middleware wraps every task handler, outermost first (metrics, tracing).
	Middleware []asynq.MiddlewareFunc
	// Shards is the number of step queues, as given to the Scheduler (see Shards).
	Shards int
}

// Worker processes events, steps and timers, and trims the payloads of processed events.
type Worker struct {
	srv  *asynq.Server
	mux  *asynq.ServeMux
	trim *Trimmer
	stop context.CancelFunc
}

// trimEvery is how often a worker trims the payloads of the events processed since.
const trimEvery = time.Second

// NewWorker returns a Worker that runs eng's handlers on the Redis behind rdb.
func NewWorker(rdb redis.UniversalClient, eng *engine.Engine, cfg WorkerConfig) *Worker {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 20
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 10 * time.Second
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = retry.Base
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	log := cfg.Logger
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency:              cfg.Concurrency,
		Queues:                   queueWeights(cfg.Shards),
		ShutdownTimeout:          cfg.ShutdownTimeout,
		DelayedTaskCheckInterval: cfg.PollInterval,
		TaskCheckInterval:        cfg.PollInterval,
		RetryDelayFunc:           retryDelay(cfg.RetryBase),
		IsFailure:                isFailure,
		Logger:                   newSlogAdapter(log),
		LogLevel:                 asynq.WarnLevel,
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			if channels.IsTemporary(err) {
				return // the engine logged it with the journey, step and customer
			}
			id, _ := asynq.GetTaskID(ctx)
			n, _ := asynq.GetRetryCount(ctx)
			log.Warn("task failed", "type", t.Type(), "task", id, "retry", n, "err", err)
		}),
	})
	mux := asynq.NewServeMux()
	mux.Use(cfg.Middleware...)
	mux.HandleFunc(event.TaskType, func(ctx context.Context, t *asynq.Task) error {
		ev, err := event.Unmarshal(t.Payload())
		if err != nil {
			return fmt.Errorf("%w: event payload: %v", asynq.SkipRetry, err)
		}
		return translate(eng.HandleEvent(ctx, ev))
	})
	mux.HandleFunc(taskTypes[engine.KindStep], func(ctx context.Context, t *asynq.Task) error {
		if err := holdUntilDue(ctx, t); err != nil {
			return err
		}
		id, _ := asynq.GetTaskID(ctx)
		n, _ := asynq.GetRetryCount(ctx)
		max, _ := asynq.GetMaxRetry(ctx)
		return translate(eng.HandleStep(ctx, id, t.Payload(), engine.Attempt{Retry: n, MaxRetry: max}))
	})
	mux.HandleFunc(taskTypes[engine.KindTimer], func(ctx context.Context, t *asynq.Task) error {
		if err := holdUntilDue(ctx, t); err != nil {
			return err
		}
		id, _ := asynq.GetTaskID(ctx)
		return translate(eng.HandleTimer(ctx, id, t.Payload()))
	})
	return &Worker{srv: srv, mux: mux, trim: NewTrimmer(rdb, log)}
}

// ErrUnknownTaskType is returned, to be retried, for a task of a type this worker has no
// handler for: a newer worker's, during a rolling deploy.
var ErrUnknownTaskType = errors.New("task type unknown to this worker")

// isFailure tells asynq which errors count as a task's failure. A task this worker
// cannot read yet (a newer worker's type or format) does not: it is retried with the
// usual backoff for as long as it takes a newer worker to take it, and never archived.
func isFailure(err error) bool {
	return !errors.Is(err, ErrUnknownTaskType) && !errors.Is(err, engine.ErrUnknownFormat)
}

// known runs a task through mux if it has a handler for the task's type, and returns
// ErrUnknownTaskType otherwise (asynq's own answer would count as a failure).
func known(mux *asynq.ServeMux) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		if _, pattern := mux.Handler(t); pattern == "" {
			return fmt.Errorf("%w: %q", ErrUnknownTaskType, t.Type())
		}
		return mux.ProcessTask(ctx, t)
	})
}

// Start begins processing in the background.
func (w *Worker) Start() error {
	if err := w.srv.Start(known(w.mux)); err != nil {
		return err
	}
	ctx, stop := context.WithCancel(context.Background())
	w.stop = stop
	go w.trim.Run(ctx, trimEvery)
	return nil
}

// Shutdown stops taking tasks and waits, up to the configured timeout, for running ones;
// unfinished tasks go back to the queue.
func (w *Worker) Shutdown() {
	if w.stop != nil {
		w.stop()
	}
	w.srv.Shutdown()
}

// dueHeader carries a scheduled task's due time in unix milliseconds when it is not a
// whole second.
const dueHeader = "at"

// MaxHold bounds how long a handler holds a task that asynq woke before its due time.
// asynq wakes tasks at most a second early (it scores them in whole seconds); a task
// earlier than this, as with clocks that disagree between hosts, is retried when due.
const MaxHold = 2 * time.Second

// EarlyError asks asynq to run a task again at Due: it was woken too early to hold.
type EarlyError struct{ Due time.Time }

// Error says how early the task was.
func (e *EarlyError) Error() string {
	return fmt.Sprintf("woken %v before its due time %s", time.Until(e.Due).Round(time.Millisecond), e.Due.Format(time.RFC3339Nano))
}

// holdUntilDue waits, in the handler, until the task's due time when asynq woke it early,
// so that no step starts before it is due, to the millisecond.
func holdUntilDue(ctx context.Context, t *asynq.Task) error {
	v, ok := t.Headers()[dueHeader]
	if !ok {
		return nil
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil // not ours to judge: the engine checks the payload
	}
	due := time.UnixMilli(ms)
	wait := time.Until(due)
	switch {
	case wait <= 0:
		return nil
	case wait > MaxHold:
		return &EarlyError{Due: due}
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// translate turns the engine's permanent errors into asynq's "do not retry".
func translate(err error) error {
	if err != nil && errors.Is(err, engine.ErrPermanent) {
		return fmt.Errorf("%w: %v", asynq.SkipRetry, err)
	}
	return err
}

// retryDelay is retry.Delay with jitter: a channel's retry-after (plus a second, see
// below), else exponential backoff from base up to an hour.
func retryDelay(base time.Duration) asynq.RetryDelayFunc {
	return func(n int, err error, _ *asynq.Task) time.Duration {
		var early *EarlyError
		if errors.As(err, &early) {
			return max(time.Until(early.Due), 0) // the handler holds what comes a little early
		}
		d := retry.Delay(base, n, err, rand.Float64)
		var te *channels.TemporaryError
		if errors.As(err, &te) && te.RetryAfter > 0 {
			// asynq keeps a retry's time in whole seconds, rounded down, so it may run up
			// to a second early: one more second keeps it from coming before retry-after.
			d += time.Second
		}
		return d
	}
}

// Observed is worker middleware that tells obs of every task it runs: its type, how long
// it took and its error.
func Observed(obs engine.Observer) asynq.MiddlewareFunc {
	return func(next asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
			start := time.Now()
			err := next.ProcessTask(ctx, t)
			obs.Task(ctx, engine.TaskRun{Type: t.Type(), Took: time.Since(start), Err: err, Deferred: err != nil && !isFailure(err)})
			return err
		})
	}
}

// Fenced is worker middleware that runs fence after every task that succeeded and fails
// the task when fence does: asynq marks a task done only once fence passed (see
// store.Fence, which waits for the replicas to have the task's writes).
func Fenced(fence func(context.Context) error) asynq.MiddlewareFunc {
	return func(next asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
			if err := next.ProcessTask(ctx, t); err != nil {
				return err
			}
			return fence(ctx)
		})
	}
}

// slogAdapter lets asynq log through slog. Warnings and errors that repeat are logged
// once per quiet period with how often they came: while Redis is away every part of
// asynq (dequeue, heartbeat, forwarder, recoverer, janitor) says so every second or two,
// and the one thing worth knowing, that Redis is still away, is one line every 30 s.
type slogAdapter struct {
	l      *slog.Logger
	repeat *repeats
}

func newSlogAdapter(l *slog.Logger) slogAdapter {
	return slogAdapter{l: l, repeat: &repeats{quiet: 30 * time.Second, now: time.Now, seen: map[string]*repeat{}}}
}

func (a slogAdapter) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...), "component", "asynq") }
func (a slogAdapter) Info(args ...any)  { a.l.Info(fmt.Sprint(args...), "component", "asynq") }
func (a slogAdapter) Warn(args ...any)  { a.log(slog.LevelWarn, fmt.Sprint(args...)) }
func (a slogAdapter) Error(args ...any) { a.log(slog.LevelError, fmt.Sprint(args...)) }
func (a slogAdapter) Fatal(args ...any) { a.log(slog.LevelError, fmt.Sprint(args...)) }

func (a slogAdapter) log(level slog.Level, msg string) {
	n, ok := a.repeat.allow(msg)
	if !ok {
		return
	}
	attrs := []any{"component", "asynq"}
	if n > 0 {
		attrs = append(attrs, "repeated", n)
	}
	a.l.Log(context.Background(), level, msg, attrs...)
}

// repeats lets a message through once per quiet period, keyed by what it says before
// its first colon (asynq's "Dequeue error: <the error>"), and counts what it held back.
type repeats struct {
	quiet time.Duration
	now   func() time.Time
	mu    sync.Mutex
	seen  map[string]*repeat
}

type repeat struct {
	at   time.Time
	held int
}

// maxRepeatKeys bounds the memory of repeats; asynq has a few dozen distinct messages.
const maxRepeatKeys = 256

// allow says whether msg may be logged now, and how many like it were held back since
// the last one that was.
func (r *repeats) allow(msg string) (int, bool) {
	key, _, _ := strings.Cut(msg, ":")
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.seen[key]
	if ok && now.Sub(p.at) < r.quiet {
		p.held++
		return 0, false
	}
	if !ok {
		if len(r.seen) >= maxRepeatKeys {
			clear(r.seen)
		}
		p = &repeat{}
		r.seen[key] = p
	}
	held := p.held
	p.at, p.held = now, 0
	return held, true
}
