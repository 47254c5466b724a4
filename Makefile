# The one test command of the README and of CI.
.PHONY: test run bench fuzz faults

test:
	@command -v redis-server >/dev/null || { echo "installing redis-server (tests start their own on a free port)"; \
		(apt-get update -qq && apt-get install -y -qq redis-server) >/dev/null; }
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	go vet ./...
	go vet -tags faults ./cmd/rapport/
	go test -race -count=1 ./...
	go run ./cmd/rapport test

run:
	go run ./cmd/rapport serve

bench:
	go test -run '^$$' -bench . -benchtime 2x ./...

# Each fuzz target for FUZZTIME; a crasher is written to the package's testdata/fuzz,
# where it stays as a seed that go test runs from then on. The budget is a count of
# executions, not a duration: a duration races Go's fuzzing coordinator, which then fails
# with "context deadline exceeded" and no crasher on a loaded machine (go.dev/issue/75804).
FUZZTIME ?= 50000x
FUZZ_TARGETS = FuzzParseEvent:./internal/api FuzzLoadFile:./workflows FuzzParse:./internal/duration \
	FuzzFrontMatter:./templates FuzzExpand:./config FuzzParse:./internal/inbound/mailparse

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t%%:*} for $(FUZZTIME)"; \
		go test -run '^$$' -fuzz "^$${t%%:*}\$$" -fuzztime $(FUZZTIME) -parallel 2 $${t#*:}; \
	done

# Fault tests: the built binary against a real redis-server and an SMTP server that
# misbehaves (kill -9, Redis restarts, late and slow answers, refusals, dropped
# connections). Each prints a FAULT line with its figures.
# FAULTS picks the scenarios, by default all of them (CI runs them all).
FAULTS ?= ^TestFault
faults:
	go test -tags faults -run '$(FAULTS)' -count=1 -v -timeout 15m ./cmd/rapport/
