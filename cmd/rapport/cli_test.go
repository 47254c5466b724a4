package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestTheCommandLine runs the command line in process: flags before or after the
// command, help that exits 0, and the version.
func TestTheCommandLine(t *testing.T) {
	cases := []struct {
		name   string
		args   []string
		status int
		out    string // a piece of stdout
		err    string // a piece of stderr
	}{
		{"flags after the command", []string{"validate", "--config", "config/rapport.yaml"}, 0, "ok: ", ""},
		{"flags before the command", []string{"--config", "config/rapport.yaml", "validate"}, 0, "ok: ", ""},
		{"flags with = before the command", []string{"--config=config/rapport.yaml", "--log-level=warn", "validate"}, 0, "ok: ", ""},
		{"a config that is not there, named before the command", []string{"--config", "no/such.yaml", "validate"}, 1, "", "no/such.yaml"},
		{"help for a command", []string{"serve", "--help"}, 0, "", "usage: rapport"},
		{"help before a command", []string{"-h"}, 0, "", "usage: rapport"},
		{"help as a command", []string{"help"}, 0, "", "usage: rapport"},
		{"no command", nil, 2, "", "usage: rapport"},
		{"an unknown flag", []string{"validate", "--colour"}, 2, "", "colour"},
		{"an unknown command", []string{"--config", "x.yaml", "frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{"a stray argument", []string{"validate", "extra"}, 2, "", `unexpected argument "extra"`},
		{"the version", []string{"version"}, 0, "rapport ", ""},
		{"a marketer's command with the config before it", []string{"--config", "config/rapport.yaml", "preview", "thank-you"}, 0, "Subject: ", ""},
		{"a marketer's command keeps the config given before it", []string{"--config", "no/such.yaml", "preview", "thank-you"}, 1, "", "no/such.yaml"},
	}
	t.Chdir("../..") // the shipped config names its folders from the repository's root
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			status := run(c.args, &stdout, &stderr)
			if status != c.status || !strings.Contains(stdout.String(), c.out) || !strings.Contains(stderr.String(), c.err) {
				t.Fatalf("rapport %s = %d\nstdout: %s\nstderr: %s\nwant %d, stdout with %q, stderr with %q",
					strings.Join(c.args, " "), status, stdout.String(), stderr.String(), c.status, c.out, c.err)
			}
		})
	}
}
