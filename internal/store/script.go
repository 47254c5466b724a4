package store

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// A script call: every script has one Go struct for its arguments, which lists its keys
// and its ARGV in the order the script names them in locals on its first lines, and one
// checked decode of its answer (the reply* functions). An answer of another shape is an
// error, never a zero value.
type scriptCall interface {
	keys() []string
	argv() []any
}

// run runs sc with c's keys and arguments.
func (s *Store) run(ctx context.Context, sc *redis.Script, c scriptCall) *redis.Cmd {
	return sc.Run(ctx, s.rdb, c.keys(), c.argv()...)
}

// replyList reads an array answer of n elements.
func replyList(v any, n int) ([]any, error) {
	l, ok := v.([]any)
	if !ok || len(l) != n {
		return nil, fmt.Errorf("script answered %#v, want a list of %d", v, n)
	}
	return l, nil
}

// replyInt reads an integer element of an answer.
func replyInt(v any) (int64, error) {
	n, ok := v.(int64)
	if !ok {
		return 0, fmt.Errorf("script answered %#v, want an integer", v)
	}
	return n, nil
}

// replyString reads a string element of an answer.
func replyString(v any) (string, error) {
	str, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("script answered %#v, want a string", v)
	}
	return str, nil
}

// replyStrings reads an array answer of n strings.
func replyStrings(v any, n int) ([]string, error) {
	l, err := replyList(v, n)
	if err != nil {
		return nil, err
	}
	out := make([]string, n)
	for i, x := range l {
		if out[i], err = replyString(x); err != nil {
			return nil, err
		}
	}
	return out, nil
}
