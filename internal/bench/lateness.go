package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"

	"github.com/rapporthq/rapport/channels"
)

// Lateness is how long after their due time a burst of steps, all due within one second,
// reached the channel; figures are medians over the repetitions.
type Lateness struct {
	Rapport Late `json:"rapport"`
	Bare    Late `json:"bare"`
	// Early counts Rapport's steps sent before their due time, over all repetitions. It
	// must be 0.
	Early int `json:"early"`
	// DrainRatio is the bare drain time over Rapport's: how fast Rapport works off the
	// burst, as a share of bare asynq's speed.
	DrainRatio float64 `json:"drain_ratio"`
}

// Late describes one side's sends against their due times.
type Late struct {
	P50MS float64 `json:"p50_ms"`
	P99MS float64 `json:"p99_ms"`
	MaxMS float64 `json:"max_ms"`
	// Early counts sends before the due time, over all repetitions.
	Early int `json:"early"`
	// DrainS is from the first due time to the last send.
	DrainS float64 `json:"drain_s"`
}

// slices of the second the burst is due in: due times are 50 ms apart.
const dueSlices = 20

// dueJourney sends the thank-you email an hour after the order, as the fixed clock
// arming it sees time.
const dueJourney = `
id: due
trigger: {event: order.placed}
steps:
  - wait: 1h
    send: {template: thank-you, channels: [email], caps: bypass}
`

// lateLog collects send times against due times.
type lateLog struct {
	mu    sync.Mutex
	late  []time.Duration
	last  time.Time
	early atomic.Int64
}

func (l *lateLog) add(due time.Time) {
	now := time.Now()
	d := now.Sub(due)
	if d < 0 {
		l.early.Add(1)
	}
	l.mu.Lock()
	l.late = append(l.late, d)
	if now.After(l.last) {
		l.last = now
	}
	l.mu.Unlock()
}

// lateChannel records when each message reached the channel against its customer's due
// time, then sends it.
type lateChannel struct {
	next channels.Channel
	due  map[string]time.Time // by address; written before the worker starts
	log  *lateLog
}

func (c *lateChannel) Send(ctx context.Context, m channels.Message) (channels.Receipt, error) {
	c.log.add(c.due[m.To])
	return c.next.Send(ctx, m)
}

// fixedClock is the system clock, or a fixed time while one is set.
type fixedClock struct{ at atomic.Pointer[time.Time] }

func (c *fixedClock) set(t time.Time) { c.at.Store(&t) }

func (c *fixedClock) Now() time.Time {
	if t := c.at.Load(); t != nil && !t.IsZero() {
		return *t
	}
	return time.Now()
}

