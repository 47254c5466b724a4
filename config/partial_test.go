package config

import (
	"strings"
	"testing"
)

// A config with problems still comes back, read as far as it could be, so that validate
// can go on to check its channels, journeys and templates; a malformed reference does
// not hide the other problems of the file.
func TestAConfigWithProblemsComesBackWithAllOfThem(t *testing.T) {
	src := "http: {base_url: \"http://localhost\", api_tokens: [t]}\nsecret: \"${NOT_SET}\"\nworkflows: ${BAD-NAME}\n" +
		"channels:\n  email: {type: outbox, dir: out, from: \"a@b.example\"}\n"
	c, err := Parse("c.yaml", []byte(src), env(nil))
	if err == nil || c == nil {
		t.Fatalf("Parse = %v, %v: want the config and its errors", c, err)
	}
	for _, want := range []string{"c.yaml:2: secret must be at least 16 characters", "c.yaml:3: bad variable reference ${BAD-NAME}"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%v", want, err)
		}
	}
	if c.Channels["email"].Type != "outbox" || c.Templates != "templates" {
		t.Errorf("the config was not read as far as it could be: %+v", c)
	}
	if c, err := Parse("c.yaml", []byte("a: [1,\n"), env(nil)); c != nil || err == nil {
		t.Errorf("a file that is not YAML gave %v, %v", c, err)
	}
}
