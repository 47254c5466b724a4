package metrics

import "github.com/prometheus/client_golang/prometheus"

func newFeedback() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rapport_feedback_total",
		Help: "What came back from the channels, by channel and kind: bounce_hard, bounce_soft, complaint, click, reply, link, delivered, read, rejected.",
	}, []string{"channel", "kind"})
}

// Feedback counts one thing a channel reported back (inbound.Config.Count).
func (m *Metrics) Feedback(channel, kind string) { m.feedback.WithLabelValues(channel, kind).Inc() }
