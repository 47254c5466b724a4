package api

import (
	"bytes"
	"context"
	"crypto/subtle"
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
)

// Intake accepts events; *client.Client is one.
type Intake interface {
	Send(ctx context.Context, ev event.Event) (client.Result, error)
}

// JourneyInfo describes a loaded journey for GET /v1/journeys.
type JourneyInfo struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Trigger string `json:"trigger"`
	Steps   int    `json:"steps"`
}

// Options configure New.
type Options struct {
	// Tokens are the accepted bearer tokens.
	Tokens []string
	Intake Intake
	// Ready reports whether Redis is reachable, for /readyz.
	Ready func(ctx context.Context) error
	// Journeys lists the loaded journeys; nil leaves GET /v1/journeys out.
	Journeys func() []JourneyInfo
	// Customers serves /v1/customers; nil leaves those endpoints out.
	Customers Customers
	// Unsubscribe verifies one-click unsubscribe tokens; with Customers it serves
	// GET and POST /unsubscribe/{token}.
	Unsubscribe Verifier
	Logger      *slog.Logger
	// MaxBodyBytes bounds request bodies; default 1 MiB.
	MaxBodyBytes int64
}

// MaxBatch is the most events one batch may carry.
const MaxBatch = 1000

type server struct {
	Options
}

// New returns the API handler.
func New(opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	s := &server{opts}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("POST /v1/events", s.auth(http.HandlerFunc(s.postEvent)))
	mux.Handle("POST /v1/events/batch", s.auth(http.HandlerFunc(s.postBatch)))
	if opts.Journeys != nil {
		mux.Handle("GET /v1/journeys", s.auth(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, map[string]any{"journeys": opts.Journeys()})
		})))
	}
	if opts.Customers != nil {
		s.customerRoutes(mux)
		if opts.Unsubscribe != nil {
			mux.HandleFunc("GET /unsubscribe/{token}", s.unsubscribe)
			mux.HandleFunc("POST /unsubscribe/{token}", s.unsubscribe)
		}
	}
	return mux
}

