package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/signing"
	"github.com/rapporthq/rapport/internal/store"
	"github.com/rapporthq/rapport/templates"
	"github.com/rapporthq/rapport/workflows"
)

// Clock tells the engine the time. Production uses SystemClock; a simulator uses a
// virtual one.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// TaskKind names the kind of work a scheduled task does.
type TaskKind string

// The kinds of scheduled tasks.
const (
	KindStep  TaskKind = "step"
	KindTimer TaskKind = "timer"
)

// Task is a unit of work due at a time.
type Task struct {
	Kind    TaskKind
	ID      string
	Payload []byte
	At      time.Time
}

// Scheduler runs tasks at their time by calling the engine's HandleStep or HandleTimer.
// Production uses asynq (internal/queue).
type Scheduler interface {
	// Schedule arranges for t to run at t.At. Scheduling an ID that is already pending
	// succeeds and changes nothing.
	Schedule(ctx context.Context, t Task) error
	// Cancel removes a pending task; an unknown or already running task is not an error.
	Cancel(ctx context.Context, id string) error
}

// Renderer renders message templates; *templates.Set is one.
type Renderer interface {
	Has(name string, kind channels.Kind) bool
	Render(name string, kind channels.Kind, locale string, data templates.Data) (templates.Rendered, error)
}

// Attempt tells a handler which try of its task this is, so that the last one can record
// a failure instead of asking for another retry.
type Attempt struct {
	Retry, MaxRetry int
}

// Last reports whether no retry follows this attempt.
func (a Attempt) Last() bool { return a.Retry >= a.MaxRetry }

// ErrPermanent marks errors that no retry can fix, such as a malformed task payload.
var ErrPermanent = errors.New("permanent")

func permanent(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrPermanent, fmt.Sprintf(format, args...))
}

// Config is what New needs.
type Config struct {
	Store     *store.Store
	Scheduler Scheduler
	Journeys  *workflows.Set
	Templates Renderer
	Channels  channels.Set
	// Clock defaults to SystemClock.
	Clock Clock
	// Location and Locale are the defaults for customers without timezone or locale.
	Location *time.Location
	Locale   string
	// UnsubscribeURL returns the signed one-click unsubscribe URL for a customer on a
	// channel; nil means messages carry none.
	UnsubscribeURL func(customerID, channel string) string
	// FeedbackURL returns the signed feedback page of the message a link names
	// (CustomerID, Channel, MessageID, Locale, IssuedAt: the send time), for
	// .feedback_url; nil means templates get an empty one.
	FeedbackURL func(l signing.Link) string
	// Return, when set, names a message about to go out so that what comes back from
	// its channel finds it (return addresses, a Message-ID with its ref); it returns nil
	// for a channel that does not listen. An error is retried like any Redis error.
	Return func(ctx context.Context, r store.Ref) (*channels.Return, error)
	// ClickURL, when set, returns the tracked link that stands for url in the message r
	// names, or url itself for a link it does not track.
	ClickURL func(r store.Ref, url string) string
	// PreferencesURL returns the signed preference page of a customer, reached from a
	// message on a channel, for .preferences_url; nil means templates get an empty one.
	PreferencesURL func(customerID, channel string) string
	// TopicTitles are the topics' titles by locale, for the preference page.
	TopicTitles map[string]map[string]string
	// Topics are the topics a customer may opt out of (the config's topics), sorted;
	// every journey's topic is one of them or workflows.ServiceTopic.
	Topics []string
	// Tiers are the loyalty tiers, lowest first (see promote); none: no loyalty
	// programme.
	Tiers []workflows.Tier
	// Stats, when set, counts each event once its profile change is recorded; an error
	// retries the event.
	Stats Stats
	// Policies run, in order, between choosing the channel and rendering: frequency caps,
	// quiet hours and the like.
	Policies []Policy
	// Winners, when set, tells split steps with a winner rule their declared winner.
	Winners Winners
	// Assign, when set, forces groups and variants (the simulator's assign:).
	Assign Assigner
	// Observer hears of every recorded outcome and every enrolment's start and end, once
	// each: metrics and statistics hang off it. Default: none.
	Observer Observer
	// SendLease is how long one attempt may take to send a message before another
	// attempt counts it as dead: one that had not handed the message over is taken over
	// and the message sent; one that had is recorded uncertain (or resent, by the step's
	// on_uncertain). It also bounds how long a sent message's record is retried while
	// Redis is away. Default 2m.
	SendLease time.Duration
	// FreeForm, when set, reports whether a message to address on channel may go as
	// free text although its template names an approved WhatsApp template: the
	// customer's service window is open (see internal/messenger). Nil: never.
	FreeForm func(ctx context.Context, channel, address string, now time.Time) (bool, error)
	// Backlog, when set, lets an inactivity timer that fires see whether events accepted
	// before it fell due still wait to be processed; it then waits for them, since one
	// may restart the customer's clock (see HandleTimer). Default: none.
	Backlog Backlog
	Logger  *slog.Logger
}

