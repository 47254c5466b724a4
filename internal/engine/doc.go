// Package engine is Rapport's core: it turns trigger events into enrolments, enrolments
// into scheduled steps, and due steps into messages.
//
// HandleEvent upserts the profile, ends the enrolments the event is a goal of, enrols the
// customer where a trigger matches and moves the customer's date and inactivity timers.
// Each enrolment has exactly one pending task, its next step, under a deterministic ID;
// HandleStep runs it when due and schedules the next. HandleTimer fires a date or
// inactivity trigger. A message goes through a short pipeline, choose channel -> policies
// -> render -> reserve -> send -> commit, where frequency caps and quiet hours plug in as
// Policy values. The reserve, hand-over, commit and release of the message's claim are the
// send transaction of package store: caps hold exactly under any number of workers, and a
// message whose fate is unknown is recorded uncertain rather than sent twice, unless its
// step says on_uncertain: resend. A stage of the pipeline says what comes next by its
// error kind: nil once the outcome is recorded, a passOver to try the step's next
// channel, a held (like river's JobSnooze) to run the step again later, anything else to
// retry the task. Every outcome is written in one place (write), which also tells the
// Observer; the metrics, the journey counters and the simulator's timeline hear every
// fact there, and the intake and the worker report to the same Observer.
//
// The engine reads time only from its Clock and schedules only through its Scheduler, so
// the same engine runs on asynq in production (internal/queue) and on a virtual clock in
// tests and simulations. It knows channels only through the channels.Channel interface.
package engine
