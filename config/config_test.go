package config

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/channels/email"
	"github.com/rapporthq/rapport/internal/yamlx"
)

// env is a fake environment for Parse.
func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

var testEnv = env(map[string]string{"TOKEN": "t0k3n", "SECRET": "0123456789abcdef"})

func TestExpansion(t *testing.T) {
	lookup := env(map[string]string{"SET": "value", "EMPTY": "", "WITH_DOLLAR": "a$b"})
	cases := []struct{ name, in, want string }{
		{"a set variable is replaced by its value", "${SET}", "value"},
		{"an unset variable becomes empty", "x${UNSET}y", "xy"},
		{"a default fills an unset variable", "${UNSET:-fallback}", "fallback"},
		{"a default fills an empty variable", "${EMPTY:-fallback}", "fallback"},
		{"a set variable wins over its default", "${SET:-fallback}", "value"},
		{"an empty default is allowed", "x${UNSET:-}y", "xy"},
		{"a default may hold colons and slashes", "${UNSET:-redis://h:6379/0}", "redis://h:6379/0"},
		{"$$ is a literal dollar", "pa$$word", "pa$word"},
		{"$${VAR} is a literal reference", "$${SET}", "${SET}"},
		{"a lone dollar stays", "cost $5 and $", "cost $5 and $"},
		{"a value with a dollar is not expanded again", "${WITH_DOLLAR}", "a$b"},
		{"several references on one line are all expanded", "${SET}-${UNSET:-d}-${SET}", "value-d-value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := expand("c.yaml", c.in, lookup)
			if len(x.errs) > 0 {
				t.Fatalf("expand(%q): %v", c.in, x.errs)
			}
			if x.text != c.want {
				t.Fatalf("expand(%q) = %q, want %q", c.in, x.text, c.want)
			}
		})
	}
}

