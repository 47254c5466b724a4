// Package enginetest runs the engine for Rapport's own tests on the simulator of package
// sim: a virtual clock and a heap scheduler, so a journey of weeks takes milliseconds,
// with state on a private redis-server (redistest) rather than the simulator's embedded
// one, so that a test can stop and resume it. It only adapts sim to testing.TB and to the
// two test channels below.
package enginetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/signing"
	"github.com/rapporthq/rapport/internal/store"
	"github.com/rapporthq/rapport/sim"
	"github.com/rapporthq/rapport/templates"
	"github.com/rapporthq/rapport/workflows"
)

// Harness is an engine under test.
type Harness struct {
	t         testing.TB
	Sim       *sim.Sim
	Engine    *engine.Engine
	Store     *store.Store
	Clock     *sim.Clock
	Scheduler *sim.Scheduler
	// Redis is the harness's private redis-server, to stop and resume.
	Redis *redistest.Server
	// Sent records the messages of both channels: "email" (email kind, address from the
	// profile's email) and "chat" (msg kind, address from chat_id).
	Sent *Recorder
}

// Config says what to run.
type Config struct {
	// Start is the virtual time the harness starts at.
	Start time.Time
	// Journeys are journey YAML documents.
	Journeys []string
	// Templates is the template folder.
	Templates string
	// Policies builds the send pipeline's policies on the harness's store.
	Policies func(*store.Store) []engine.Policy
	// Channels are added to the harness's two recording channels, or replace one of
	// them by name: a real SMTP channel, a channels.ChannelFunc that misbehaves.
	Channels channels.Set
	// Observer hears of outcomes and enrolments, as engine.Config.Observer.
	Observer engine.Observer
	// SendLease is engine.Config.SendLease; zero keeps the engine's default.
	SendLease time.Duration
}

// New starts a private redis-server and builds the engine. Failing tasks are retried a
// minute apart, three times at most, to keep tests short.
func New(t testing.TB, cfg Config) *Harness {
	t.Helper()
	dir := t.TempDir()
	for i, j := range cfg.Journeys {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("j%d.yaml", i)), []byte(j), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tmpl, err := templates.Load(cfg.Templates)
	if err != nil {
		t.Fatal(err)
	}
	set, err := workflows.Load(dir, workflows.Options{HasTemplate: tmpl.Has})
	if err != nil {
		t.Fatal(err)
	}
	setup := &sim.Setup{Journeys: set, Templates: tmpl,
		Channels: map[string]channels.Type{
			"email": {Name: "rec", Kind: channels.KindEmail, AddressKey: "email"},
			"chat":  {Name: "rec", Kind: channels.KindMsg, AddressKey: "chat_id"},
		},
		UnsubscribeURL: func(cid, ch string) string { return "https://r.example/unsubscribe/" + ch + "/" + cid },
		FeedbackURL:    func(l signing.Link) string { return "https://r.example/feedback/" + l.Locale + "/" + l.CustomerID },
	}
	if cfg.Policies != nil {
		setup.Policies = func(st *store.Store) ([]engine.Policy, error) { return cfg.Policies(st), nil }
	}
	srv := redistest.Start(t)
	s, err := sim.New(setup, sim.Options{Start: cfg.Start, Redis: srv.Client(t), MaxRetry: 3,
		RetryDelay: func(int, error) time.Duration { return time.Minute },
		Channels:   cfg.Channels, Observer: cfg.Observer, SendLease: cfg.SendLease})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	h := &Harness{t: t, Sim: s, Engine: s.Engine(), Store: s.Store(), Clock: s.Clock(), Scheduler: s.Scheduler(),
		Redis: srv, Sent: &Recorder{sim: s}}
	s.Fail(func(_ string, m channels.Message) error {
		if h.Sent.Fail != nil {
			return h.Sent.Fail(m)
		}
		return nil
	})
	return h
}

// Event processes an event at the current virtual time, filling its id and time when
// empty. Like a redelivered task, an id seen before is processed again.
func (h *Harness) Event(ev event.Event) {
	h.t.Helper()
	if ev.ID == "" {
		ev.ID = ev.Type + "-" + ev.CustomerID + "-" + h.Clock.Now().Format(time.RFC3339Nano)
	}
	if err := h.Sim.HandleEvent(context.Background(), ev); err != nil {
		h.t.Fatalf("HandleEvent(%s): %v", ev.Type, err)
	}
}

// Advance moves the clock forward by d, running every task that falls due on the way at
// its own time. A task that fails for good fails the test.
func (h *Harness) Advance(d time.Duration) {
	h.t.Helper()
	h.run(func() error { return h.Sim.Advance(context.Background(), d) })
}

// AdvanceConcurrently moves the clock forward by d and runs every task due by then at
// once, each on its own goroutine, the way several workers pick up a burst of due steps
// together. A task that fails is put back to be retried by the next Advance.
func (h *Harness) AdvanceConcurrently(d time.Duration) {
	h.t.Helper()
	h.run(func() error { return h.Sim.AdvanceConcurrently(context.Background(), d) })
}

func (h *Harness) run(advance func() error) {
	h.t.Helper()
	before := len(h.Sim.Timeline())
	if err := advance(); err != nil {
		h.t.Fatal(err)
	}
	for _, e := range h.Sim.Timeline()[before:] {
		if e.Kind == sim.KindError {
			h.t.Fatal(e.Reason)
		}
	}
}

// History returns the customer's message history, newest first.
func (h *Harness) History(cid string) []store.Record {
	h.t.Helper()
	r, err := h.Store.History(context.Background(), cid)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

// Recorder reads what the harness's recording channels sent, and can make them fail.
type Recorder struct {
	sim *sim.Sim
	// Fail, when set, decides the error of a send.
	Fail func(channels.Message) error
}

// To returns the messages sent to an address.
func (r *Recorder) To(addr string) []channels.Message { return r.sim.SentTo(addr) }
