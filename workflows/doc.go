// Package workflows reads the journeys marketers write in workflows/*.yaml: one journey per
// file, with a trigger (an event, a yearly date, or a stretch of inactivity), goal events
// that end it early, and steps that wait, check a condition and send a message.
//
// Loading checks everything it can before a journey runs: unknown keys, durations such as
// "3 days" (write 3d), unknown channels and templates, and conditions, which are expr
// expressions compiled and type-checked against Env. Every problem of every file is
// reported as file:line: message. The shipped journeys live in this folder too.
package workflows
