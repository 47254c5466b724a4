package config

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/rapporthq/rapport/channels"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestExpand(t *testing.T) {
	lookup := env(map[string]string{"SET": "value", "EMPTY": ""})
	cases := []struct{ name, in, want string }{
		{"a set variable is replaced", "${SET}", "value"},
		{"an unset variable becomes empty", "${UNSET}", ""},
		{"a default fills an unset variable", "${UNSET:-d}", "d"},
		{"a default fills an empty variable", "${EMPTY:-d}", "d"},
		{"a set variable wins over its default", "${SET:-d}", "value"},
		{"an empty default is allowed", "x${UNSET:-}y", "xy"},
		{"$$ is a literal dollar", "pa$$word", "pa$word"},
		{"a lone dollar stays", "cost $5", "cost $5"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Expand(c.in, lookup); got != c.want {
				t.Fatalf("Expand(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

const good = `redis: {url: "${REDIS_URL:-redis://127.0.0.1:6379/0}"}
http: {addr: ":8080", base_url: "https://r.example", api_tokens: ["${TOKEN}"]}
secret: "${SECRET}"
caps:
  email: {limit: 2, per: 7d}
channels:
  email: {type: test-ok, host: mail.example, port: 25}
`

func TestAGoodConfigParses(t *testing.T) {
	c, err := Parse("c.yaml", []byte(good), env(map[string]string{"TOKEN": "t", "SECRET": "0123456789abcdef"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.APITokens[0] != "t" || c.Redis.URL != "redis://127.0.0.1:6379/0" || c.Workflows != "workflows" || c.Location().String() != "UTC" {
		t.Fatalf("parsed %+v", c)
	}
	if c.Channels["email"].Type != "test-ok" || c.Channels["email"].Line != 7 {
		t.Fatalf("channel = %+v", c.Channels["email"])
	}
}

func TestEveryProblemIsReportedWithItsLine(t *testing.T) {
	bad := `redis: {url: "mysql://x"}
http:
  addr: "8080"
  base_url: "/relative"
  api_tokens: ["${UNSET_TOKEN}"]
secret: short
defaults: {timezone: Mars/Olympus}
quiet_hours: {start: "25:00", end: "09:00"}
caps:
  fax: {limit: 0, per: 7d}
  email: {limit: 1, per: 7 days}
channels:
  email: {host: x}
colour: red
`
	_, err := Parse("c.yaml", []byte(bad), env(nil))
	if err == nil {
		t.Fatal("a bad config parsed")
	}
	for _, want := range []string{
		"c.yaml:1: redis.url",
		`c.yaml:3: http.addr "8080"`,
		"c.yaml:4: http.base_url",
		"c.yaml:5: http.api_tokens[0] is empty (is ${UNSET_TOKEN} set?)",
		"c.yaml:6: secret must be at least 16 characters",
		`c.yaml:7: defaults.timezone "Mars/Olympus"`,
		`c.yaml:8: quiet_hours.start "25:00"`,
		"c.yaml:10: caps.fax: no channel is called fax",
		"c.yaml:10: caps.fax.limit must be at least 1",
		`c.yaml:11: invalid duration "7 days"`,
		"c.yaml:13: channels.email needs a type",
		`c.yaml:14: unknown key "colour"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q; got:\n%s", want, err)
		}
	}
}

type testChannelConfig struct {
	Host string `yaml:"host"`
	Port int    `yaml:"port"`
}

var decoded []testChannelConfig

func init() {
	channels.Register(channels.Type{Name: "test-ok", Kind: channels.KindEmail, AddressKey: "email",
		New: func(decode func(any) error) (channels.Channel, error) {
			var c testChannelConfig
			if err := decode(&c); err != nil {
				return nil, err
			}
			if c.Host == "" {
				return nil, errors.New("host is required")
			}
			decoded = append(decoded, c)
			return channels.ChannelFunc(func(context.Context, channels.Message) (channels.Receipt, error) {
				return channels.Receipt{}, nil
			}), nil
		}})
}

func TestBuildChannels(t *testing.T) {
	lookup := env(map[string]string{"TOKEN": "t", "SECRET": "0123456789abcdef"})
	c, err := Parse("c.yaml", []byte(good), lookup)
	if err != nil {
		t.Fatal(err)
	}
	decoded = nil
	set, err := c.BuildChannels()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := set.Get("email"); !ok || len(decoded) != 1 || decoded[0] != (testChannelConfig{"mail.example", 25}) {
		t.Fatalf("built %v, decoded %+v", set, decoded)
	}

	broken := strings.Replace(good, "  email: {type: test-ok, host: mail.example, port: 25}",
		"  email: {type: test-ok, hots: mail.example}\n  sms: {type: carrier-pigeon}\n  other: {type: test-ok}", 1)
	c, err = Parse("c.yaml", []byte(broken), lookup)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.BuildChannels()
	for _, want := range []string{`c.yaml:7: unknown key "hots"`, `c.yaml:8: channels.sms: unknown type "carrier-pigeon"`, "c.yaml:9: channels.other: host is required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q; got:\n%v", want, err)
		}
	}
}

func TestTheShippedConfigsParse(t *testing.T) {
	for _, f := range []string{"rapport.yaml", "rapport.example.yaml"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lookup := env(map[string]string{"RAPPORT_API_TOKEN": "t", "RAPPORT_SECRET": "0123456789abcdef"})
		c, err := Parse(f, data, lookup)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if f == "rapport.yaml" && (c.Redis.URL != "" || c.Channels["email"].Type != "outbox") {
			t.Errorf("the default config should use the embedded Redis and the outbox: %+v", c)
		}
	}
}
