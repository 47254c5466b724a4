// Package policy holds the checks every message passes in the engine's send pipeline
// between choosing a channel and sending: quiet hours, which hold a message back until
// the customer's morning, and frequency caps, which skip a message that would exceed the
// configured number per channel or over all channels in a sliding window.
//
// Policies are registered by type, keyed by their top-level config key (quiet_hours,
// caps), in caddy's way: Register in an init function adds one, and FromConfig builds
// those the config turns on, in registration order. A new policy is one file that
// defines and registers its Type (see docs/extending.md and example_blackout_test.go).
package policy
