// Package stats keeps the relationship metrics of GET /v1/stats (customers, buyers,
// repeat rate, purchase frequency, order value, LTV, first-order-month cohorts, NPS,
// journey conversion and revenue) as counters updated while events are processed, so
// that reading them never scans customers: a report costs O(days + months + journeys).
//
// Every counter lives under one Redis Cluster hash tag, rapport:{stats}:, apart from the
// customers' own keys. Each counted fact (an event, an enrolment entering, a goal event
// ending one) is applied by one script in that slot that first sets a marker for the
// fact with NX and only then increments, so a duplicate event or a retried task never
// counts twice. What a fact needs to know about its customer (is this the customer's
// first event? the first order? when was the first order? which NPS answer did this one
// replace?) comes first from the customer's own slot: the profile after the event
// applied, and the facts internal/store keeps per customer. No script touches both
// slots, and each answer from the customer's slot is the same when a task is retried.
//
// Windowed figures (NPS, journeys) are kept in one hash per UTC day, expiring after
// Retention; all-time figures in one totals hash; cohorts in one hash with fields per
// month.
package stats
