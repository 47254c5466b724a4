package client_test

import (
	"context"
	"errors"
	"log"

	"github.com/rapporthq/rapport/client"
	"github.com/rapporthq/rapport/event"
)

// A shop backend sends an order straight into the Redis that Rapport's worker reads.
// Sending the same id again is safe: it is reported as a duplicate and changes nothing.
func Example() {
	c, err := client.New("redis://127.0.0.1:6379/0")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	res, err := c.Send(context.Background(), event.Event{
		ID:         "evt-8f2c1",
		Type:       "order.placed",
		CustomerID: "c-42",
		Customer:   map[string]any{"email": "anna@example.com", "first_name": "Anna"},
		Data:       map[string]any{"order_id": "A-1001", "total": 59.9},
	})
	switch {
	case errors.Is(err, client.ErrUnavailable):
		log.Print("Redis is unreachable; send again later")
	case err != nil:
		log.Fatal(err) // an *event.FieldError names the bad field
	case res.Duplicate:
		log.Printf("%s was already accepted", res.ID)
	}
}
