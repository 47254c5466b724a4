package yamlx

import (
	"regexp"
	"strings"
	"testing"
)

type inner struct {
	Port int `yaml:"port"`
}

type outer struct {
	Name  string           `yaml:"name"`
	Inner inner            `yaml:"inner"`
	Items []inner          `yaml:"items"`
	ByKey map[string]inner `yaml:"by_key"`
}

func TestDecodeReportsEveryProblemWithItsLine(t *testing.T) {
	src := "name: x\ninner:\n  port: eighty\n  host: h\nitems:\n  - port: 1\n    prot: 2\nby_key:\n  a: {port: 3, bad: 1}\ncolour: red\n"
	node, err := Parse("c.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var v outer
	err = Decode("c.yaml", node, &v)
	if err == nil {
		t.Fatal("want errors")
	}
	got := err.Error()
	for _, want := range []string{
		`c.yaml:3: "eighty" is not a valid whole number`,
		`c.yaml:4: unknown key "host"`,
		`c.yaml:7: unknown key "prot"`,
		`c.yaml:9: unknown key "bad"`,
		`c.yaml:10: unknown key "colour"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errors lack %q; got:\n%s", want, got)
		}
	}
}

func TestParseNamesTheLineOfASyntaxError(t *testing.T) {
	_, err := Parse("j.yaml", []byte("id: a\nsteps:\n  - id: b\n   wait: 1h\n"))
	if err == nil || !regexp.MustCompile(`^j\.yaml:[0-9]+: `).MatchString(err.Error()) {
		t.Fatalf("got %v, want an error as j.yaml:LINE: message", err)
	}
}
