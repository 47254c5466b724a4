package templates

import "time"

// Sample is a made-up customer and order for previews (`rapport preview`, the preview
// page): enough attributes and event data that every shipped template shows all it can.
// locale sets the customer's locale; now is the render time.
func Sample(locale string, now time.Time) Data {
	return Data{
		Customer: map[string]any{
			"first_name": "Anna", "last_name": "Petrova", "email": "anna@example.com", "locale": locale,
			"timezone": "Europe/Berlin", "birthday": "1990-03-15", "birthday_code": "BDAY-ANNA-15",
			"orders_count": 3.0, "total_spent": 142.5, "last_order_at": now.Add(-60 * 24 * time.Hour),
		},
		Event: map[string]any{
			"id": "evt-sample-1", "type": "order.placed", "customer_id": "c-sample", "occurred_at": now,
			"data": map[string]any{
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
		Now:     now,
	}
}