func TestMalformedReferencesAreErrorsAtTheirLine(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"an unclosed reference", "a: 1\nb: ${OOPS\n", "c.yaml:2: unclosed ${"},
		{"a name starting with a digit", "a: ${1X}\n", "c.yaml:1: bad variable reference ${1X}"},
		{"a name with a dash", "a: 1\nb: 2\nc: ${MY-VAR}\n", "c.yaml:3: bad variable reference ${MY-VAR}"},
		{"an empty name", "a: ${}\n", "c.yaml:1: bad variable reference ${}"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(c.in), env(nil))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestAFullConfigParses(t *testing.T) {
	data, err := os.ReadFile("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse("testdata/good.yaml", data, testEnv)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"file", c.File, "testdata/good.yaml"},
		{"redis url from the default", c.Redis.URL, "redis://127.0.0.1:6379/3"},
		{"http addr", c.HTTP.Addr, "127.0.0.1:9090"},
		{"base url", c.HTTP.BaseURL, "https://rapport.shop.example"},
		{"tokens", strings.Join(c.HTTP.APITokens, ","), "t0k3n,second-token"},
		{"secret", c.Secret, "0123456789abcdef"},
		{"workflows", c.Workflows, "journeys"},
		{"templates", c.Templates, "tpl"},
		{"locale", c.Defaults.Locale, "de"},
		{"location", c.Location().String(), "Europe/Berlin"},
		{"quiet hours", *c.QuietHours, QuietHours{Start: "22:30", End: "08:00"}},
		{"email cap", c.Caps["email"].Limit, 2},
		{"email cap window", time.Duration(c.Caps["email"].Per), 7 * 24 * time.Hour},
		{"all cap window", time.Duration(c.Caps["all"].Per), 7 * 24 * time.Hour},
		{"concurrency", c.Worker.Concurrency, 4},
		{"shutdown timeout", time.Duration(c.Worker.ShutdownTimeout), 30 * time.Second},
		{"poll interval", time.Duration(c.Worker.PollInterval), 2 * time.Second},
		{"channel type", c.Channels["email"].Type, "test-ok"},
		{"channel file", c.Channels["email"].File, "testdata/good.yaml"},
		{"channel line", c.Channels["email"].Line, 17},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestMissingValuesGetTheirDefaults(t *testing.T) {
	src := "http: {base_url: \"http://localhost:8080\", api_tokens: [t]}\nsecret: 0123456789abcdef\n"
	c, err := Parse("c.yaml", []byte(src), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Redis.URL != "" || c.HTTP.Addr != ":8080" || c.Workflows != "workflows" || c.Templates != "templates" ||
		c.Defaults.Timezone != "UTC" || c.Defaults.Locale != "en" || c.Location() != time.UTC ||
		c.QuietHours != nil || len(c.Caps) != 0 || len(c.Channels) != 0 ||
		c.Worker.Concurrency != 20 || time.Duration(c.Worker.ShutdownTimeout) != 10*time.Second ||
		time.Duration(c.Worker.PollInterval) != time.Second ||
		time.Duration(c.Attribution.Window) != 5*24*time.Hour {
		t.Fatalf("defaults not applied: %+v", c)
	}
}

func TestLoadReadsTheEnvironment(t *testing.T) {
	t.Setenv("TOKEN", "from-env")
	t.Setenv("SECRET", "a-secret-of-enough-length")
	t.Setenv("REDIS_URL", "rediss://cache.example:6380/1")
	c, err := Load("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.APITokens[0] != "from-env" || c.Secret != "a-secret-of-enough-length" || c.Redis.URL != "rediss://cache.example:6380/1" {
		t.Fatalf("environment not applied: %+v", c)
	}

	_, err = Load(filepath.Join(t.TempDir(), "missing.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load of a missing file = %v, want fs.ErrNotExist", err)
	}
}

// base is a valid config; each case below replaces one of its lines.
var base = []string{
	`redis: {url: "redis://127.0.0.1:6379/0"}`, // 1
	`http:`,                                       // 2
	`  addr: ":8080"`,                             // 3
	`  base_url: "https://r.example"`,             // 4
	`  api_tokens: ["${TOKEN}"]`,                  // 5
	`secret: "${SECRET}"`,                         // 6
	`defaults: {timezone: UTC, locale: en}`,       // 7
	`quiet_hours: {start: "21:00", end: "09:00"}`, // 8
	`caps:`,                        // 9
	`  email: {limit: 2, per: 7d}`, // 10
	`  all: {limit: 3, per: 7d}`,   // 11
	`worker: {concurrency: 4, shutdown_timeout: 5s}`, // 12
	`channels:`, // 13
	`  email: {type: test-ok, host: mail.example, port: 25}`, // 14
}

func TestTheBaseConfigIsValid(t *testing.T) {
	if _, err := Parse("c.yaml", []byte(strings.Join(base, "\n")), testEnv); err != nil {
		t.Fatal(err)
	}
}

func TestPreviousSecretsAreRead(t *testing.T) {
	lines := append(slices.Clone(base), `previous_secrets: ["0123456789abcdef-old", "0123456789abcdef-older"]`)
	c, err := Parse("c.yaml", []byte(strings.Join(lines, "\n")), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.PreviousSecrets, []string{"0123456789abcdef-old", "0123456789abcdef-older"}) {
		t.Errorf("PreviousSecrets = %q", c.PreviousSecrets)
	}
}

func TestEachProblemIsReportedOnceAtItsLine(t *testing.T) {
	cases := []struct {
		name string
		line int
		text string
		want string
	}{
		{"a redis url of another scheme", 1, `redis: {url: "mysql://db:3306"}`, "redis.url must be a redis:// or rediss:// URL"},
		{"a redis url with a bad database", 1, `redis: {url: "redis://127.0.0.1:6379/first"}`, "redis.url: "},
		{"two redis topologies at once", 1, `redis: {url: "redis://h:6379/0", cluster: ["h:7000"]}`, "redis has url and cluster: give exactly one of url (one server), cluster (seed nodes) or sentinel (failover)"},
		{"an empty cluster", 1, `redis: {cluster: []}`, "redis.cluster needs at least one seed node"},
		{"a cluster node without a port", 1, `redis: {cluster: ["10.0.0.1:7000", "10.0.0.2"]}`, `redis.cluster[1] "10.0.0.2" must be host:port`},
		{"a sentinel without a master", 1, `redis: {sentinel: {addrs: ["10.0.0.1:26379"]}}`, "redis.sentinel.master is required"},
		{"a sentinel without addresses", 1, `redis: {sentinel: {master: mymaster}}`, "redis.sentinel.addrs needs at least one Sentinel"},
		{"an unknown key in sentinel", 1, `redis: {sentinel: {master: m, addrs: ["h:26379"], masters: x}}`, `unknown key "masters"`},
		{"a password beside a url", 1, `redis: {url: "redis://h:6379/0", password: p}`, "redis.password and redis.username go with cluster or sentinel"},
		{"an address without a colon", 3, `  addr: "8080"`, `http.addr "8080" must be host:port`},
		{"an address with a named port", 3, `  addr: ":http"`, `http.addr ":http"`},
		{"a relative base url", 4, `  base_url: "/rapport"`, `http.base_url "/rapport" must be an absolute http(s) URL`},
		{"a base url of another scheme", 4, `  base_url: "ftp://r.example"`, `http.base_url "ftp://r.example"`},
		{"an empty base url from an unset variable", 4, `  base_url: "${BASE}"`, "http.base_url is required: the public http(s) address of this API, used in unsubscribe links (environment variable BASE is unset or empty)"},
		{"no api tokens", 5, `  api_tokens: []`, "http.api_tokens needs at least one token"},
		{"an api token from an unset variable", 5, `  api_tokens: ["ok", "${NO_TOKEN}"]`, "http.api_tokens[1] is empty (environment variable NO_TOKEN is unset or empty)"},
		{"a short secret", 6, `secret: short`, "secret must be at least 16 characters (it signs unsubscribe links), has 5"},
		{"a secret from an unset variable", 6, `secret: "${NO_SECRET}"`, "secret must be at least 16 characters (it signs unsubscribe links), has 0 (environment variable NO_SECRET is unset or empty)"},
		{"an unknown time zone", 7, `defaults: {timezone: Mars/Olympus, locale: en}`, `defaults.timezone "Mars/Olympus" is not a known IANA time zone`},
		{"an unknown key in defaults", 7, `defaults: {timezone: UTC, lang: en}`, `unknown key "lang"`},
		{"a quiet hours start past midnight", 8, `quiet_hours: {start: "24:00", end: "09:00"}`, `quiet_hours.start "24:00" is not a time like "21:00"`},
		{"a quiet hours end in am/pm", 8, `quiet_hours: {start: "21:00", end: "9am"}`, `quiet_hours.end "9am" is not a time like "09:00"`},
		{"a cap limit of zero", 10, `  email: {limit: 0, per: 7d}`, "caps.email.limit must be at least 1"},
		{"a cap limit that is not a number", 10, `  email: {limit: two, per: 7d}`, `"two" is not a valid whole number`},
		{"a cap without a limit", 10, `  email: {per: 7d}`, "caps.email.limit must be at least 1"},
		{"a cap window of zero", 10, `  email: {limit: 2, per: 0s}`, "caps.email.per must be a duration above zero, like 7d"},
		{"a cap window in words", 10, `  email: {limit: 2, per: 7 days}`, `invalid duration "7 days"`},
		{"a cap for a channel that does not exist", 11, `  sms: {limit: 1, per: 1d}`, `caps.sms: no channel is called "sms"`},
		{"a negative concurrency", 12, `worker: {concurrency: -1}`, "worker.concurrency must be at least 1"},
		{"too many step queues", 12, `worker: {step_queues: 5000}`, "worker.step_queues must be between 1 and 1024"},
		{"a worker metrics address without a port", 12, `worker: {metrics_addr: "9090"}`, `worker.metrics_addr "9090" must be host:port`},
		{"a shutdown timeout in Go notation", 12, `worker: {shutdown_timeout: 500ms}`, `invalid duration "500ms"`},
		{"a poll interval of zero", 12, `worker: {poll_interval: 0s}`, "worker.poll_interval must be from 1s to 1m"},
		{"a poll interval of an hour", 12, `worker: {poll_interval: 1h}`, "worker.poll_interval must be from 1s to 1m"},
		{"an attribution window of zero", 12, `attribution: {window: 0s}`, "attribution.window must be a duration above zero, like 5d"},
		{"an attribution window in words", 12, `attribution: {window: 5 days}`, `invalid duration "5 days"`},
		{"an unknown top-level key", 12, `colour: red`, `unknown key "colour" (known: attribution, caps, channels,`},
		{"a short previous secret", 12, `previous_secrets: ["0123456789abcdef-old", "short"]`, "previous_secrets[1] must be at least 16 characters, has 5"},
		{"a previous secret from an unset variable", 12, `previous_secrets: ["${OLD_SECRET}"]`, "previous_secrets[0] must be at least 16 characters, has 0 (environment variable OLD_SECRET is unset or empty)"},
		{"the current secret as a previous one", 12, `previous_secrets: ["${SECRET}"]`, "previous_secrets[0] is the current secret"},
		{"a channel without a type", 14, `  email: {host: mail.example}`, "channels.email needs a type (one of: "},
		{"a channel that is not a mapping", 14, `  email: smtp`, "a channel is a mapping with a type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lines := slices.Clone(base)
			lines[c.line-1] = c.text
			_, err := Parse("c.yaml", []byte(strings.Join(lines, "\n")), testEnv)
			var errs yamlx.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("got %v, want yamlx.Errors", err)
			}
			if len(errs) != 1 {
				t.Fatalf("got %d errors, want 1:\n%v", len(errs), err)
			}
			want := "c.yaml:" + strconv.Itoa(c.line) + ": " + c.want
			if !strings.Contains(errs[0].Error(), want) {
				t.Fatalf("got  %v\nwant %s...", errs[0], want)
			}
		})
	}
}

func TestAllProblemsOfAFileAreReportedTogether(t *testing.T) {
	_, err := Load("testdata/broken.yaml")
	var errs yamlx.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("got %v, want yamlx.Errors", err)
	}
	want := []string{
		"testdata/broken.yaml:1: redis.url must be",
		`testdata/broken.yaml:3: http.addr "8080"`,
		"testdata/broken.yaml:4: http.base_url",
		"testdata/broken.yaml:5: http.api_tokens[0] is empty (environment variable UNSET_TOKEN is unset or empty)",
		"testdata/broken.yaml:6: secret must be at least 16 characters",
		`testdata/broken.yaml:7: defaults.timezone "Mars/Olympus"`,
		`testdata/broken.yaml:8: quiet_hours.start "25:00"`,
		`testdata/broken.yaml:8: quiet_hours.end "9am"`,
		`testdata/broken.yaml:10: caps.fax: no channel is called "fax"`,
		"testdata/broken.yaml:10: caps.fax.limit must be at least 1",
		`testdata/broken.yaml:11: invalid duration "7 days"`,
		"testdata/broken.yaml:13: channels.email needs a type",
		`testdata/broken.yaml:14: unknown key "colour"`,
	}
	if len(errs) != len(want) {
		t.Errorf("got %d errors, want %d:\n%v", len(errs), len(want), err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("errors lack %q; got:\n%s", w, err)
		}
	}
}

