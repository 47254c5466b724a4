// Package store keeps Rapport's state in Redis: customer profiles and consent, enrolments in journeys,
// the claims of the send transaction (claim.go), frequency cap windows, message history and
// per-customer timers; a customer's enrolments and timers are fields of their profile's hash
// (customer.go). Every operation that must not interleave with another worker is one
// Lua script, so any number of workers can share one Redis. Every key of a customer carries
// the customer id as a hash tag, so each script touches one slot of a Redis Cluster.
package store