func (s *server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !s.validToken(strings.TrimSpace(tok)) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="rapport"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token", "")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *server) validToken(tok string) bool {
	if tok == "" {
		return false
	}
	valid := false
	for _, t := range s.Tokens {
		if t != "" && subtle.ConstantTimeCompare([]byte(t), []byte(tok)) == 1 {
			valid = true
		}
	}
	return valid
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if s.Ready != nil {
		if err := s.Ready(ctx); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": "redis: " + err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// wireEvent is the JSON of one event; occurred_at is checked by hand to name the field.
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

func (s *server) postEvent(w http.ResponseWriter, r *http.Request) {
	body, err := s.readBody(w, r)
	if err != nil {
		s.fail(w, err)
		return
	}
	res, err := s.accept(r.Context(), body, "")
	switch {
	case err != nil:
		s.fail(w, err)
	case res.Duplicate:
		writeJSON(w, http.StatusOK, map[string]any{"id": res.ID, "duplicate": true})
	default:
		writeJSON(w, http.StatusAccepted, map[string]any{"id": res.ID})
	}
}

// accept decodes one event, checks it and hands it to the intake. Errors name the field,
// prefixed (events[3].type) inside a batch.
func (s *server) accept(ctx context.Context, raw []byte, prefix string) (client.Result, error) {
	var we wireEvent
	if err := strictUnmarshal(raw, &we, prefix); err != nil {
		return client.Result{}, err
	}
	ev, err := we.event(prefix)
	if err != nil {
		return client.Result{}, err
	}
	res, err := s.Intake.Send(ctx, ev)
	if err != nil {
		return client.Result{}, intakeError(err, prefix)
	}
	return res, nil
}

type batchResult struct {
	Index     int    `json:"index"`
	Status    int    `json:"status"`
	ID        string `json:"id,omitempty"`
	Duplicate bool   `json:"duplicate,omitempty"`
	Error     string `json:"error,omitempty"`
}

func (s *server) postBatch(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := s.decode(w, r, &body); err != nil {
		s.fail(w, err)
		return
	}
	if len(body.Events) == 0 || len(body.Events) > MaxBatch {
		s.fail(w, &badRequest{"events", fmt.Sprintf("must hold 1 to %d events, not %d", MaxBatch, len(body.Events))})
		return
	}
	results := make([]batchResult, len(body.Events))
	var unavailable error
	for i, raw := range body.Events {
		if unavailable != nil { // Redis is gone: do not wait for it once per event
			results[i] = batchResult{Index: i, Status: http.StatusServiceUnavailable, Error: unavailable.Error()}
			continue
		}
		res, err := s.accept(r.Context(), raw, fmt.Sprintf("events[%d]", i))
		switch {
		case err == nil && res.Duplicate:
			results[i] = batchResult{Index: i, Status: http.StatusOK, ID: res.ID, Duplicate: true}
		case err == nil:
			results[i] = batchResult{Index: i, Status: http.StatusAccepted, ID: res.ID}
		default:
			results[i] = batchResult{Index: i, Status: statusOf(err), Error: err.Error()}
			if results[i].Status == http.StatusServiceUnavailable {
				unavailable = err
			}
		}
	}
	if unavailable != nil {
		// Ids are idempotency keys, so the sender can safely retry the whole batch.
		s.Logger.Error("batch refused: redis unavailable", "err", unavailable)
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"results": results})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": results})
}

// event checks the wire event and turns it into an event.Event.
func (we *wireEvent) event(prefix string) (event.Event, error) {
	ev := event.Event{ID: we.ID, Type: we.Type, CustomerID: we.CustomerID, Customer: we.Customer, Data: we.Data}
	if we.OccurredAt != nil {
		t, err := time.Parse(time.RFC3339Nano, *we.OccurredAt)
		if err != nil {
			return ev, &badRequest{join(prefix, "occurred_at"), "must be an RFC 3339 time like 2026-11-22T10:00:00Z"}
		}
		ev.OccurredAt = t
	}
	if err := ev.Validate(); err != nil {
		var fe *event.FieldError
		if errors.As(err, &fe) {
			return ev, &badRequest{join(prefix, fe.Field), fe.Message}
		}
		return ev, &badRequest{prefix, err.Error()}
	}
	return ev, nil
}

func join(prefix, field string) string {
	if prefix == "" {
		return field
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

type errTooLarge struct{ limit int64 }

func (e errTooLarge) Error() string { return fmt.Sprintf("the body is larger than %d bytes", e.limit) }

// strictUnmarshal decodes JSON refusing unknown fields, naming the field at fault.
func strictUnmarshal(data []byte, v any, prefix string) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("unexpected data after the JSON value")
	}
	if err == nil {
		return nil
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return &badRequest{prefix, fmt.Sprintf("malformed JSON at byte %d: %v", syn.Offset, syn)}
	case errors.As(err, &typ):
		return &badRequest{join(prefix, typ.Field), "must be " + jsonType(typ.Type.Kind().String()) + ", not " + typ.Value}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &badRequest{join(prefix, field), "is not a known field"}
	case errors.Is(err, io.EOF):
		return &badRequest{prefix, "the body is empty: send a JSON object"}
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
	}
	return kind
}

// intakeError maps the intake's errors onto the API's.
func intakeError(err error, prefix string) error {
	var fe *event.FieldError
	if errors.As(err, &fe) {
		return &badRequest{join(prefix, fe.Field), fe.Message}
	}
	return err
}

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

func (s *server) fail(w http.ResponseWriter, err error) {
	status := statusOf(err)
	field := ""
	var br *badRequest
	if errors.As(err, &br) {
		field = br.field
	}
	msg := err.Error()
	if status == http.StatusServiceUnavailable {
		s.Logger.Error("event refused", "err", err)
		w.Header().Set("Retry-After", "1")
		if !errors.Is(err, client.ErrUnavailable) {
			msg = "internal error: " + msg
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
