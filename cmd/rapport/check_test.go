package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rapporthq/rapport/channels"
	"github.com/rapporthq/rapport/channels/email"
	"github.com/rapporthq/rapport/internal/redistest"
	"github.com/rapporthq/rapport/internal/smtptest"
)

// checkConfig writes a config with the given redis block and email channel block.
func checkConfig(t *testing.T, redisBlock, emailBlock string) string {
	t.Helper()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "rapport.yaml")
	cfg := fmt.Sprintf(`redis: %s
http: {addr: ":0", base_url: "http://localhost", api_tokens: ["t"]}
secret: "a-test-secret-of-enough-length"
workflows: %q
templates: %q
channels:
  email: %s
`, redisBlock, filepath.Join(repo, "cmd/rapport/testdata/kill"), filepath.Join(repo, "templates"), emailBlock)
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func runCheck(t *testing.T, config string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run([]string{"check", "--config", config}, &out, &errOut)
	return code, out.String() + errOut.String()
}

func TestCheckSaysWhatIsWrongWithRedis(t *testing.T) {
	smtp := smtptest.Start(t)
	emailBlock := fmt.Sprintf(`{type: smtp, host: %q, port: %d, from: "Shop <hello@shop.example>", tls: none}`, smtp.Host, smtp.Port)

	t.Run("a Redis that answers is ok", func(t *testing.T) {
		rs := redistest.Start(t)
		code, out := runCheck(t, checkConfig(t, fmt.Sprintf(`{url: %q}`, rs.URL()), emailBlock))
		if !strings.Contains(out, "ok    redis at "+rs.Addr) {
			t.Fatalf("exit %d:\n%s\nwant redis ok", code, out)
		}
	})
	t.Run("a Redis that is down fails in plain words", func(t *testing.T) {
		rs := redistest.Start(t)
		rs.Kill()
		code, out := runCheck(t, checkConfig(t, fmt.Sprintf(`{url: "redis://:hunter2@%s/0"}`, rs.Addr), emailBlock))
		if code != 1 || !strings.Contains(out, "FAIL  redis at "+rs.Addr+": nothing listens there (connection refused)") {
			t.Fatalf("exit %d:\n%s\nwant exit 1 and a plain refused connection", code, out)
		}
		if strings.Contains(out, "hunter2") {
			t.Fatalf("the password shows in the output:\n%s", out)
		}
	})
	t.Run("a Redis Cluster that serves every slot is ok", func(t *testing.T) {
		cl := redistest.StartCluster(t)
		code, out := runCheck(t, checkConfig(t, fmt.Sprintf(`{cluster: [%q]}`, cl.Addrs()[0]), emailBlock))
		if !strings.Contains(out, "ok    redis cluster "+cl.Addrs()[0]) {
			t.Fatalf("exit %d:\n%s\nwant the cluster ok", code, out)
		}
	})
}

func TestCheckSaysWhatIsWrongWithSMTP(t *testing.T) {
	if _, ok := any(&email.SMTP{}).(channels.Checker); !ok {
		t.Skip("the smtp channel cannot check itself yet (no Check method)")
	}
	rs := redistest.Start(t)
	redisBlock := fmt.Sprintf(`{url: %q}`, rs.URL())
	cases := []struct {
		name  string
		opts  []smtptest.Option
		block string
		want  string
	}{
		{"a wrong password", []smtptest.Option{smtptest.WithAuth("rapport", "right")},
			`{type: smtp, host: %q, port: %d, username: rapport, password: wrong, from: "Shop <hello@shop.example>", tls: none}`,
			"FAIL  channel email (smtp): "},
		{"a server without STARTTLS", nil,
			`{type: smtp, host: %q, port: %d, from: "Shop <hello@shop.example>", tls: starttls}`,
			"FAIL  channel email (smtp): "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			smtp := smtptest.Start(t, c.opts...)
			code, out := runCheck(t, checkConfig(t, redisBlock, fmt.Sprintf(c.block, smtp.Host, smtp.Port)))
			if code != 1 || !strings.Contains(out, c.want) || !strings.Contains(out, "ok    redis") {
				t.Fatalf("exit %d:\n%s\nwant exit 1, redis ok and %q", code, out, c.want)
			}
			if smtp.Count() != 0 {
				t.Fatalf("check sent %d messages, want none", smtp.Count())
			}
		})
	}
}

// checkedChannel is a channel type whose Check fails with the configured words.
type checkedChannel struct{ problem string }

func (c checkedChannel) Send(context.Context, channels.Message) (channels.Receipt, error) {
	return channels.Receipt{}, nil
}

func (c checkedChannel) Check(context.Context) error {
	if c.problem != "" {
		return errors.New(c.problem)
	}
	return nil
}

func init() {
	channels.Register(channels.Type{Name: "check-test", Kind: channels.KindEmail, AddressKey: "email",
		New: func(decode func(any) error) (channels.Channel, error) {
			var cfg struct {
				Problem string `yaml:"problem"`
			}
			err := decode(&cfg)
			return checkedChannel{cfg.Problem}, err
		}})
}

func TestCheckAsksEveryCheckerAndExitsOneOnAProblem(t *testing.T) {
	rs := redistest.Start(t)
	redisBlock := fmt.Sprintf(`{url: %q}`, rs.URL())
	code, out := runCheck(t, checkConfig(t, redisBlock, `{type: check-test}`))
	if code != 0 || !strings.Contains(out, "ok    channel email (check-test)") || !strings.Contains(out, "all good") {
		t.Fatalf("exit %d:\n%s\nwant 0 and the channel ok", code, out)
	}
	code, out = runCheck(t, checkConfig(t, redisBlock, `{type: check-test, problem: "the server refused the password"}`))
	if code != 1 || !strings.Contains(out, "FAIL  channel email (check-test): the server refused the password") {
		t.Fatalf("exit %d:\n%s\nwant 1 and the channel's own words", code, out)
	}
}
