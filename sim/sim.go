package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/retry"
	"github.com/rapporthq/rapport/internal/store"
)

// DefaultStart is where the virtual clock starts when Options.Start is zero: a Monday
// morning, outside the usual quiet hours.
var DefaultStart = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// Options tune a simulation. The zero value runs the production policies on an embedded
// Redis from DefaultStart.
type Options struct {
	// Start is the virtual time the simulation begins at.
	Start time.Time
	// Redis, when set, holds the state instead of the embedded in-process Redis. Its
	// keys then expire in wall-clock time, not virtual time. The caller closes it.
	Redis redis.UniversalClient
	// Logger receives the engine's log; nil discards it.
	Logger *slog.Logger
	// MaxRetry is how often a failing task is retried; default retry.MaxRetry, as in
	// production.
	MaxRetry int
	// RetryDelay is the wait before retry n (0 for the first); default the production
	// backoff (retry.Delay from retry.Base, without jitter so runs repeat exactly).
	RetryDelay func(n int, err error) time.Duration
	// Channels are used instead of the recording channel of the same name, or beside
	// them: a real channel under test. What they send is not in Sent.
	Channels channels.Set
	// Observer also hears what the engine did, as engine.Config.Observer.
	Observer engine.Observer
	// SendLease is engine.Config.SendLease; zero keeps the engine's default.
	SendLease time.Duration
	// Stats counts each event once applied, as engine.Config.Stats; nil counts nothing.
	Stats engine.Stats
	// Winners tells split steps their declared winner, as engine.Config.Winners; nil
	// never declares one.
	Winners engine.Winners
	// Assign forces groups and variants, as engine.Config.Assign; nil assigns them by
	// hash, as production does.
	Assign engine.Assigner
}

// Sim is the production engine on a virtual clock. New builds one; Close releases it.
type Sim struct {
	setup  *Setup
	opts   Options
	start  time.Time
	clock  *Clock
	sched  *Scheduler
	mr     *miniredis.Miniredis
	rdb    redis.UniversalClient
	st     *store.Store
	eng    *engine.Engine
	events map[string]time.Time
	seq    int

	// mu guards what the engine's callbacks write, which may run on several goroutines
	// (AdvanceConcurrently).
	mu       sync.Mutex
	fail     func(channel string, m channels.Message) error
	sent     []Sent
	timeline []Entry
}

// New builds a simulation of setup. It starts an embedded Redis unless opts.Redis is set.
func New(setup *Setup, opts Options) (*Sim, error) {
	if setup == nil || setup.Journeys == nil || setup.Templates == nil {
		return nil, errors.New("sim: the setup needs journeys and templates")
	}
	if opts.Start.IsZero() {
		opts.Start = DefaultStart
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxRetry <= 0 {
		opts.MaxRetry = retry.MaxRetry
	}
	if opts.RetryDelay == nil {
		opts.RetryDelay = func(n int, err error) time.Duration { return retry.Delay(retry.Base, n, err, nil) }
	}
	s := &Sim{setup: setup, opts: opts, start: opts.Start, clock: &Clock{now: opts.Start}, sched: newScheduler(),
		events: map[string]time.Time{}}
	if s.rdb = opts.Redis; s.rdb == nil {
		s.mr = miniredis.NewMiniRedis()
		if err := s.mr.Start(); err != nil {
			return nil, fmt.Errorf("sim: start embedded redis: %w", err)
		}
		s.mr.SetTime(opts.Start)
		s.mr.ClockTTL(true) // keys expire as the virtual clock moves
		s.rdb = redis.NewClient(&redis.Options{Addr: s.mr.Addr(), PoolSize: 2})
	}
	s.st = store.New(s.rdb)
	var policies []engine.Policy
	if setup.Policies != nil {
		ps, err := setup.Policies(s.st)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("sim: policies: %w", err)
		}
		policies = ps
	}
	chans := channels.Set{}
	for name, t := range setup.Channels {
		chans[name] = channels.Named{Name: name, Type: t, Channel: recorder{name: name, sim: s}}
	}
	for name, c := range opts.Channels {
		chans[name] = c
	}
	observers := engine.Observers{observer{sim: s}}
	if opts.Observer != nil {
		observers = append(observers, opts.Observer)
	}
	eng, err := engine.New(engine.Config{
		Store: s.st, Scheduler: s.sched, Journeys: setup.Journeys, Templates: setup.Templates,
		Channels: chans, Clock: s.clock, Location: setup.Location, Locale: setup.Locale,
		UnsubscribeURL: setup.UnsubscribeURL, FeedbackURL: setup.FeedbackURL, Policies: policies, Observer: observers,
		Tiers: setup.Tiers, Topics: setup.Topics,
		SendLease: opts.SendLease, Logger: opts.Logger, Assign: opts.Assign, Stats: opts.Stats, Winners: opts.Winners,
	})
	if err != nil {
		s.Close()
		return nil, err
	}
	s.eng = eng
	return s, nil
}

// Close releases the embedded Redis. A Redis given in Options is left open.
func (s *Sim) Close() error {
	if s.mr == nil {
		return nil
	}
	err := s.rdb.Close()
	s.mr.Close()
	s.mr = nil
	if err != nil {
		return fmt.Errorf("sim: close: %w", err)
	}
	return nil
}

// Start is the virtual time the simulation began at.
func (s *Sim) Start() time.Time { return s.start }

// Now is the virtual time.
func (s *Sim) Now() time.Time { return s.clock.Now() }

// Engine is the engine under simulation, for Rapport's own tests.
func (s *Sim) Engine() *engine.Engine { return s.eng }

// Store is the simulation's state in Redis, for Rapport's own tests.
func (s *Sim) Store() *store.Store { return s.st }

