// Package bench measures Rapport side by side with the bare stack it is built on, in one
// run, on a real redis-server and a real SMTP server in process: what `rapport bench`
// prints.
//
// Four sections, each a median of several repetitions in which Rapport and the bare stack
// take turns on a flushed database. Rapport runs with what Config.Instrument hangs on its
// engine and worker; `rapport bench` passes what `rapport serve` uses (statistics, journey
// counters, metrics), so the figures are Rapport as it is served:
//
//   - ingest: events accepted per second by HTTP one at a time, by HTTP in batches and by
//     the Go client, next to a bare asynq Enqueue of the same payload;
//   - delivery: how fast a queue of order events becomes thank-you emails through the
//     engine, the asynq worker and a go-mail pool, next to asynq + html/template + the same
//     pool sending the same email from a queue of send tasks;
//   - memory: Redis bytes per pending step and per customer timer, next to a bare asynq
//     scheduled task;
//   - lateness: how long after their due time a burst of steps due within one second are
//     sent, and how many were sent early, next to bare asynq at the same poll interval.
package bench