// recorder is the channel the "test-ok" type builds: it keeps what it decoded.
type recorder struct {
	cfg    testChannelConfig
	closed bool
}

type testChannelConfig struct {
	Host string `yaml:"host"`
	Port int    `yaml:"port"`
}

func (r *recorder) Send(context.Context, channels.Message) (channels.Receipt, error) {
	return channels.Receipt{}, nil
}

func (r *recorder) Close() error { r.closed = true; return nil }

var (
	builtMu sync.Mutex
	built   []*recorder // every recorder the test-ok type made, to check Close
)

func init() {
	channels.Register(channels.Type{Name: "test-ok", Kind: channels.KindMsg, AddressKey: "customer_id",
		New: func(decode func(any) error) (channels.Channel, error) {
			var c testChannelConfig
			if err := decode(&c); err != nil {
				return nil, err
			}
			if c.Host == "" {
				return nil, errors.New("host is required")
			}
			r := &recorder{cfg: c}
			builtMu.Lock()
			built = append(built, r)
			builtMu.Unlock()
			return r, nil
		}})
}

func TestBuildChannelsDecodesEachBlockIntoItsType(t *testing.T) {
	src := strings.Join(base[:13], "\n") + "\n" +
		"  email: {type: test-ok, host: mail.example, port: 25}\n" +
		"  other:\n    type: test-ok\n    host: other.example\n"
	c, err := Parse("c.yaml", []byte(src), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	set, err := c.BuildChannels()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]testChannelConfig{"email": {"mail.example", 25}, "other": {"other.example", 0}}
	if len(set) != len(want) {
		t.Fatalf("built %d channels, want %d", len(set), len(want))
	}
	for name, cfg := range want {
		n, ok := set.Get(name)
		if !ok {
			t.Fatalf("channel %s missing", name)
		}
		r, ok := n.Channel.(*recorder)
		if !ok || r.cfg != cfg || n.Name != name || n.Type.Name != "test-ok" {
			t.Errorf("channel %s = %+v (%+v), want config %+v", name, n, r, cfg)
		}
	}
}