// Backlog tells when the oldest event still waiting to be processed was accepted;
// internal/queue implements it on the events queue.
type Backlog interface {
	// OldestWaiting returns the time the oldest waiting event was accepted; ok is false
	// when none waits.
	OldestWaiting(ctx context.Context) (at time.Time, ok bool, err error)
}

// Stats keeps relationship metrics up to date as events are processed; internal/stats
// implements it.
type Stats interface {
	// Applied is called after the event's profile change is recorded, with what it
	// left (the profile after it, whether it was the customer's first event), on every
	// attempt of the event: it must count each event id once.
	Applied(ctx context.Context, ev event.Event, a store.Applied) error
}

// Engine turns events into enrolments, enrolments into scheduled steps, and due steps into
// messages. It is safe for concurrent use by any number of workers.
type Engine struct {
	cfg  Config
	snap atomic.Pointer[Snapshot]
	log  *slog.Logger
}

// Snapshot is what the files define, in force together: a step reads its journey, its
// template and its channels from one snapshot, so a reload that adds a template and the
// journey that uses it never shows one without the other. It is never changed once in
// force; a reload puts a new one in force with Swap.
type Snapshot struct {
	Journeys  *workflows.Set
	Templates Renderer
	Channels  channels.Set
}

// New returns an Engine. Store, Scheduler, Journeys, Templates and Channels are required.
func New(cfg Config) (*Engine, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("engine: no store")
	case cfg.Scheduler == nil:
		return nil, errors.New("engine: no scheduler")
	case cfg.Journeys == nil:
		return nil, errors.New("engine: no journeys")
	case cfg.Templates == nil:
		return nil, errors.New("engine: no templates")
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.Locale == "" {
		cfg.Locale = "en"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Observer == nil {
		cfg.Observer = Observers(nil)
	}
	if cfg.SendLease <= 0 {
		cfg.SendLease = 2 * time.Minute
	}
	// Topic opt-outs come first: a message the customer said no to is not capped either.
	cfg.Policies = append([]Policy{topicPolicy{st: cfg.Store}}, cfg.Policies...)
	e := &Engine{cfg: cfg, log: cfg.Logger}
	e.snap.Store(&Snapshot{Journeys: cfg.Journeys, Templates: cfg.Templates, Channels: cfg.Channels})
	return e, nil
}

// Snapshot returns the journeys, templates and channels in force.
func (e *Engine) Snapshot() *Snapshot { return e.snap.Load() }

// Swap puts s in force, for live reload, and returns the snapshot it replaces; steps
// already running finish with the old one, so close its channels only once they are
// done. See SetJourneys for what becomes of enrolments.
func (e *Engine) Swap(s *Snapshot) *Snapshot { return e.snap.Swap(s) }

// Journeys returns the journeys in force.
func (e *Engine) Journeys() *workflows.Set { return e.snap.Load().Journeys }

// SetJourneys replaces the journeys in force, for live reload. Enrolments keep their
// place by step id; a step that disappeared is recorded skipped when it falls due, and a
// journey that disappeared leaves its steps retrying (ErrUnknownJourney) until a worker
// that knows it runs them or their retries run out.
func (e *Engine) SetJourneys(s *workflows.Set) {
	for {
		old := e.snap.Load()
		next := *old
		next.Journeys = s
		if e.snap.CompareAndSwap(old, &next) {
			return
		}
	}
}

// shortHash makes compact, deterministic ids from their parts.
func shortHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:10])
}
