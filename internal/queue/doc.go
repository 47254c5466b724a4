// Package queue runs the engine on asynq: Scheduler puts the engine's tasks into Redis as
// asynq tasks with deterministic IDs, and Worker is the asynq server that hands due tasks
// back to the engine and turns its error kinds into asynq's retry decisions. Steps and
// timers may be spread over several queues (Shards), so a Redis Cluster shares their
// load. Trimmer empties the payloads of processed events, which stay behind for the
// dedup window only as ids. Nothing else in Rapport calls asynq, except the event intake
// in package client.
package queue
