// Package client is the Go client a shop backend imports to send trigger events to Rapport
// straight into Redis, without the HTTP API. It gives the same guarantees as
// `POST /v1/events`: an event is accepted only once it is durably in Redis, and an event
// id sent again within seven days is reported as a duplicate and changes nothing.
//
//	c, err := client.New("redis://127.0.0.1:6379/0")
//	res, err := c.Send(ctx, event.Event{ID: "evt-1", Type: "order.placed", CustomerID: "c-42"})
//
// On a Redis Cluster or behind Sentinel, connect with NewUniversal, or hand a go-redis
// cluster or failover client to NewFromRedis.
package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/rapporthq/rapport/event"
)

// ErrUnavailable wraps failures to reach Redis: the event was not accepted and may be sent
// again safely.
var ErrUnavailable = errors.New("rapport: redis unavailable")

// MaxRetry is how many times the worker retries processing an accepted event.
const MaxRetry = 25

// Result tells what became of one sent event.
type Result struct {
	// ID is the event's id, generated when the event had none.
	ID string `json:"id"`
	// Duplicate is true when an event with this id was already accepted; nothing changed.
	Duplicate bool `json:"duplicate,omitempty"`
}

// Client sends events. It is safe for concurrent use.
type Client struct {
	q     *asynq.Client
	owned redis.UniversalClient
	now   func() time.Time
}

// New connects to the Redis that Rapport's worker uses, given as a redis:// URL. For a
// Redis Cluster or Sentinel use NewUniversal.
func New(redisURL string) (*Client, error) {
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("rapport client: %w", err)
	}
	rc := redis.NewClient(opt)
	c := NewFromRedis(rc)
	c.owned = rc
	return c, nil
}

// NewUniversal connects with go-redis universal options: Addrs with IsClusterMode (or
// several Addrs) for a Redis Cluster, MasterName with Sentinel Addrs for failover, one
// Addr for a single server. Close releases the connection.
//
//	c, err := client.NewUniversal(&redis.UniversalOptions{Addrs: []string{"10.0.0.1:7000"}, IsClusterMode: true})
func NewUniversal(opt *redis.UniversalOptions) (*Client, error) {
	if opt == nil || len(opt.Addrs) == 0 {
		return nil, errors.New("rapport client: no Redis address")
	}
	rc := redis.NewUniversalClient(opt)
	c := NewFromRedis(rc)
	c.owned = rc
	return c, nil
}

// NewFromRedis sends events through an existing go-redis client, which the caller keeps
// and closes.
func NewFromRedis(rc redis.UniversalClient) *Client {
	return &Client{q: asynq.NewClientFromRedisClient(rc), now: time.Now}
}

// Close releases the connection when New opened it.
func (c *Client) Close() error {
	if c.owned != nil {
		return c.owned.Close()
	}
	return nil
}

// Send validates ev and enqueues it for the worker. It fills an empty ID with a random one
// and a zero OccurredAt with the current time. A validation failure is an
// *event.FieldError; a Redis failure wraps ErrUnavailable.
func (c *Client) Send(ctx context.Context, ev event.Event) (Result, error) {
	if ev.ID == "" {
		ev.ID = newID()
	}
	if err := ev.Validate(); err != nil {
		return Result{}, err
	}
	if ev.OccurredAt.IsZero() {
		ev.OccurredAt = c.now().UTC()
	}
	payload, err := event.Marshal(ev)
	if err != nil {
		return Result{}, fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	_, err = c.q.EnqueueContext(ctx, asynq.NewTask(event.TaskType, payload),
		asynq.TaskID(event.TaskID(ev.ID)),
		asynq.Queue(event.Queue),
		asynq.MaxRetry(MaxRetry),
		// A processed event stays as a completed task for the dedup window, so its id
		// keeps conflicting: that is the idempotency, atomic in the enqueue script.
		asynq.Retention(event.DedupWindow))
	switch {
	case errors.Is(err, asynq.ErrTaskIDConflict):
		return Result{ID: ev.ID, Duplicate: true}, nil
	case err != nil:
		return Result{}, fmt.Errorf("%w: enqueue event %s: %v", ErrUnavailable, ev.ID, err)
	}
	return Result{ID: ev.ID}, nil
}

// Ping checks that Redis answers.
func (c *Client) Ping() error {
	if err := c.q.Ping(); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nil
}

func newID() string {
	var b [12]byte
	rand.Read(b[:]) // never fails: crypto/rand.Read crashes the program rather than return an error
	return "evt-" + hex.EncodeToString(b[:])
}
