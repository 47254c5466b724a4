package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"runtime"
	"time"

	"github.com/hibiken/asynq"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/client"
	"github.com/rapporthq/rapport/event"
)

// Delivery compares emails per second from events in to emails out.
type Delivery struct {
	// EmailsPerS is emails per second, from the first event sent to the last email
	// received; Ratio is Rapport's share of the bare rate.
	EmailsPerS Pair    `json:"emails_per_s"`
	Ratio      float64 `json:"ratio"`
	// Per email: Go CPU of the whole process (producer and SMTP sink included, alike on
	// both sides), Redis CPU, and Redis commands.
	GoCPUMicros    Pair `json:"go_cpu_us"`
	RedisCPUMicros Pair `json:"redis_cpu_us"`
	RedisCalls     Pair `json:"redis_calls"`
	RoundTrips     Pair `json:"redis_round_trips"`
}

// nowJourney sends the shipped thank-you email as soon as an order is placed.
const nowJourney = `
id: thank-you
trigger: {event: order.placed}
steps:
  - send: {template: thank-you, channels: [email], caps: bypass}
`

// orderEvent is a typical order.placed event of about 280 bytes of JSON.
func orderEvent(id string, i int) event.Event {
	return event.Event{ID: id, Type: "order.placed", CustomerID: fmt.Sprintf("c-%d", i), OccurredAt: time.Now().UTC(),
		Customer: map[string]any{"email": fmt.Sprintf("c%d@example.com", i), "first_name": "Anna"},
		Data: map[string]any{"order_id": fmt.Sprintf("A-%d", i), "total": 59.9,
			"items": []any{map[string]any{"name": "Ethiopia Guji", "category": "coffee", "price": 19.9}}}}
}

// producers is how many goroutines send events, as a busy shop backend's would.
const producers = 32

func runDelivery(ctx context.Context, st *stack) (*Delivery, error) {
	n := st.cfg.Emails
	var rate, goCPU, redisCPU, calls, trips [2][]float64 // [0] Rapport, [1] bare
	// measure times run, which starts a server and sends n events, until n emails are in
	// the sink; then it stops the server, outside the timing.
	measure := func(side int, run func() (stop func(), err error)) error {
		before, err := st.meter(ctx)
		if err != nil {
			return err
		}
		want := st.sink.Count() + n
		start := time.Now()
		stop, err := run()
		if stop != nil {
			defer stop()
		}
		if err != nil {
			return err
		}
		if err := st.waitSink(ctx, want); err != nil {
			return err
		}
		took := time.Since(start)
		after, err := st.meter(ctx)
		if err != nil {
			return err
		}
		g, r, c, t := before.per(after, n)
		rate[side] = append(rate[side], float64(n)/took.Seconds())
		goCPU[side], redisCPU[side], calls[side] = append(goCPU[side], g), append(redisCPU[side], r), append(calls[side], c)
		trips[side] = append(trips[side], t)
		st.logf("delivery %-7s %8.0f emails/s  %5.0f µs Go + %4.0f µs Redis CPU, %4.1f Redis commands in %4.1f round trips per email",
			[]string{"rapport", "bare"}[side], float64(n)/took.Seconds(), g, r, c, t)
		return nil
	}

	eng, err := st.engine(nowJourney, st.emailChannels(nil), nil)
	if err != nil {
		return nil, err
	}
	cl := client.NewFromRedis(st.rdb)
	rapport := func(rep int) error {
		w := st.worker(eng)
		return measure(0, func() (func(), error) {
			if err := w.Start(); err != nil {
				return nil, err
			}
			return w.Shutdown, produce(n, producers, func(i int) error {
				_, err := cl.Send(ctx, orderEvent(fmt.Sprintf("d%d-%d", rep, i), i))
				return err
			})
		})
	}
	bare := func(rep int) error {
		srv := bareServer(st)
		q := asynq.NewClientFromRedisClient(st.rdb)
		mux := asynq.NewServeMux()
		mux.HandleFunc("send", bareSend(st.smtp, nil))
		return measure(1, func() (func(), error) {
			if err := srv.Start(mux); err != nil {
				return nil, err
			}
			return srv.Shutdown, produce(n, producers, func(i int) error {
				payload, err := json.Marshal(bareMessage{To: fmt.Sprintf("c%d@example.com", i), Name: "Anna",
					Order: fmt.Sprintf("A-%d", i), Items: []string{"Ethiopia Guji"}})
				if err != nil {
					return err
				}
				_, err = q.EnqueueContext(ctx, asynq.NewTask("send", payload))
				return err
			})
		})
	}
	if err := alternateSettled(ctx, st, rapport, bare); err != nil {
		return nil, err
	}
	d := &Delivery{EmailsPerS: pair(rate[0], rate[1]), GoCPUMicros: pair(goCPU[0], goCPU[1]),
		RedisCPUMicros: pair(redisCPU[0], redisCPU[1]), RedisCalls: pair(calls[0], calls[1]), RoundTrips: pair(trips[0], trips[1])}
	d.Ratio = d.EmailsPerS.Ratio
	return d, nil
}

// alternateSettled is alternate with a garbage collection before each measurement, so
// that one side's garbage is not collected on the other's time.
func alternateSettled(ctx context.Context, st *stack, rapport, bare func(rep int) error) error {
	settle := func(f func(int) error) func(int) error {
		return func(rep int) error {
			runtime.GC()
			return f(rep)
		}
	}
	return alternate(ctx, st, st.cfg.Reps, settle(rapport), settle(bare))
}

// bareServer is a plain asynq server on the default queue, sized and polling like
// Rapport's worker.
func bareServer(st *stack) *asynq.Server {
	return asynq.NewServerFromRedisClient(st.rdb, asynq.Config{Concurrency: st.cfg.Concurrency,
		DelayedTaskCheckInterval: st.cfg.PollInterval, TaskCheckInterval: st.cfg.PollInterval,
		Logger: nopLogger{}, LogLevel: asynq.ErrorLevel})
}

// bareMessage is the bare pipeline's task payload.
type bareMessage struct {
	To, Name, Order string
	Items           []string
	Due             int64 `json:",omitempty"` // unix ms, for lateness
}

var bareTemplate = template.Must(template.New("t").Parse(
	`<p>Hi {{ .Name }}, thank you for order {{ .Order }}.</p><ul>{{ range .Items }}<li>{{ . }}</li>{{ end }}</ul>`))

// bareSend is the bare pipeline's handler: decode, render with html/template, send through
// the pool. before, when set, is called with the decoded message just before the send.
func bareSend(ch channels.Channel, before func(bareMessage)) asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		var m bareMessage
		if err := json.Unmarshal(t.Payload(), &m); err != nil {
			return err
		}
		var body bytes.Buffer
		if err := bareTemplate.Execute(&body, m); err != nil {
			return err
		}
		if before != nil {
			before(m)
		}
		_, err := ch.Send(ctx, channels.Message{To: m.To, Subject: "Thank you", HTML: body.String(), Text: "Thank you"})
		return err
	}
}

// nopLogger keeps the bare asynq server quiet.
type nopLogger struct{}

func (nopLogger) Debug(...any) {}
func (nopLogger) Info(...any)  {}
func (nopLogger) Warn(...any)  {}
func (nopLogger) Error(...any) {}
func (nopLogger) Fatal(...any) {}

func numCPU() int { return runtime.NumCPU() }
