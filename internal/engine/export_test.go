package engine

// TimerTaskID lets tests name a timer's task as the engine does.
var TimerTaskID = timerTaskID
