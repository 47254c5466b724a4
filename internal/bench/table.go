package bench

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteTable prints r as a table: one row per figure, Rapport next to the bare stack.
func (r *Result) WriteTable(w io.Writer) error {
	c := r.Config
	fmt.Fprintf(w, "rapport bench: median of %d, Redis %s, %d CPUs, concurrency %d, SMTP pool %d, poll %d ms\n\n",
		c.Reps, c.Redis, c.CPUs, c.Concurrency, c.Pool, c.PollIntervalMS)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "figure\trapport\tbare\tratio\t")
	row := func(name string, p Pair, format string) {
		fmt.Fprintf(tw, "%s\t"+format+"\t"+format+"\t%.2f\t\n", name, p.Rapport, p.Bare, p.Ratio)
	}
	if i := r.Ingest; i != nil {
		row(fmt.Sprintf("ingest, HTTP single (events/s, %d)", c.Events), i.HTTPSingle, "%.0f")
		row(fmt.Sprintf("ingest, HTTP batch of %d (events/s)", batchSize), i.HTTPBatch, "%.0f")
		row("ingest, Go client (events/s)", i.Client, "%.0f")
	}
	if d := r.Delivery; d != nil {
		row(fmt.Sprintf("delivery (emails/s, %d)", c.Emails), d.EmailsPerS, "%.0f")
		row("  Go CPU per email (µs)", d.GoCPUMicros, "%.0f")
		row("  Redis CPU per email (µs)", d.RedisCPUMicros, "%.0f")
		row("  Redis commands per email", d.RedisCalls, "%.1f")
		row("  Redis round trips per email", d.RoundTrips, "%.1f")
	}
	if x := r.Experiment; x != nil {
		row(fmt.Sprintf("delivery, split + 10%% holdout vs plain (events/s, %d held out)", x.HeldOut), x.EventsPerS, "%.0f")
		row("  Go CPU per event (µs)", x.GoCPUMicros, "%.0f")
		row("  Redis commands per event", x.RedisCalls, "%.1f")
	}
	if m := r.Memory; m != nil {
		row(fmt.Sprintf("memory per pending step (bytes, %d)", c.Pending), m.StepBytes, "%.0f")
		row("memory per customer timer (bytes)", m.TimerBytes, "%.0f")
	}
	if l := r.Lateness; l != nil {
		late := func(name string, a, b float64, format string) {
			fmt.Fprintf(tw, "%s\t"+format+"\t"+format+"\t\t\n", name, a, b)
		}
		late(fmt.Sprintf("lateness p50 (ms, %d due in 1 s)", c.Due), l.Rapport.P50MS, l.Bare.P50MS, "%.0f")
		late("lateness p99 (ms)", l.Rapport.P99MS, l.Bare.P99MS, "%.0f")
		late("lateness max (ms)", l.Rapport.MaxMS, l.Bare.MaxMS, "%.0f")
		fmt.Fprintf(tw, "drain of the burst (s)\t%.2f\t%.2f\t%.2f\t\n", l.Rapport.DrainS, l.Bare.DrainS, l.DrainRatio)
		late("sent early (all repetitions)", float64(l.Rapport.Early), float64(l.Bare.Early), "%.0f")
	}
	return tw.Flush()
}