// Scheduler holds the pending steps and timers.
func (s *Sim) Scheduler() *Scheduler { return s.sched }

// Clock is the virtual clock.
func (s *Sim) Clock() *Clock { return s.clock }

// Fail makes the recording channels fail: f returns the error a send on channel gets,
// or nil to let it through. Return a *channels.TemporaryError to see the production
// retries play out. nil makes every send succeed.
func (s *Sim) Fail(f func(channel string, m channels.Message) error) {
	s.mu.Lock()
	s.fail = f
	s.mu.Unlock()
}

// Event takes an event in as the intake does, at the current virtual time: an empty ID
// gets one, a zero OccurredAt is now, and an ID seen within event.DedupWindow is a
// duplicate that changes nothing. Then the worker processes it. The error is a
// permanent one (an invalid event) or a failure of the embedded Redis.
func (s *Sim) Event(ctx context.Context, ev event.Event) error {
	now := s.Now()
	if ev.ID == "" {
		s.seq++
		ev.ID = fmt.Sprintf("sim-%d", s.seq)
	}
	if seen, ok := s.events[ev.ID]; ok && now.Sub(seen) < event.DedupWindow {
		s.add(Entry{At: now, Kind: KindEvent, Customer: ev.CustomerID, Event: ev.Type, EventID: ev.ID,
			Reason: "duplicate id, ignored as the intake would"})
		return nil
	}
	s.events[ev.ID] = now
	return s.HandleEvent(ctx, ev)
}

// HandleEvent runs an event as the worker does, without the intake's duplicate check: a
// redelivered event task. A zero OccurredAt is now.
func (s *Sim) HandleEvent(ctx context.Context, ev event.Event) error {
	if ev.OccurredAt.IsZero() {
		ev.OccurredAt = s.Now()
	}
	s.add(Entry{At: s.Now(), Kind: KindEvent, Customer: ev.CustomerID, Event: ev.Type, EventID: ev.ID})
	if err := s.eng.HandleEvent(ctx, ev); err != nil {
		s.add(Entry{At: s.Now(), Kind: KindError, Customer: ev.CustomerID, Event: ev.Type, EventID: ev.ID,
			Reason: "event failed: " + err.Error()})
		return fmt.Errorf("event %s (%s): %w", ev.ID, ev.Type, err)
	}
	return nil
}

// Advance moves the clock forward by d, running every task that falls due on the way at
// its own virtual time.
func (s *Sim) Advance(ctx context.Context, d time.Duration) error {
	return s.AdvanceTo(ctx, s.Now().Add(d))
}

// AdvanceTo moves the clock forward to t (never back), running every task due by then
// in due order, each at its own virtual time. A task that fails is retried with the
// production policy; one that fails for good is an error entry in the timeline. The
// error is ctx's.
func (s *Sim) AdvanceTo(ctx context.Context, t time.Time) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		it, ok := s.sched.take(t)
		if !ok {
			break
		}
		if it.At.After(s.Now()) {
			s.setNow(it.At)
		}
		s.settle(it, s.run(ctx, it))
	}
	if t.After(s.Now()) {
		s.setNow(t)
	}
	return nil
}

// AdvanceConcurrently moves the clock forward by d at once and runs every task due by
// then together, each on its own goroutine, the way several workers pick up a burst of
// due tasks. Failed tasks are put back for retry, due by the production policy.
func (s *Sim) AdvanceConcurrently(ctx context.Context, d time.Duration) error {
	until := s.Now().Add(d)
	s.setNow(until)
	var due []*item
	for {
		it, ok := s.sched.take(until)
		if !ok {
			break
		}
		due = append(due, it)
	}
	var wg sync.WaitGroup
	for _, it := range due {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.settle(it, s.run(ctx, it))
		}()
	}
	wg.Wait()
	return ctx.Err()
}

// settle frees a task that ran, or puts it back for a retry, or records it as failed
// for good, as asynq does.
func (s *Sim) settle(it *item, err error) {
	switch {
	case err == nil:
		s.sched.done(it)
	case errors.Is(err, engine.ErrPermanent) || it.retries >= s.opts.MaxRetry:
		s.sched.done(it)
		s.add(Entry{At: s.Now(), Kind: KindError, Reason: fmt.Sprintf("%s task %s failed for good after %d retries: %v",
			it.Kind, it.ID, it.retries, err)})
	default:
		s.sched.retry(it, s.Now().Add(s.opts.RetryDelay(it.retries, err)))
	}
}

// run hands a due task to the engine as the asynq worker does.
func (s *Sim) run(ctx context.Context, it *item) error {
	switch it.Kind {
	case engine.KindStep:
		return s.eng.HandleStep(ctx, it.ID, it.Payload, engine.Attempt{Retry: it.retries, MaxRetry: s.opts.MaxRetry})
	case engine.KindTimer:
		return s.eng.HandleTimer(ctx, it.ID, it.Payload)
	}
	return fmt.Errorf("%w: unknown task kind %q", engine.ErrPermanent, it.Kind)
}

func (s *Sim) setNow(t time.Time) {
	s.clock.set(t)
	if s.mr != nil {
		s.mr.SetTime(t)
	}
}

// Sent returns every message the recording channels accepted, in order.
func (s *Sim) Sent() []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sent(nil), s.sent...)
}

// SentTo returns the messages sent to an address (an email, a chat id, ...).
func (s *Sim) SentTo(addr string) []channels.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []channels.Message
	for _, m := range s.sent {
		if m.To == addr {
			out = append(out, m.Message)
		}
	}
	return out
}

// Clock is the virtual clock: it moves only when the simulation advances.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the virtual time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *Clock) set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }
