// Package retry is Rapport's retry policy for steps and timers whose work failed for a
// reason that may pass: how many times a task is tried again, and how long to wait before
// each try. The asynq worker (internal/queue) and the virtual-clock simulator (sim) both
// use it, so a simulation retries exactly as production does.
package retry

import (
	"errors"
	"math"
	"time"

	"github.com/rapporthq/rapport/channels"
)

// MaxRetry is how often a step whose channel fails temporarily is retried before it is
// recorded as failed.
const MaxRetry = 12

// Base is the first retry delay; each further retry doubles it, up to MaxDelay.
const Base = 10 * time.Second

// MaxDelay bounds the delay between two tries.
const MaxDelay = time.Hour

// Delay returns how long to wait before retry n (0 for the first retry) after err: the
// wait a channel asked for (a *channels.TemporaryError with RetryAfter), or else base
// doubled n times, at most MaxDelay, scaled by a jitter factor in [0.8, 1.2) drawn from
// rnd (a func returning [0, 1), such as rand.Float64). A nil rnd means no jitter.
func Delay(base time.Duration, n int, err error, rnd func() float64) time.Duration {
	var te *channels.TemporaryError
	if errors.As(err, &te) && te.RetryAfter > 0 {
		return te.RetryAfter
	}
	d := float64(base) * math.Pow(2, float64(n))
	d = math.Min(d, float64(MaxDelay))
	if rnd != nil {
		d *= 0.8 + 0.4*rnd()
	}
	return time.Duration(d)
}
