// Package scenario reads journey test scenarios (workflows/tests/NAME.test.yaml, the
// format of the testing contract), runs them on the simulator of package sim, and checks
// their expectations: each expectation matches one message, in order, by journey, step,
// channel, outcome and time; `none: true` forbids a message; `exhaustive: true` forbids
// any message no expectation names. A mismatch reads as a diff of what was expected
// against what was simulated. Errors in a scenario file are file:line: message.
package scenario
