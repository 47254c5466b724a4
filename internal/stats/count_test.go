package stats

import (
	"context"
	"testing"

	"github.com/rapporthq/rapport/internal/redistest"
)

// TestACountThatCannotBeMadeWritesNothing runs the counting script with increments it
// cannot add: each run is refused before its first write, so the fact's marker is not
// taken and the increments before the bad one are not applied either.
func TestACountThatCannotBeMadeWritesNothing(t *testing.T) {
	rdb := redistest.Start(t).Client(t)
	ctx := context.Background()
	keys := []string{"rapport:{stats}:seen:x", "rapport:{stats}:totals"}
	if err := rdb.HSet(ctx, keys[1], "revenue_cents", "9007199254700000").Err(); err != nil {
		t.Fatal(err)
	}
	for name, amount := range map[string]string{
		"beyond 2^53":         "100000",
		"the smallest int64":  "-9223372036854775808",
		"not a whole number":  "1.5",
		"not a number at all": "lots",
	} {
		err := countOnce.Run(ctx, rdb, keys, 60000, "i", 2, "orders", 1, 0, "i", 2, "revenue_cents", amount, 0).Err()
		if err == nil {
			t.Errorf("%s: counted", name)
		}
	}
	h := rdb.HGetAll(ctx, keys[1]).Val()
	if len(h) != 1 || h["revenue_cents"] != "9007199254700000" {
		t.Fatalf("totals after refused counts = %v, want them as they were", h)
	}
	if rdb.Exists(ctx, keys[0]).Val() != 0 {
		t.Fatal("a refused count took the fact's marker")
	}
	if n, err := countOnce.Run(ctx, rdb, keys, 60000, "i", 2, "orders", 1, 0, "i", 2, "revenue_cents", 5990, 0).Int(); err != nil || n != 1 {
		t.Fatalf("a good count: %d, %v", n, err)
	}
	if n, _ := countOnce.Run(ctx, rdb, keys, 60000, "i", 2, "orders", 1, 0).Int(); n != 0 {
		t.Fatal("the same fact counted twice")
	}
	if h := rdb.HGetAll(ctx, keys[1]).Val(); h["orders"] != "1" {
		t.Fatalf("totals after a good count = %v", h)
	}
}