func TestBuildChannelsReportsEveryChannelsProblem(t *testing.T) {
	cases := []struct {
		name   string
		blocks string // channel blocks starting at line 14
		want   []string
		count  int // errors expected
	}{
		{"an unknown type is reported at its line with the known types", "  sms: {type: carrier-pigeon}\n",
			[]string{`c.yaml:14: channels.sms: unknown type "carrier-pigeon" (known: `, "test-ok"}, 1},
		{"an unknown key inside a block is reported at its own line", "  email:\n    type: test-ok\n    host: h\n    hots: h\n",
			[]string{`c.yaml:17: unknown key "hots" (known: host, port)`}, 1},
		{"a bad value inside a block is reported at its line", "  email: {type: test-ok, host: h, port: many}\n",
			[]string{`c.yaml:14: "many" is not a valid whole number`}, 1},
		{"a plain error from the type is placed at the block's line", "  email: {type: test-ok}\n",
			[]string{"c.yaml:14: channels.email: host is required"}, 1},
		{"several broken channels are all reported", "  a: {type: nope}\n  b: {type: test-ok, hots: x}\n  c: {type: test-ok}\n  d: {type: test-ok, host: fine}\n",
			[]string{`c.yaml:14: channels.a: unknown type "nope"`, `c.yaml:15: unknown key "hots"`, "c.yaml:16: channels.c: host is required"}, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Join(base[:11], "\n") + "\n" + strings.Join(base[11:13], "\n") + "\n" + tc.blocks
			src = strings.Replace(src, "  email: {limit: 2, per: 7d}", "  all: {limit: 2, per: 7d}", 1)
			src = strings.Replace(src, "  all: {limit: 3, per: 7d}", "", 1) // keeps line numbers
			c, err := Parse("c.yaml", []byte(src), testEnv)
			if err != nil {
				t.Fatal(err)
			}
			builtMu.Lock()
			built = nil
			builtMu.Unlock()
			set, err := c.BuildChannels()
			if err == nil || set != nil {
				t.Fatalf("got set %v and no error", set)
			}
			var errs yamlx.Errors
			if !errors.As(err, &errs) || len(errs) != tc.count {
				t.Fatalf("got %v, want %d yamlx.Errors", err, tc.count)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("errors lack %q; got:\n%v", w, err)
				}
			}
			builtMu.Lock()
			defer builtMu.Unlock()
			for _, r := range built {
				if !r.closed {
					t.Errorf("channel built for %+v was not closed after the failure", r.cfg)
				}
			}
		})
	}
}

