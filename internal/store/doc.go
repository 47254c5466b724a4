// Package store keeps Rapport's state in Redis: customer profiles and consent, enrolments in journeys,
// the send-once claims, message history and per-customer timers. Every operation that must
// not interleave with another worker is one Lua script, so any number of workers can share
// one Redis.
package store
