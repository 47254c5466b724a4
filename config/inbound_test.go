package config

import (
	"strings"
	"testing"
)

func TestAListeningChannelAndTheInboundServerAreRead(t *testing.T) {
	data := withChannels(
		"  email:",
		"    type: outbox",
		"    dir: /tmp/outbox",
		"    from: Shop <hello@shop.example>",
		"    bounces: bounces@mail.shop.example",
		"    replies: replies@mail.shop.example",
		"    events: {provider: mailgun, signing_key: key-1}",
		"inbound:",
		"  smtp: {addr: \":2525\", max_size: 2000000}",
		"tracking: {clicks: false}")
	c, err := Parse("c.yaml", data, testEnv)
	if err != nil {
		t.Fatal(err)
	}
	ch := c.Channels["email"]
	if r := ch.Returns(); r.Bounces != "bounces@mail.shop.example" || r.Replies != "replies@mail.shop.example" || !ch.Listens() {
		t.Errorf("returns = %+v", r)
	}
	if ev, err := ch.Events(); err != nil || ev == nil || ev.Provider != "mailgun" || ev.SigningKey != "key-1" {
		t.Errorf("events = %+v, %v", ev, err)
	}
	if c.Inbound.SMTP == nil || c.Inbound.SMTP.Addr != ":2525" || c.Inbound.SMTP.MaxSize != 2000000 || c.Inbound.SoftBounceLimit != 3 {
		t.Errorf("inbound = %+v", c.Inbound)
	}
	if c.Tracking.ClicksOn() {
		t.Error("tracking.clicks: false is on")
	}
	set, err := c.BuildChannels()
	if err != nil {
		t.Fatalf("an outbox with bounces, replies and events: %v", err)
	}
	set.Close()
}

func TestInboundMistakesAreReportedAtTheirLines(t *testing.T) {
	data := withChannels(
		"  email:",
		"    type: outbox",
		"    dir: /tmp/outbox",
		"    from: Shop <hello@shop.example>",
		"    events: {provider: sparkpost}",
		"inbound:",
		"  smtp: {addr: \"nowhere\"}")
	_, err := Parse("c.yaml", data, testEnv)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"c.yaml:18: channels.email.events.provider \"sparkpost\"", "c.yaml:20: inbound.smtp.addr"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v\nwant %s", err, want)
		}
	}
}
