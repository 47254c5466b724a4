package bench

import (
	"context"
	"encoding/json"
	"fmt"
	htmltemplate "html/template"
	"runtime"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/hibiken/asynq"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/client"
	"github.com/rapporthq/rapport/event"
)

// Delivery compares how fast a full queue turns into emails: n order events for Rapport
// (each enrols the customer in a journey whose first step sends at once), n send tasks
// for the bare pipeline, and the same email out of both.
type Delivery struct {
	// EmailsPerS is emails per second, from the worker's start to the last email
	// received, with every task queued before; Ratio is Rapport's share of the bare rate.
	EmailsPerS Pair    `json:"emails_per_s"`
	Ratio      float64 `json:"ratio"`
	// Per email, while the queue drains: Go CPU of the whole process (the SMTP sink
	// included, alike on both sides), Redis CPU, and Redis commands.
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
	// measure has load queue n tasks, then times start, which starts a server, until n
	// emails are in the sink; it stops the server after, outside the timing. The queue is
	// full before the server starts: asynq's processor sleeps a poll interval whenever it
	// finds its queues empty, so a server racing its producers would be timed on when
	// that sleep falls, not on how fast it works.
	measure := func(side int, load func() error, start func() (stop func(), err error)) error {
		if err := load(); err != nil {
			return err
		}
		before, err := st.meter(ctx)
		if err != nil {
			return err
		}
		want := st.sink.Count() + n
		began := time.Now()
		stop, err := start()
		if stop != nil {
			defer stop()
		}
		if err != nil {
			return err
		}
		if err := st.waitSink(ctx, want); err != nil {
			return err
		}
		took := time.Since(began)
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
		return measure(0, func() error {
			return produce(n, producers, func(i int) error {
				_, err := cl.Send(ctx, orderEvent(fmt.Sprintf("d%d-%d", rep, i), i))
				return err
			})
		}, func() (func(), error) {
			w := st.worker(eng)
			return w.Shutdown, w.Start()
		})
	}
	bare := func(rep int) error {
		q := asynq.NewClientFromRedisClient(st.rdb)
		return measure(1, func() error {
			return produce(n, producers, func(i int) error {
				payload, err := json.Marshal(newBareMessage(fmt.Sprintf("d%d-%d", rep, i), i))
				if err != nil {
					return err
				}
				_, err = q.EnqueueContext(ctx, asynq.NewTask("send", payload))
				return err
			})
		}, func() (func(), error) {
			srv := bareServer(st)
			mux := asynq.NewServeMux()
			mux.HandleFunc("send", bareSend(st.smtp, nil))
			return srv.Shutdown, srv.Start(mux)
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

// bareMessage is the bare pipeline's task payload: what its email needs.
type bareMessage struct {
	ID, Customer, To, Name, Order string
	Items                         []bareItem
	Total                         float64
	Due                           int64 `json:",omitempty"` // unix ms, for lateness
}

type bareItem struct {
	Name  string
	Price float64
}

// newBareMessage is the bare pipeline's message for customer i, from the same order as
// orderEvent's.
func newBareMessage(id string, i int) bareMessage {
	return bareMessage{ID: id, Customer: fmt.Sprintf("c-%d", i), To: fmt.Sprintf("c%d@example.com", i), Name: "Anna",
		Order: fmt.Sprintf("A-%d", i), Items: []bareItem{{Name: "Ethiopia Guji", Price: 19.9}}, Total: 59.9}
}

// The bare pipeline sends the same email as Rapport's shipped thank-you: its layout and
// body written out as one html/template, a text part from a text/template (where Rapport
// derives it from the HTML), and the same headers. Both sides then hand the pool messages
// of the same size, so the ratio is Rapport's own cost, not a difference in the email.
var (
	bareFuncs = htmltemplate.FuncMap{"money": func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }}
	bareHTML  = htmltemplate.Must(htmltemplate.New("html").Funcs(bareFuncs).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Thank you for your order, {{ .Name }}!</title>
</head>
<body style="margin:0;padding:0;background:#f6f3ee;">
<div style="display:none;max-height:0;overflow:hidden;opacity:0;">Order {{ .Order }} is in good hands.</div>
<div style="max-width:560px;margin:0 auto;padding:32px 24px;background:#ffffff;font-family:Georgia,'Times New Roman',serif;font-size:16px;line-height:1.6;color:#2b2b2b;">
<p>Hi {{ .Name }},</p>
<p>Thank you for ordering from us — it genuinely makes our day. We are packing
order <strong>{{ .Order }}</strong> with care:</p>
<ul>
{{- range .Items }}
<li>{{ .Name }} — {{ money .Price }}</li>
{{- end }}
</ul>
<p>Total: <strong>{{ money .Total }}</strong></p>
<p>If anything is not quite right, just reply to this email: a real person reads every message.</p>
<p>Warmly,<br>Your friends at the shop</p>
<hr style="border:none;border-top:1px solid #e6e0d6;margin:32px 0 16px;">
<p style="font-size:12px;color:#8a8378;">You are getting this because you shopped with us. Rather not hear from us? <a href="{{ .Unsubscribe }}" style="color:#8a8378;">Unsubscribe</a> in one click.</p>
</div>
</body>
</html>`))
	bareText = texttemplate.Must(texttemplate.New("text").Funcs(texttemplate.FuncMap(bareFuncs)).Parse(`Order {{ .Order }} is in good hands.

Hi {{ .Name }},

Thank you for ordering from us — it genuinely makes our day. We are packing order {{ .Order }} with care:
{{ range .Items }}
* {{ .Name }} — {{ money .Price }}{{ end }}

Total: {{ money .Total }}

If anything is not quite right, just reply to this email: a real person reads every message.

Warmly,
Your friends at the shop

You are getting this because you shopped with us. Rather not hear from us? Unsubscribe in one click: {{ .Unsubscribe }}
`))
)

// bareSend is the bare pipeline's handler: decode, render with html/template and
// text/template, send through the pool. before, when set, is called with the decoded
// message just before the send.
func bareSend(ch channels.Channel, before func(bareMessage)) asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		var m bareMessage
		if err := json.Unmarshal(t.Payload(), &m); err != nil {
			return err
		}
		data := struct {
			bareMessage
			Unsubscribe string
		}{m, "https://rapport.example/unsubscribe/email/" + m.Customer}
		var html, text strings.Builder
		if err := bareHTML.Execute(&html, data); err != nil {
			return err
		}
		if err := bareText.Execute(&text, data); err != nil {
			return err
		}
		if before != nil {
			before(m)
		}
		_, err := ch.Send(ctx, channels.Message{ID: m.ID, To: m.To, CustomerID: m.Customer,
			Subject: "Thank you for your order, " + m.Name + "!", HTML: html.String(), Text: text.String(),
			UnsubscribeURL: data.Unsubscribe})
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