func TestTheShippedDefaultRunsWithNoEnvironment(t *testing.T) {
	data, err := os.ReadFile("rapport.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse("rapport.yaml", data, env(map[string]string{"RAPPORT_OUTBOX": t.TempDir()}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Redis.URL != "" || c.HTTP.Addr != ":8080" || c.HTTP.BaseURL != "http://localhost:8080" ||
		!slices.Equal(c.HTTP.APITokens, []string{"dev-token"}) || c.Secret != "dev-secret-change-me-0123456789" ||
		c.QuietHours == nil || c.Channels["email"].Type != "outbox" {
		t.Fatalf("unexpected default config: %+v", c)
	}
	set, err := c.BuildChannels()
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	if n, ok := set.Get("email"); !ok || n.Type.Kind != channels.KindEmail {
		t.Fatalf("email channel = %+v, %v", n, ok)
	}
}

func TestTheExampleConfigParses(t *testing.T) {
	data, err := os.ReadFile("rapport.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lookup := env(map[string]string{"RAPPORT_API_TOKEN": "t", "RAPPORT_SECRET": "0123456789abcdef", "SMTP_PASSWORD": "pw"})
	c, err := Parse("rapport.example.yaml", data, lookup)
	if err != nil {
		t.Fatal(err)
	}
	for name, typ := range map[string]string{"email": "smtp", "telegram": "telegram", "whatsapp": "whatsapp", "crm": "webhook"} {
		if got := c.Channels[name].Type; got != typ {
			t.Errorf("channel %s has type %q, want %q", name, got, typ)
		}
	}
	// The smtp block must fit the smtp type's fields (not built: that would dial).
	var smtp email.SMTPConfig
	if err := c.Channels["email"].Decode(&smtp); err != nil {
		t.Fatal(err)
	}
	if smtp.Host != "smtp.example.com" || smtp.Port != 587 || smtp.Password != "pw" || smtp.TLS != "starttls" {
		t.Fatalf("smtp block decoded as %+v", smtp)
	}
}

func TestEachRedisTopologyParses(t *testing.T) {
	cases := []struct {
		name, line string
		check      func(Redis) bool
	}{
		{"one server", `redis: {url: "redis://:pw@10.0.0.1:6379/2"}`, func(r Redis) bool { return r.URL != "" && !r.Embedded() }},
		{"a cluster", `redis: {cluster: ["10.0.0.1:7000", "10.0.0.2:7000"], password: pw}`, func(r Redis) bool {
			return slices.Equal(r.Cluster, []string{"10.0.0.1:7000", "10.0.0.2:7000"}) && r.Password == "pw" && !r.Embedded()
		}},
		{"a sentinel", `redis: {sentinel: {master: mymaster, addrs: ["10.0.0.1:26379"]}}`, func(r Redis) bool {
			return r.Sentinel != nil && r.Sentinel.Master == "mymaster" && len(r.Sentinel.Addrs) == 1 && !r.Embedded()
		}},
		{"none, for the embedded Redis", `redis: {url: ""}`, func(r Redis) bool { return r.Embedded() }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lines := slices.Clone(base)
			lines[0] = c.line
			cfg, err := Parse("c.yaml", []byte(strings.Join(lines, "\n")), testEnv)
			if err != nil {
				t.Fatal(err)
			}
			if !c.check(cfg.Redis) {
				t.Fatalf("redis = %+v", cfg.Redis)
			}
		})
	}
}
