package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/rapporthq/rapport/client"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/engine"
	"github.com/rapporthq/rapport/internal/journeystats"
	"github.com/rapporthq/rapport/internal/tokenauth"
)

// Intake accepts events; *client.Client is one. Send answers only once the event is
// durably queued; an error wrapping client.ErrUnavailable means it was not, and an
// *event.FieldError names a field the intake refused.
type Intake interface {
	Send(ctx context.Context, ev event.Event) (client.Result, error)
}

// JourneyInfo describes a loaded journey for GET /v1/journeys.
type JourneyInfo struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Trigger string `json:"trigger"`
	Steps   int    `json:"steps"`
	// Stats are the journey's counters, when Options.JourneyStats is set.
	Stats *journeystats.Stats `json:"stats,omitempty"`
}

// Options configure New.
type Options struct {
	// Tokens are the accepted bearer tokens for /v1/*; empty tokens never match, so an
	// API without tokens refuses every /v1 request.
	Tokens []string
	// Intake receives the accepted events. Required.
	Intake Intake
	// Ready reports whether Redis is reachable, for /readyz; nil means always ready.
	Ready func(ctx context.Context) error
	// Journeys lists the loaded journeys; nil leaves GET /v1/journeys out (404).
	Journeys func() []JourneyInfo
	// JourneyStats, when set, reads the counters GET /v1/journeys shows with each
	// journey; an error is a 503.
	JourneyStats func(ctx context.Context, journeys []string) (map[string]journeystats.Stats, error)
	// Customers serves /v1/customers; nil leaves those endpoints out.
	Customers Customers
	// Unsubscribe verifies one-click unsubscribe tokens; with Customers it serves
	// GET and POST /unsubscribe/{token}.
	Unsubscribe LinkVerifier
	// Feedback verifies feedback tokens; set, it serves GET and POST /feedback/{token}.
	Feedback LinkVerifier
	// Preferences verifies preference-page tokens; with PreferenceCentre it serves GET
	// and POST /preferences/{token}.
	Preferences      LinkVerifier
	PreferenceCentre PreferenceCentre
	// Stats serves GET /v1/stats; nil leaves it out.
	Stats StatsReporter
	// Logger receives one record per 5xx answer; nil means slog.Default().
	Logger *slog.Logger
	// MaxBodyBytes bounds request bodies; zero or less means DefaultMaxBodyBytes.
	MaxBodyBytes int64

	// Loaded reports whether journeys are loaded, for /readyz; nil means they are.
	Loaded func() bool
	// Metrics, when set, serves GET /metrics, without a token.
	Metrics http.Handler
	// Monitoring, when set, serves the queue dashboard under /monitoring/, to requests
	// with an API token as a bearer token or as the password of HTTP basic auth. A
	// request that changes state must come from a page of BaseURL (see sameOrigin).
	Monitoring http.Handler
	// Observer, when set, hears the result of every event posted through its Intake:
	// accepted, duplicate, rejected (400, 413) or unavailable (503).
	Observer engine.Observer
	// BaseURL is Rapport's public address (the config's http.base_url): the only origin
	// the dashboard takes changes from.
	BaseURL string
	// Link, when set, serves GET /v1/customers/{id}/channels/{channel}/link.
	Link Linker
	// Hooks, when set, serves /hooks/{channel} without a token: the providers' webhooks,
	// each of which checks its own signature or secret.
	Hooks http.Handler
}

const (
	// MaxBatch is the most events one batch may carry.
	MaxBatch = 1000
	// DefaultMaxBodyBytes bounds request bodies when Options.MaxBodyBytes is not set.
	DefaultMaxBodyBytes = 1 << 20
)

// readyTimeout bounds how long /readyz waits for Redis.
const readyTimeout = 2 * time.Second

type server struct {
	Options
	tokens tokenauth.Tokens
}

