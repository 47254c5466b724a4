package channels_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rapporthq/rapport/channels"
)

type counting struct {
	sends, closes, checks atomic.Int32
}

func (c *counting) Send(context.Context, channels.Message) (channels.Receipt, error) {
	c.sends.Add(1)
	return channels.Receipt{ProviderID: "p"}, nil
}
func (c *counting) Close() error                { c.closes.Add(1); return nil }
func (c *counting) Check(context.Context) error { c.checks.Add(1); return errors.New("bad token") }

func TestARateLimitedSendThatCannotWaitItsTurnSendsNothingAndIsTemporary(t *testing.T) {
	inner := &counting{}
	ch := channels.RateLimited(inner, 1.0/60) // one a minute
	if r, err := ch.Send(context.Background(), channels.Message{}); err != nil || r.ProviderID != "p" {
		t.Fatalf("first send: %+v %v", r, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := ch.Send(ctx, channels.Message{}); !channels.IsTemporary(err) {
		t.Fatalf("second send within the minute: %v, want temporary", err)
	}
	if inner.sends.Load() != 1 {
		t.Fatalf("%d sends reached the channel, want 1", inner.sends.Load())
	}
}

func TestARateLimitedChannelPassesCloseAndCheckOn(t *testing.T) {
	inner := &counting{}
	ch := channels.RateLimited(inner, 10)
	if err := ch.(channels.Closer).Close(); err != nil || inner.closes.Load() != 1 {
		t.Fatalf("close: %v, %d", err, inner.closes.Load())
	}
	if err := ch.(channels.Checker).Check(context.Background()); err == nil || inner.checks.Load() != 1 {
		t.Fatalf("check: %v, %d", err, inner.checks.Load())
	}
	if ch.(interface{ Unwrap() channels.Channel }).Unwrap() != inner {
		t.Fatal("Unwrap does not return the channel")
	}
	plain := channels.RateLimited(channels.ChannelFunc(func(context.Context, channels.Message) (channels.Receipt, error) {
		return channels.Receipt{}, nil
	}), 10)
	if _, ok := plain.(channels.Checker); ok {
		t.Fatal("a channel that cannot be checked became a Checker")
	}
	if plain.(channels.Closer).Close() != nil {
		t.Fatal("a channel with nothing to close did not close")
	}
}
