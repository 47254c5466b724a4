package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	netsmtp "net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rapporthq/rapport/channels"
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
	rs := redistest.Start(t)
	redisBlock := fmt.Sprintf(`{url: %q}`, rs.URL())
	cases := []struct {
		name  string
		opts  []smtptest.Option
		block string
		want  string
	}{
		{"a server without STARTTLS", nil,
			`{type: smtp, host: %q, port: %d, from: "Shop <hello@shop.example>", tls: starttls}`,
			"FAIL  channel email (smtp): smtp check: connect to SMTP server 127.0.0.1:PORT: STARTTLS mode set to: \"TLSMandatory\", but target host does not support STARTTLS"},
		{"a login over plain text", []smtptest.Option{smtptest.WithAuth("rapport", "right")},
			`{type: smtp, host: %q, port: %d, username: rapport, password: right, from: "Shop <hello@shop.example>", tls: none}`,
			"FAIL  channel email (smtp): smtp check: connect to SMTP server 127.0.0.1:PORT: SMTP Auth autodiscover was not able to detect a supported authentication mechanism"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			smtp := smtptest.Start(t, c.opts...)
			code, out := runCheck(t, checkConfig(t, redisBlock, fmt.Sprintf(c.block, smtp.Host, smtp.Port)))
			want := strings.ReplaceAll(c.want, "PORT", strconv.Itoa(smtp.Port))
			if code != 1 || !strings.Contains(out, want) || !strings.Contains(out, "ok    redis") {
				t.Fatalf("exit %d:\n%s\nwant exit 1, redis ok and %q", code, out, want)
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

// TestCheckSaysAWrongPasswordIsWrong runs the built binary, which trusts the test SMTP
// server's certificate through SSL_CERT_FILE, so the login happens over STARTTLS as in
// production and the server refuses the password.
func TestCheckSaysAWrongPasswordIsWrong(t *testing.T) {
	rs := redistest.Start(t)
	smtp := smtptest.Start(t, smtptest.WithSTARTTLS(), smtptest.WithAuth("rapport", "right"))
	pemFile := filepath.Join(t.TempDir(), "ca.pem")
	der := serverCert(t, smtp.Addr)
	if err := os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ password, want string }{
		{"right", "ok    channel email (smtp)"},
		{"wrong", "FAIL  channel email (smtp): smtp check: connect to SMTP server 127.0.0.1:PORT: SMTP AUTH failed: 535"},
	} {
		config := checkConfig(t, fmt.Sprintf(`{url: %q}`, rs.URL()), fmt.Sprintf(
			`{type: smtp, host: %q, port: %d, username: rapport, password: %s, from: "Shop <hello@shop.example>", tls: starttls}`,
			smtp.Host, smtp.Port, c.password))
		cmd := exec.Command(binary, "check", "--config", config)
		cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+pemFile)
		out, err := cmd.CombinedOutput()
		want := strings.ReplaceAll(c.want, "PORT", strconv.Itoa(smtp.Port))
		if !strings.Contains(string(out), want) {
			t.Fatalf("with password %s: %v\n%s\nwant %q", c.password, err, out, want)
		}
	}
}

// serverCert fetches the certificate an SMTP server shows after STARTTLS.
func serverCert(t *testing.T, addr string) []byte {
	t.Helper()
	c, err := netsmtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.StartTLS(&tls.Config{InsecureSkipVerify: true}); err != nil {
		t.Fatal(err)
	}
	state, ok := c.TLSConnectionState()
	if !ok || len(state.PeerCertificates) == 0 {
		t.Fatal("no certificate after STARTTLS")
	}
	return state.PeerCertificates[0].Raw
}

func TestCheckFindsTheMasterThroughSentinel(t *testing.T) {
	sen := redistest.StartSentinel(t)
	emailBlock := `{type: check-test}`
	code, out := runCheck(t, checkConfig(t, fmt.Sprintf(`{sentinel: {master: %s, addrs: [%q]}}`, sen.MasterName, sen.Addr), emailBlock))
	if code != 0 || !strings.Contains(out, "ok    redis sentinel master mymaster via "+sen.Addr) {
		t.Fatalf("exit %d:\n%s\nwant the master found through the Sentinel", code, out)
	}
	code, out = runCheck(t, checkConfig(t, fmt.Sprintf(`{sentinel: {master: elsewhere, addrs: [%q]}}`, sen.Addr), emailBlock))
	if code != 1 || !strings.Contains(out, fmt.Sprintf(`FAIL  redis sentinel master elsewhere via %s: the Sentinel at %s knows no master called "elsewhere"`, sen.Addr, sen.Addr)) {
		t.Fatalf("exit %d:\n%s\nwant a failure for a master the Sentinel does not know", code, out)
	}
}
