// Package policy holds the checks every message passes in the engine's send pipeline
// between choosing a channel and sending: quiet hours, which hold a message back until
// the customer's morning, and frequency caps, which skip a message that would exceed the
// configured number per channel or over all channels in a sliding window. FromConfig
// builds them from the config's quiet_hours and caps.
package policy
