# The one test command of the README and of CI.
.PHONY: test run bench

test:
	@command -v redis-server >/dev/null || { echo "installing redis-server (tests start their own on a free port)"; \
		(apt-get update -qq && apt-get install -y -qq redis-server) >/dev/null; }
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	go vet ./...
	go test -race -count=1 ./...
	go run ./cmd/rapport test

run:
	go run ./cmd/rapport serve

bench:
	go test -run '^$$' -bench . -benchtime 2x ./...
