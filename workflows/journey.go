package workflows

import (
	"time"
)

// Journey is one marketer-written journey: what enrols a customer, what ends the
// enrolment early, and the steps to take.
type Journey struct {
	// ID is unique among journeys: [a-z0-9-]+, defaulting to the file name.
	ID          string
	Name        string
	Description string
	// File is the path the journey was loaded from, for messages.
	File string
	// Topic is what the journey's messages are about, which a customer may opt out of:
	// DefaultTopic unless the journey says; ServiceTopic ignores topic opt-outs.
	Topic   string
	Trigger Trigger
	// ReenterAfter, when non-zero, lets a customer enrol again once that long has passed
	// since their previous enrolment started, even if it is still active (the old one is
	// replaced). Zero means: never while an enrolment is active, freely after it ends.
	ReenterAfter time.Duration
	// ExitOn lists goal event types: one of them ends the enrolment and cancels its
	// pending steps.
	ExitOn []string
	// OnUncertain is the journey's default for its steps' on_uncertain.
	OnUncertain UncertainMode
	// Holdout is the share of enrolments, in [0, 0.5], that are held out: enrolled and
	// counted, but sent nothing (experiments.md). Zero means no holdout.
	Holdout float64
	Steps   []Step
}

// StepIndex returns the position of the step with that id.
func (j *Journey) StepIndex(id string) (int, bool) {
	for i := range j.Steps {
		if j.Steps[i].ID == id {
			return i, true
		}
	}
	return 0, false
}

// UncertainMode says what becomes of a message whose send is uncertain: it was handed to
// the channel, but whether it arrived is unknown (a timeout after the SMTP DATA
// terminator, a worker killed mid-send).
type UncertainMode string

// The on_uncertain modes.
const (
	// UncertainSkip records the message uncertain and goes on: at most once, the
	// default for marketing.
	UncertainSkip UncertainMode = "skip"
	// UncertainResend sends it again: at least once.
	UncertainResend UncertainMode = "resend"
)

// TriggerKind says which of the three trigger kinds a journey has.
type TriggerKind string

// The trigger kinds of journeys.md.
const (
	TriggerEvent      TriggerKind = "event"
	TriggerDate       TriggerKind = "date"
	TriggerInactivity TriggerKind = "inactivity"
)

// Trigger is what enrols a customer. Exactly one kind is set.
type Trigger struct {
	Kind TriggerKind
	// Event is the event type that enrols (event kind) or whose absence enrols
	// (inactivity kind).
	Event string
	// If is the optional condition of an event trigger; nil means always.
	If *Condition
	// OncePer, for an event trigger, makes the customer enrol once per distinct value
	// (e.g. event.data.cart_id): a value seen before is ignored, a new one replaces the
	// active enrolment.
	OncePer *Expression
	// DateAttr is the profile attribute holding the date (date kind): "birthday" for
	// `date: customer.birthday`.
	DateAttr string
	// AtHour, AtMinute and AtSecond are the local time of day a date trigger fires at
	// ("10:00", or "10:00:30" where a test needs seconds).
	AtHour, AtMinute, AtSecond int
	// After is how long without Event enrols (inactivity kind).
	After time.Duration
}

// CapsMode says whether frequency caps may stop a send.
type CapsMode string

// The caps modes of a send.
const (
	CapsApply  CapsMode = "apply"
	CapsBypass CapsMode = "bypass"
)

// Preferred is the channel name that stands for the customer's preferred_channel.
const Preferred = "preferred"

// Step is one step of a journey.
type Step struct {
	// ID is unique within the journey; defaults to step-N (1-based).
	ID string
	// Index is the step's position in Journey.Steps.
	Index int
	// Wait is the delay after entry (first step) or after the previous step.
	Wait time.Duration
	// If, when non-nil, is checked when the step is due; false skips the step.
	If *Condition
	// Send is the message to send.
	Send Send
	// OnUncertain is the step's own on_uncertain, or else the journey's, or else
	// UncertainSkip.
	OnUncertain UncertainMode
}

// Send is the message a step sends.
type Send struct {
	// Template is the template of a step without variants; empty for a split step.
	Template string
	// Variants, when set, split the step: each customer gets one of them, chosen by
	// weight from a hash (experiments.md).
	Variants []Variant
	// Winner is the split's winner rule, or nil: the split goes on for good.
	Winner *Winner
	// Channels is the ordered list of channel names (or Preferred) to try; the first one
	// the customer can be reached on wins.
	Channels []string
	Caps     CapsMode
}

// Templates returns every template the step may send: its template, or its variants'.
func (s Send) Templates() []string {
	if len(s.Variants) == 0 {
		return []string{s.Template}
	}
	out := make([]string, len(s.Variants))
	for i, v := range s.Variants {
		out[i] = v.Template
	}
	return out
}

// Variant returns the variant with that id.
func (s Send) Variant(id string) (Variant, bool) {
	for _, v := range s.Variants {
		if v.ID == id {
			return v, true
		}
	}
	return Variant{}, false
}

// Variant is one version of a split step's message.
type Variant struct {
	// ID is [a-z0-9-]+, unique in the step; history lines and clicks carry it.
	ID       string
	Template string
	// Weight is the variant's share of customers relative to the others' (default 1).
	Weight float64
}

// Metric is what a winner rule compares variants on.
type Metric string

// The winner metrics.
const (
	// MetricConversion compares attributed orders per message sent.
	MetricConversion Metric = "conversion"
	// MetricClick compares messages clicked at least once per message sent.
	MetricClick Metric = "click"
)

// Winner is a split step's winner rule: once every variant has MinSent sends and one
// beats all the others on Metric with probability Confidence, later sends use it.
type Winner struct {
	Metric     Metric
	MinSent    int64
	Confidence float64
}

// The winner rule's defaults, when a key is left out.
const (
	DefaultMinSent    = 1000
	DefaultConfidence = 0.95
)

// MaxHoldout is the largest holdout share a journey may have: beyond half, the journey
// is mostly not sent.
const MaxHoldout = 0.5

// Env is the environment conditions run in, with the names of journeys.md: event,
// customer and now.
type Env struct {
	Event    EventEnv       `expr:"event"`
	Customer map[string]any `expr:"customer"`
	Now      time.Time      `expr:"now"`
}

// EventEnv is the event as conditions see it. For date and inactivity triggers it is a
// synthetic event of type "date" or "inactivity". It is kept with the enrolment as JSON.
type EventEnv struct {
	ID         string         `expr:"id" json:"id"`
	Type       string         `expr:"type" json:"type"`
	CustomerID string         `expr:"customer_id" json:"customer_id"`
	OccurredAt time.Time      `expr:"occurred_at" json:"occurred_at"`
	Data       map[string]any `expr:"data" json:"data,omitempty"`
}
