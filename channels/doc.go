// Package channels defines how Rapport talks to a customer: the Channel interface every
// transport implements (email, messengers, webhooks), the Message it sends, the error kinds
// that tell the engine whether to retry, and the registry that builds a channel from the
// config by its type name.
//
// RateLimited holds a channel to a number of messages a second across the process; the
// config applies it to any channel with a `rate:` key.
//
// The engine knows channels only through this package. A new transport registers a Type in
// its package's init function and is then usable from the config by name.
package channels
