package templates

import "time"

// Sample is a made-up customer and order for previews (`rapport preview`, the preview
// page): enough attributes and event data that every shipped template shows all it can.
// locale sets the customer's locale and the message's; now is the render time. The
// caller sets the channel and the link signers; NewData makes it the template's data.
func Sample(locale string, now time.Time) Input {
	return Input{
		CustomerID: "c-sample",
		MessageID:  "preview",
		Customer: map[string]any{
			"first_name": "Anna", "last_name": "Petrova", "email": "anna@example.com", "locale": locale,
			"timezone": "Europe/Berlin", "birthday": "1990-03-15", "birthday_code": "BDAY-ANNA-15",
			"orders_count": 3.0, "total_spent": 142.5, "last_order_at": now.Add(-60 * 24 * time.Hour),
		},
		Event: Event{
			ID: "evt-sample-1", Type: "order.placed", CustomerID: "c-sample", OccurredAt: now,
			Data: map[string]any{
				"order_id": "A-1001", "total": 59.9, "cart_id": "K-77", "cart_url": "https://shop.example/cart/K-77",
				"review_url": "https://shop.example/review/A-1001",
				"items": []any{
					map[string]any{"sku": "CF-1", "name": "Ethiopia Guji", "category": "coffee", "price": 19.9,
						"url": "https://shop.example/p/CF-1"},
					map[string]any{"sku": "TE-4", "name": "Darjeeling First Flush", "category": "tea", "price": 40.0,
						"url": "https://shop.example/p/TE-4"},
				},
			},
		},
		Journey: Journey{ID: "preview", Name: "Preview"},
		Locale:  locale,
		Now:     now,
	}
}
