package workflows

import (
	"strings"
	"testing"
)

func TestAJourneyNamesAKnownTopicOrGetsAnErrorAtItsLine(t *testing.T) {
	opts := testOpts
	opts.HasTopic = func(topic string) bool { return topic == "tips" }
	src := "id: tip\ntopic: %s\ntrigger: {event: order.placed}\nsteps:\n  - send: {template: thank-you, channels: [email]}\n"
	cases := []struct{ name, topic, want, err string }{
		{"a listed topic is kept", "tips", "tips", ""},
		{"service needs no listing", "service", "service", ""},
		{"an unlisted topic is an error at its line", "gossip", "", `tip.yaml:2: topic "gossip" is not one of the config's topics`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j, err := LoadFile("tip.yaml", []byte(strings.Replace(src, "%s", c.topic, 1)), opts)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || j.Topic != c.want {
				t.Fatalf("topic = %q, %v; want %q", j.Topic, err, c.want)
			}
		})
	}
	j, err := LoadFile("tip.yaml", []byte(strings.Replace(src, "topic: %s\n", "", 1)), opts)
	if err != nil || j.Topic != DefaultTopic {
		t.Fatalf("without topic: %q, %v; want %s", j.Topic, err, DefaultTopic)
	}
}