// New returns the API handler: POST /v1/events, POST /v1/events/batch, GET /healthz,
// GET /readyz, GET /v1/journeys, the customer and unsubscribe endpoints when
// Options.Customers is set, GET /metrics and /monitoring/ when those handlers are set.
// Everything under /v1/ needs a bearer token; /monitoring/ a token as bearer or as the
// basic-auth password.
func New(opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	s := &server{Options: opts, tokens: tokenauth.New(opts.Tokens)}
	mux := s.opsRoutes()
	if opts.Monitoring != nil {
		mux.Handle("/monitoring/", s.browserAuth(sameOrigin(opts.BaseURL, opts.Monitoring)))
		mux.Handle("GET /monitoring", http.RedirectHandler("/monitoring/", http.StatusMovedPermanently))
	}
	mux.Handle("POST /v1/events", s.auth(http.HandlerFunc(s.postEvent)))
	mux.Handle("POST /v1/events/batch", s.auth(http.HandlerFunc(s.postBatch)))
	if opts.Journeys != nil {
		mux.Handle("GET /v1/journeys", s.auth(http.HandlerFunc(s.journeys)))
	}
	if opts.Customers != nil {
		s.customerRoutes(mux)
		if opts.Unsubscribe != nil {
			mux.HandleFunc("GET /unsubscribe/{token}", s.unsubscribe)
			mux.HandleFunc("POST /unsubscribe/{token}", s.unsubscribe)
		}
	}
	if opts.Feedback != nil {
		s.feedbackRoutes(mux)
	}
	if opts.Preferences != nil && opts.PreferenceCentre != nil {
		s.preferenceRoutes(mux)
	}
	if opts.Stats != nil {
		s.statsRoutes(mux)
	}
	s.messengerRoutes(mux)
	return mux
}

// Ops returns the operations endpoints alone: GET /healthz, GET /readyz and, when
// Options.Metrics is set, GET /metrics. A worker without the API serves these. Only
// Ready, Loaded, Metrics and Logger of opts are used.
func Ops(opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return (&server{Options: opts}).opsRoutes()
}

func (s *server) opsRoutes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	if s.Metrics != nil {
		mux.Handle("GET /metrics", s.Metrics)
	}
	return mux
}

