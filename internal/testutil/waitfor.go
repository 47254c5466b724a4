// Package testutil holds what Rapport's tests share that is not a server of their own
// (for those, see redistest and smtptest): today, polling for a condition with a deadline,
// so that no test sleeps in the hope that something has happened.
package testutil

import (
	"testing"
	"time"
)

// Every is how often WaitFor and Poll check their condition.
const Every = 10 * time.Millisecond

// WaitFor checks cond until it holds, and fails the test, naming what it waited for, when
// d passes first. d bounds a wait that should take far less: it is never asserted on.
func WaitFor(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	if !Poll(d, cond) {
		tb.Fatalf("timed out after %v waiting for %s", d, what)
	}
}

// Poll checks cond until it holds or d passes, and reports whether it held. It is for
// callers that handle the timeout themselves, like a helper that retries on another port.
func Poll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(Every)
	}
	return true
}
