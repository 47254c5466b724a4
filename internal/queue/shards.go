package queue

import (
	"hash/fnv"
	"strconv"

	"github.com/rapporthq/rapport/event"
)

// Step queues. With one queue (the default on a single Redis) every step and timer waits
// in Steps. On a Redis Cluster each asynq queue lives in one hash slot, so one queue
// would put all the scheduled work on one node: there the tasks are spread over
// Steps+":0" ... Steps+":N-1", chosen by a hash of the task ID. The ID alone decides, so
// scheduling the same ID twice finds the same queue (asynq's ID check stays one atomic
// check in one slot) and Cancel finds a task from its ID without knowing the customer.
// Workers also drain the plain Steps queue, where an earlier single-queue setup left its
// tasks.

// DefaultClusterShards is the number of step queues on a Redis Cluster when the config
// does not say: enough to spread over a few dozen nodes' slots.
const DefaultClusterShards = 16

// StepQueue returns the queue a task ID belongs to among shards step queues.
func StepQueue(id string, shards int) string {
	if shards <= 1 {
		return Steps
	}
	h := fnv.New32a()
	h.Write([]byte(id))
	return Steps + ":" + strconv.Itoa(int(h.Sum32()%uint32(shards)))
}

// StepQueues lists every step queue a worker drains with shards step queues, the plain
// Steps queue included.
func StepQueues(shards int) []string {
	qs := []string{Steps}
	for i := 0; i < shards && shards > 1; i++ {
		qs = append(qs, Steps+":"+strconv.Itoa(i))
	}
	return qs
}

// queueWeights gives events a third of the worker's attention and steps two thirds,
// however many step queues there are (asynq picks a queue in proportion to its weight).
func queueWeights(shards int) map[string]int {
	qs := StepQueues(shards)
	w := map[string]int{event.Queue: len(qs)}
	for _, q := range qs {
		w[q] = 2
	}
	return w
}

// SchedulerOption tunes a Scheduler.
type SchedulerOption func(*Scheduler)

// Shards spreads steps and timers over n queues (see StepQueue); n below 2 means the one
// Steps queue. Every process of a deployment must use the same n.
func Shards(n int) SchedulerOption { return func(s *Scheduler) { s.shards = n } }
