package channels

import (
	"context"
	"fmt"

	"golang.org/x/time/rate"
)

// RateLimited returns ch with its sends held to perSecond messages a second (a fraction
// for slower rates: 1/60 is one a minute), counted across every goroutine that uses the
// returned Channel. Sends are spaced evenly, with a burst of one: in any second at most
// perSecond+1 messages leave. A send waits for its turn before anything else happens;
// when ctx ends first, or its deadline comes before the turn, it returns a
// *TemporaryError and nothing was sent.
//
// The result passes Close on to ch when ch holds resources, is a Checker exactly when
// ch is one, and Unwrap returns ch.
func RateLimited(ch Channel, perSecond float64) Channel {
	l := &limited{ch: ch, lim: rate.NewLimiter(rate.Limit(perSecond), 1)}
	if c, ok := ch.(Checker); ok {
		return &checkedLimited{limited: l, c: c}
	}
	return l
}

type limited struct {
	ch  Channel
	lim *rate.Limiter
}

// Send waits for the limiter, then sends through the wrapped channel.
func (l *limited) Send(ctx context.Context, msg Message) (Receipt, error) {
	if err := l.lim.Wait(ctx); err != nil {
		return Receipt{}, Temporary(fmt.Errorf("waiting for the channel's rate limit: %w", err))
	}
	return l.ch.Send(ctx, msg)
}

// Close closes the wrapped channel if it holds resources.
func (l *limited) Close() error {
	if c, ok := l.ch.(Closer); ok {
		return c.Close()
	}
	return nil
}

// Unwrap returns the wrapped channel.
func (l *limited) Unwrap() Channel { return l.ch }

// checkedLimited is a limited channel that can be checked.
type checkedLimited struct {
	*limited
	c Checker
}

// Check checks the wrapped channel; it is not held by the rate limit.
func (l *checkedLimited) Check(ctx context.Context) error { return l.c.Check(ctx) }