// auth lets a request through only with one of the accepted bearer tokens.
func (s *server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.tokens.Valid(tokenauth.Bearer(r)) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="rapport"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token: send Authorization: Bearer TOKEN", "")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// browserAuth is auth that also takes an API token as the password of HTTP basic auth
// (any user name), so a browser can open the dashboard.
func (s *server) browserAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.tokens.Valid(tokenauth.FromBrowser(r)) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="rapport", charset="UTF-8"`)
		writeError(w, http.StatusUnauthorized, "an API token is needed: as a bearer token, or as the password of basic auth (any user name)", "")
	})
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.Loaded != nil && !s.Loaded() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": "journeys: not loaded"})
		return
	}
	if s.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := s.Ready(ctx); err != nil {
			// The cause (and the server's address) goes to the log, not to the caller.
			s.Logger.Warn("not ready: redis unreachable", "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": "redis: unreachable"})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// wireEvent is the JSON of one event; occurred_at is parsed by hand to name the field.
type wireEvent struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	CustomerID string         `json:"customer_id"`
	OccurredAt *string        `json:"occurred_at"`
	Customer   map[string]any `json:"customer"`
	Data       map[string]any `json:"data"`
}

// badRequest is a 400 naming a field.
type badRequest struct {
	field, msg string
}

func (e *badRequest) Error() string {
	if e.field == "" {
		return e.msg
	}
	return e.field + ": " + e.msg
}

// errTooLarge is a 413: the body is over the limit.
type errTooLarge struct{ limit int64 }

func (e errTooLarge) Error() string { return fmt.Sprintf("the body is larger than %d bytes", e.limit) }

// unavailableMsg is what a sender reads when its event was not accepted for want of Redis;
// the details go to the log.
const unavailableMsg = "the event was not accepted: the queue is unavailable; send it again"

func (s *server) postEvent(w http.ResponseWriter, r *http.Request) {
	body, err := s.readBody(w, r)
	if err != nil {
		s.tally(r.Context(), client.Result{}, err)
		s.fail(w, r, err)
		return
	}
	ev, err := parseEvent(body, "")
	if err != nil {
		s.tally(r.Context(), client.Result{}, err)
		s.fail(w, r, err)
		return
	}
	res, err := s.send(r.Context(), ev, "")
	s.tally(r.Context(), res, err)
	switch {
	case err != nil:
		s.fail(w, r, err)
	case res.Duplicate:
		writeJSON(w, http.StatusOK, map[string]any{"id": res.ID, "duplicate": true})
	default:
		writeJSON(w, http.StatusAccepted, map[string]any{"id": res.ID})
	}
}

// parseEvent decodes one event strictly and checks it. Errors name the field, prefixed
// (events[3].type) inside a batch.
func parseEvent(raw []byte, prefix string) (event.Event, error) {
	var we wireEvent
	if err := strictUnmarshal(raw, &we, prefix); err != nil {
		return event.Event{}, err
	}
	return we.event(prefix)
}

// send hands a checked event to the intake.
func (s *server) send(ctx context.Context, ev event.Event, prefix string) (client.Result, error) {
	res, err := s.Intake.Send(ctx, ev)
	if err != nil {
		return client.Result{}, intakeError(err, prefix)
	}
	return res, nil
}

func (s *server) journeys(w http.ResponseWriter, r *http.Request) {
	js := s.Journeys()
	if js == nil {
		js = []JourneyInfo{}
	}
	if s.JourneyStats != nil {
		ids := make([]string, len(js))
		for i, j := range js {
			ids[i] = j.ID
		}
		stats, err := s.JourneyStats(r.Context(), ids)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for i := range js {
			st := stats[js[i].ID]
			js[i].Stats = &st
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"journeys": js})
}

// tally reports one event's result to Options.Observer.
func (s *server) tally(ctx context.Context, res client.Result, err error) {
	if s.Observer == nil {
		return
	}
	switch {
	case err == nil && res.Duplicate:
		s.Observer.Intake(ctx, engine.IntakeDuplicate)
	case err == nil:
		s.Observer.Intake(ctx, engine.IntakeAccepted)
	case statusOf(err) >= 500:
		s.Observer.Intake(ctx, engine.IntakeUnavailable)
	default:
		s.Observer.Intake(ctx, engine.IntakeRejected)
	}
}

// batchResult is the answer for one event of a batch.
type batchResult struct {
	Index     int    `json:"index"`
	Status    int    `json:"status"`
	ID        string `json:"id,omitempty"`
	Duplicate bool   `json:"duplicate,omitempty"`
	Error     string `json:"error,omitempty"`
}

// postBatch checks and sends every event on its own. Once Redis has failed one event the
// remaining valid ones are answered 503 without waiting for Redis again, and the whole
// answer is 503: ids are idempotency keys, so the sender can retry the whole batch.
func (s *server) postBatch(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := s.decode(w, r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if len(body.Events) == 0 || len(body.Events) > MaxBatch {
		s.fail(w, r, &badRequest{"events", fmt.Sprintf("must hold 1 to %d events, not %d", MaxBatch, len(body.Events))})
		return
	}
	results := make([]batchResult, len(body.Events))
	var unavailable error
	for i, raw := range body.Events {
		prefix := fmt.Sprintf("events[%d]", i)
		results[i].Index = i
		ev, err := parseEvent(raw, prefix)
		if err == nil && unavailable != nil {
			err = unavailable
		}
		var res client.Result
		if err == nil {
			res, err = s.send(r.Context(), ev, prefix)
		}
		s.tally(r.Context(), res, err)
		switch {
		case err == nil:
			results[i].ID, results[i].Duplicate = res.ID, res.Duplicate
			results[i].Status = http.StatusAccepted
			if res.Duplicate {
				results[i].Status = http.StatusOK
			}
		case statusOf(err) >= 500:
			if unavailable == nil {
				unavailable = err
			}
			results[i].Status, results[i].Error = http.StatusServiceUnavailable, unavailableMsg
		default:
			results[i].Status, results[i].Error = statusOf(err), err.Error()
		}
	}
	if unavailable != nil {
		s.Logger.Error("batch refused: queue unavailable", "method", r.Method, "path", r.URL.Path,
			"events", len(body.Events), "err", unavailable)
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"results": results})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": results})
}

// event checks the wire event and turns it into an event.Event.
func (we *wireEvent) event(prefix string) (event.Event, error) {
	ev := event.Event{ID: we.ID, Type: we.Type, CustomerID: we.CustomerID, Customer: we.Customer, Data: we.Data}
	if err := numbers(join(prefix, "customer"), we.Customer); err != nil {
		return ev, err
	}
	if err := numbers(join(prefix, "data"), we.Data); err != nil {
		return ev, err
	}
	if we.OccurredAt != nil {
		t, err := time.Parse(time.RFC3339Nano, *we.OccurredAt)
		if err != nil {
			return ev, &badRequest{join(prefix, "occurred_at"), "must be an RFC 3339 time like 2026-11-22T10:00:00Z"}
		}
		ev.OccurredAt = t
	}
	if err := ev.Validate(); err != nil {
		return ev, intakeError(err, prefix)
	}
	return ev, nil
}

// numbers turns the json.Numbers that strictUnmarshal leaves inside v into float64, as
// the rest of Rapport reads numbers, refusing one too large for a float64 (1e999) with
// the path to it.
func numbers(path string, v any) error {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if n, ok := x.(json.Number); ok {
				f, err := number(path+"."+k, n)
				if err != nil {
					return err
				}
				v[k] = f
				continue
			}
			if err := numbers(path+"."+k, x); err != nil {
				return err
			}
		}
	case []any:
		for i, x := range v {
			p := fmt.Sprintf("%s[%d]", path, i)
			if n, ok := x.(json.Number); ok {
				f, err := number(p, n)
				if err != nil {
					return err
				}
				v[i] = f
				continue
			}
			if err := numbers(p, x); err != nil {
				return err
			}
		}
	}
	return nil
}

func number(path string, n json.Number) (float64, error) {
	f, err := n.Float64()
	if err != nil {
		return 0, &badRequest{path, "must be a finite number, not " + n.String()}
	}
	return f, nil
}

// join names field inside prefix: events[1] and type make events[1].type.
func join(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "":
		return prefix
	}
	return prefix + "." + field
}

// decode reads a size-limited JSON body strictly into v.
func (s *server) decode(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	return strictUnmarshal(body, v, "")
}

// readBody reads the body, refusing one over MaxBodyBytes.
func (s *server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, errTooLarge{tooBig.Limit}
		}
		return nil, &badRequest{"", "could not read the body: " + err.Error()}
	}
	return body, nil
}

// strictUnmarshal decodes one JSON value refusing unknown fields, naming the field at
// fault, or the byte offset of malformed JSON.
func strictUnmarshal(data []byte, v any, prefix string) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return &badRequest{prefix, "the body is empty: send a JSON object"}
	}
	// Syntax first, over the whole input: a truncated body or trailing data is reported
	// with its byte offset, which the streaming decoder does not give.
	var syn *json.SyntaxError
	if err := json.Unmarshal(data, new(json.RawMessage)); errors.As(err, &syn) {
		return &badRequest{prefix, fmt.Sprintf("malformed JSON at byte %d: %v", syn.Offset, syn)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber() // numbers too large for a float64 are refused by numbers, naming them
	err := dec.Decode(v)
	if err == nil {
		return nil
	}
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typ):
		return &badRequest{join(prefix, typ.Field), "must be " + jsonType(typ.Type.Kind().String()) + ", not " + typ.Value}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &badRequest{join(prefix, field), "is not a known field"}
	}
	return &badRequest{prefix, err.Error()}
}

func jsonType(kind string) string {
	switch kind {
	case "string", "ptr":
		return "a string"
	case "map", "struct":
		return "an object"
	case "slice":
		return "an array"
	case "bool":
		return "true or false"
	case "float64", "float32", "int", "int64":
		return "a number"
	}
	return kind
}

// intakeError maps validation errors onto 400s naming the field; other errors pass.
func intakeError(err error, prefix string) error {
	var fe *event.FieldError
	if errors.As(err, &fe) {
		return &badRequest{join(prefix, fe.Field), fe.Message}
	}
	return err
}

// statusOf is the HTTP status of an error: 400, 413, or 503 for everything else, which
// is a failure of Redis or of the engine behind it and safe to retry.
func statusOf(err error) int {
	var br *badRequest
	var tl errTooLarge
	switch {
	case errors.As(err, &br):
		return http.StatusBadRequest
	case errors.As(err, &tl):
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusServiceUnavailable
}

// fail answers with err's status; a 5xx is logged here, once.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	field := ""
	var br *badRequest
	if errors.As(err, &br) {
		field = br.field
	}
	msg := err.Error()
	if status >= 500 {
		s.Logger.Error("request refused", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
		w.Header().Set("Retry-After", "1")
		msg = unavailableMsg
		if !errors.Is(err, client.ErrUnavailable) {
			msg = "internal error: the request was not carried out; try again"
		}
	}
	writeError(w, status, msg, field)
}

func writeError(w http.ResponseWriter, status int, msg, field string) {
	body := map[string]string{"error": msg}
	if field != "" {
		body["field"] = field
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
