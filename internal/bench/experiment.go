package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/rapporthq/rapport/client"
	"github.com/rapporthq/rapport/internal/abstat"
)

// Experiment compares the same journey with a split and a holdout against without
// either: Rapport is the journey with them, Bare the one without, both on Rapport.
type Experiment struct {
	// EventsPerS is order events turned into their step's outcome per second (an email,
	// or a held_out line for the holdout); Ratio is with over without.
	EventsPerS Pair `json:"events_per_s"`
	// GoCPUMicros and RedisCalls are per event while the queue drains: less at the
	// mercy of other processes on the machine than the rate.
	GoCPUMicros Pair `json:"go_cpu_us"`
	RedisCalls  Pair `json:"redis_calls"`
	// HeldOut is how many of the events' customers the holdout kept.
	HeldOut int `json:"held_out"`
}

// plainJourney sends one email at once per order, through the caps (so a holdout
// applies).
const plainJourney = `
id: bench-split
trigger: {event: order.placed}
steps:
  - id: thanks
    send: {template: thank-you, channels: [email]}
`

// splitJourney is plainJourney with a 10% holdout and the step split in two variants
// (the same template, so that only the experiment's own work differs).
const splitJourney = `
id: bench-split
holdout: 10%
trigger: {event: order.placed}
steps:
  - id: thanks
    send:
      channels: [email]
      variants:
        - {id: a, template: thank-you}
        - {id: b, template: thank-you}
`

func runExperiment(ctx context.Context, st *stack) (*Experiment, error) {
	n := st.cfg.Emails
	held := 0
	for i := range n {
		if abstat.HeldOut("bench-split", fmt.Sprintf("c-%d", i), 0.10) {
			held++
		}
	}
	with, err := st.engine(splitJourney, st.emailChannels(nil), nil)
	if err != nil {
		return nil, err
	}
	without, err := st.engine(plainJourney, st.emailChannels(nil), nil)
	if err != nil {
		return nil, err
	}
	cl := client.NewFromRedis(st.rdb)
	var rate, cpu, calls [2][]float64
	measure := func(side int, rep int) error {
		eng, emails := with, n-held
		if side == 1 {
			eng, emails = without, n
		}
		err := produce(n, producers, func(i int) error {
			_, err := cl.Send(ctx, orderEvent(fmt.Sprintf("x%d-%d-%d", side, rep, i), i))
			return err
		})
		if err != nil {
			return err
		}
		before, err := st.meter(ctx)
		if err != nil {
			return err
		}
		want := st.sink.Count() + emails
		began := time.Now()
		w := st.worker(eng)
		if err := w.Start(); err != nil {
			return err
		}
		defer w.Shutdown()
		if err := st.waitSink(ctx, want); err != nil {
			return err
		}
		took := time.Since(began)
		after, err := st.meter(ctx)
		if err != nil {
			return err
		}
		g, _, c, _ := before.per(after, n)
		rate[side] = append(rate[side], float64(n)/took.Seconds())
		cpu[side], calls[side] = append(cpu[side], g), append(calls[side], c)
		st.logf("experiment %-7s %8.0f events/s  %5.0f µs Go CPU, %4.1f Redis commands per event",
			[]string{"split", "plain"}[side], float64(n)/took.Seconds(), g, c)
		return nil
	}
	err = alternateSettled(ctx, st, func(rep int) error { return measure(0, rep) }, func(rep int) error { return measure(1, rep) })
	if err != nil {
		return nil, err
	}
	return &Experiment{EventsPerS: pair(rate[0], rate[1]), GoCPUMicros: pair(cpu[0], cpu[1]), RedisCalls: pair(calls[0], calls[1]),
		HeldOut: held}, nil
}