func runLateness(ctx context.Context, st *stack) (*Lateness, error) {
	n := st.cfg.Due
	addr := func(i int) string { return fmt.Sprintf("c%d@example.com", i) }
	slice := func(i int) int { return i * dueSlices / n }
	var results [2][]Late
	var logs [2]*lateLog

	// burst arms every step with its due time, starts the worker and waits for all n.
	// The burst falls due once all of it is armed, which takes a while. A pilot, armed
	// the same way an hour ahead, tells how long: the burst is due at the first whole
	// second after four times that time and half a second more (a pilot of 2% finishes
	// faster than the whole, which queues behind itself).
	burst := func(side int, pilot func(from, to int) error, arm func(first time.Time) error, start func() (stop func(), err error)) error {
		p := max(10, n/50)
		t0 := time.Now()
		if err := pilot(n, n+p); err != nil {
			return err
		}
		estimate := time.Since(t0) * time.Duration(n) / time.Duration(p)
		// A busy machine can slow arming down past the estimate: then the burst is
		// armed again on a flushed database, with twice the margin.
		var first time.Time
		for attempt := 0; ; attempt++ {
			first = time.Now().Add(500*time.Millisecond + estimate*time.Duration(4<<attempt)).Truncate(time.Second).Add(time.Second)
			logs[side] = &lateLog{}
			armed := time.Now()
			st.logf("lateness %-7s arming %d steps due at %s (pilot: %v for %d)", []string{"rapport", "bare"}[side], n,
				first.Format("15:04:05"), estimate*time.Duration(p)/time.Duration(n), p)
			if err := arm(first); err != nil {
				return err
			}
			if time.Until(first) >= 200*time.Millisecond {
				break
			}
			if attempt == 2 {
				return fmt.Errorf("arming %d steps took %v, past their due time; measure fewer with --due", n, time.Since(armed).Round(time.Millisecond))
			}
			st.logf("lateness: arming took %v, past the due time; again with more time", time.Since(armed).Round(time.Millisecond))
			if err := st.flush(ctx); err != nil {
				return err
			}
		}
		want := st.sink.Count() + n
		stop, err := start()
		if err != nil {
			return err
		}
		defer stop()
		select { // nothing is due before first: wait for progress from then on
		case <-time.After(time.Until(first)):
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := st.waitSink(ctx, want); err != nil {
			return err
		}
		l := logs[side]
		l.mu.Lock()
		defer l.mu.Unlock()
		slices.Sort(l.late)
		ms := func(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 1) }
		r := Late{P50MS: ms(l.late[len(l.late)/2]), P99MS: ms(l.late[len(l.late)*99/100]), MaxMS: ms(l.late[len(l.late)-1]),
			Early: int(l.early.Load()), DrainS: round(l.last.Sub(first).Seconds(), 3)}
		results[side] = append(results[side], r)
		st.logf("lateness %-7s p50 %6.0f ms, p99 %6.0f ms, max %6.0f ms, %d early, drained in %.2f s",
			[]string{"rapport", "bare"}[side], r.P50MS, r.P99MS, r.MaxMS, r.Early, r.DrainS)
		return nil
	}

	due := make(map[string]time.Time, n)
	clock := &fixedClock{}
	ch := &lateChannel{next: st.smtp, due: due}
	eng, err := st.engine(dueJourney, st.emailChannels(ch), clock)
	if err != nil {
		return nil, err
	}
	rapport := func(rep int) error {
		// Arming goes through the engine at a clock set an hour before each slice's due
		// time; a step costs it a few Redis round trips.
		return burst(0, func(from, to int) error {
			clock.set(time.Time{})
			return produce(to-from, producers, func(i int) error {
				return eng.HandleEvent(ctx, orderEvent(fmt.Sprintf("p%d-%d", rep, from+i), from+i))
			})
		}, func(first time.Time) error {
			ch.log = logs[0]
			for i := 0; i < n; i++ {
				due[addr(i)] = first.Add(time.Duration(slice(i)) * time.Second / dueSlices)
			}
			groups := make([][]int, dueSlices)
			for i := 0; i < n; i++ {
				groups[slice(i)] = append(groups[slice(i)], i)
			}
			for s, group := range groups {
				clock.set(first.Add(time.Duration(s)*time.Second/dueSlices - time.Hour))
				err := produce(len(group), producers, func(i int) error {
					c := group[i]
					return eng.HandleEvent(ctx, orderEvent(fmt.Sprintf("l%d-%d", rep, c), c))
				})
				if err != nil {
					return err
				}
			}
			clock.set(time.Time{})
			return nil
		}, func() (func(), error) {
			w := st.worker(eng)
			return w.Shutdown, w.Start()
		})
	}
	bare := func(rep int) error {
		q := asynq.NewClientFromRedisClient(st.rdb)
		enqueue := func(i int, at time.Time) error {
			m := newBareMessage(fmt.Sprintf("l%d-%d", rep, i), i)
			m.Due = at.UnixMilli()
			payload, err := json.Marshal(m)
			if err != nil {
				return err
			}
			_, err = q.EnqueueContext(ctx, asynq.NewTask("send", payload), asynq.ProcessAt(at))
			return err
		}
		return burst(1, func(from, to int) error {
			later := time.Now().Add(time.Hour)
			return produce(to-from, producers, func(i int) error { return enqueue(from+i, later) })
		}, func(first time.Time) error {
			return produce(n, producers, func(i int) error {
				return enqueue(i, first.Add(time.Duration(slice(i))*time.Second/dueSlices))
			})
		}, func() (func(), error) {
			srv := bareServer(st)
			mux := asynq.NewServeMux()
			log := logs[1]
			mux.HandleFunc("send", bareSend(st.smtp, func(m bareMessage) { log.add(time.UnixMilli(m.Due)) }))
			return srv.Shutdown, srv.Start(mux)
		})
	}
	if err := alternateSettled(ctx, st, rapport, bare); err != nil {
		return nil, err
	}
	l := &Lateness{Rapport: medianLate(results[0]), Bare: medianLate(results[1])}
	l.Early = l.Rapport.Early
	if l.Rapport.DrainS > 0 {
		l.DrainRatio = round(l.Bare.DrainS/l.Rapport.DrainS, 3)
	}
	return l, nil
}

// medianLate is the median of each figure, and the sum of early sends.
func medianLate(rs []Late) Late {
	var out Late
	pick := func(f func(Late) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		return median(v)
	}
	out.P50MS = pick(func(r Late) float64 { return r.P50MS })
	out.P99MS = pick(func(r Late) float64 { return r.P99MS })
	out.MaxMS = pick(func(r Late) float64 { return r.MaxMS })
	out.DrainS = pick(func(r Late) float64 { return r.DrainS })
	for _, r := range rs {
		out.Early += r.Early
	}
	return out
}
