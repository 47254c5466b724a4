package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
)

// TestAWorkerWaitsForTheMigration drives the binary on data of the previous layout (an
// enrolment in a hash of its own): `rapport worker` refuses to start and says to run
// `rapport migrate`; the migration logs its batches and records the schema; the worker
// then starts. A schema newer than the binary's stops it too.
func TestAWorkerWaitsForTheMigration(t *testing.T) {
	s := newSetup(t, "../../workflows", "")
	rdb := s.redis.Client(t)
	ctx := context.Background()
	if err := rdb.HSet(ctx, "rapport:{old}:enrol:welcome", "id", "a1", "step", "s1", "started", 1, "due", 2, "since", 1000).Err(); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(binary, "worker", "--config", s.config).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "rapport migrate") {
		t.Fatalf("worker on the old layout: %v\n%s\nwant it to stop and ask for rapport migrate", err, out)
	}
	out, err = exec.Command(binary, "migrate", "--batch", "10", "--config", s.config).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "migration batch") || !strings.Contains(string(out), "data is at schema 2") {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	if v := rdb.HGet(ctx, "rapport:{old}:customer", "~e:welcome").Val(); !strings.HasPrefix(v, "a1 s1 ") {
		t.Fatalf("the enrolment after the migration: %q", v)
	}
	p := s.start(t, "serve")
	p.kill()

	if err := rdb.Set(ctx, "rapport:schema", 99, 0).Err(); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(binary, "worker", "--config", s.config).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "newer Rapport") {
		t.Fatalf("worker on newer data: %v\n%s", err, out)
	}
}
