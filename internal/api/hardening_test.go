package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/rapporthq/rapport/internal/api"
	"github.com/rapporthq/rapport/internal/engine"
)

func TestValuesRapportCannotKeepAreRefusedNamingTheField(t *testing.T) {
	e := setup(t, api.Options{})
	long := strings.Repeat("A", 3000)
	cases := []struct {
		name, body string
		field      string
		text       string
	}{
		{"a total of NaN", `{"type": "order.placed", "customer_id": "c", "data": {"total": "NaN"}}`, "data.total", "finite number"},
		{"a total of Infinity", `{"type": "order.placed", "customer_id": "c", "data": {"total": "Infinity"}}`, "data.total", "finite number"},
		{"a total beyond any float", `{"type": "order.placed", "customer_id": "c", "data": {"total": 1e999}}`, "data.total", "finite number"},
		{"a price beyond any float, deep inside", `{"type": "order.placed", "customer_id": "c", "data": {"items": [{"price": 1}, {"price": -1e999}]}}`, "data.items[1].price", "finite number"},
		{"an attribute beyond any float", `{"type": "x", "customer_id": "c", "customer": {"score": 2e308}}`, "customer.score", "finite number"},
		{"a first name of 3000 characters", `{"type": "x", "customer_id": "c", "customer": {"first_name": "` + long + `"}}`, "customer.first_name", "at most 1000"},
		{"a birthday written 25.11.1990", `{"type": "x", "customer_id": "c", "customer": {"birthday": "25.11.1990"}}`, "customer.birthday", "YYYY-MM-DD"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := e.post(t, "/v1/events", c.body)
			msg, _ := a.body["error"].(string)
			if a.status != 400 || a.body["field"] != c.field || !strings.Contains(msg, c.text) {
				t.Fatalf("answer %v, want 400 naming %s and saying %q", a, c.field, c.text)
			}
		})
	}
	t.Run("in a batch, the field is named with the event's index", func(t *testing.T) {
		_, _, results := e.batch(t, `{"type": "x", "customer_id": "c"}`, `{"type": "x", "customer_id": "c", "data": {"total": 1e999}}`)
		if r := results[1]; r.Status != 400 || !strings.HasPrefix(r.Error, "events[1].data.total: ") {
			t.Fatalf("result = %+v, want 400 naming events[1].data.total", r)
		}
	})
	if n := e.queued(t); n != 1 {
		t.Fatalf("the queue holds %d events, want only the good one of the batch", n)
	}
	t.Run("ordinary numbers still arrive as numbers", func(t *testing.T) {
		a := e.post(t, "/v1/events", `{"id": "n", "type": "order.placed", "customer_id": "c", "customer": {"chat": 123456789012}, "data": {"total": 59.9, "items": [{"price": 19.9}]}}`)
		if a.status != 202 {
			t.Fatalf("answer %v, want 202", a)
		}
		ev := e.task(t, "n")
		items, _ := ev.Data["items"].([]any)
		if ev.Data["total"] != 59.9 || ev.Customer["chat"] != 123456789012.0 || len(items) != 1 || items[0].(map[string]any)["price"] != 19.9 {
			t.Fatalf("queued event = %+v", ev)
		}
	})
}

func TestReadyzDoesNotTellWhereRedisIs(t *testing.T) {
	e := setup(t, api.Options{})
	e.redis.Kill()
	a := e.do(t, "GET", "/readyz", "", "")
	_, port, _ := strings.Cut(e.redis.Addr, ":")
	if text := fmt.Sprint(a.body); a.status != 503 || strings.Contains(text, port) || strings.Contains(text, "127.0.0.1") || strings.Contains(text, "refused") {
		t.Fatalf("readyz with Redis down: %v, want 503 without the address or the error", a)
	}
	if logged := strings.Join(e.log.lines(), "\n"); !strings.Contains(logged, port) {
		t.Errorf("the log does not say what failed:\n%s", logged)
	}
}

// known is a customer store with one customer, "c".
type known struct{ customers }

func (k *known) Customer(_ context.Context, id string) (engine.CustomerView, error) {
	if id != "c" {
		return engine.CustomerView{}, fmt.Errorf("%w %q", engine.ErrUnknownCustomer, id)
	}
	return engine.CustomerView{ID: "c"}, nil
}

func TestAnUnknownCustomerIsNotFound(t *testing.T) {
	e := setup(t, api.Options{Customers: &known{}})
	if a := e.do(t, "GET", "/v1/customers/c", "Bearer "+token, ""); a.status != 200 {
		t.Fatalf("a known customer: %v, want 200", a)
	}
	if a := e.do(t, "GET", "/v1/customers/nobody", "Bearer "+token, ""); a.status != 404 || a.body["error"] == nil {
		t.Fatalf("an unknown customer: %v, want 404 with an error", a)
	}
}

func TestAProfileUpdateTakesTheAttributesOnly(t *testing.T) {
	e := setup(t, api.Options{Customers: &known{}})
	put := func(body string) answer { return e.do(t, "PUT", "/v1/customers/c", "Bearer "+token, body) }
	a := put(`{"customer": {"email": "anna@example.com", "first_name": "Anna"}}`)
	if a.status != 202 {
		t.Fatalf("PUT with the attributes under customer: %v, want 202", a)
	}
	id, _ := a.body["id"].(string)
	if ev := e.task(t, id); ev.Customer["email"] != "anna@example.com" || ev.Customer["customer"] != nil || ev.Type != api.ProfileUpdated {
		t.Fatalf("queued update = %+v, want the attributes unwrapped", ev)
	}
	if a := put(`{"email": "anna@example.com", "customer": {"first_name": "Anna"}}`); a.status != 400 || a.body["field"] != "customer" {
		t.Fatalf("PUT with customer beside attributes: %v, want 400 naming customer", a)
	}
	for body, field := range map[string]string{
		`{"birthday": "25.11.1990"}`:                             "customer.birthday",
		`{"score": 1e999}`:                                       "customer.score",
		`{"first_name": "` + strings.Repeat("x", 1001) + `"}`:    "customer.first_name",
		`{"customer": {"first_name": "Anna", "total_spent": 1}}`: "customer.total_spent",
		`{"~e:welcome": "abc step-1 0 0 0 0"}`:                   "customer.~e:welcome",
		`{"locale": "../../../x/owned"}`:                         "customer.locale",
	} {
		if a := put(body); a.status != 400 || a.body["field"] != field {
			t.Errorf("PUT %.40s: %v, want 400 naming %s", body, a, field)
		}
	}
	if n := e.queued(t); n != 1 {
		t.Fatalf("%d events queued, want only the good update", n)
	}
}

// Ids that would move a Redis hash tag, like the pair below whose keys were one
// (rapport:{zz}:applied:q}:customer), are refused with a 400 naming the field, before
// anything is queued or read.
func TestIdsThatCouldCollideAreRefused(t *testing.T) {
	e := setup(t, api.Options{Customers: &known{}})
	bearer := "Bearer " + token
	cases := []struct {
		name, method, path, body, field string
	}{
		{"an event id with a brace", "POST", "/v1/events", `{"id": "q}:customer", "type": "order.placed", "customer_id": "zz"}`, "id"},
		{"a customer id with a brace", "POST", "/v1/events", `{"type": "order.placed", "customer_id": "zz}:applied:q"}`, "customer_id"},
		{"a customer id with an opening brace", "POST", "/v1/events", `{"type": "order.placed", "customer_id": "{zz"}`, "customer_id"},
		{"a customer id with a control character", "POST", "/v1/events", `{"type": "order.placed", "customer_id": "zz\u001b"}`, "customer_id"},
		{"a locale that is a path", "POST", "/v1/events", `{"type": "order.placed", "customer_id": "zz", "customer": {"locale": "../../../x/owned"}}`, "customer.locale"},
		{"a customer id of 201 characters", "POST", "/v1/events", `{"type": "order.placed", "customer_id": "` + strings.Repeat("z", 201) + `"}`, "customer_id"},
		{"an event id with a brace in a batch", "POST", "/v1/events/batch", `{"events": [{"id": "q}:customer", "type": "x", "customer_id": "zz"}]}`, ""},
		{"a profile read of such a customer", "GET", "/v1/customers/zz%7D:applied:q", "", "id"},
		{"a profile update of such a customer", "PUT", "/v1/customers/zz%7D:applied:q", `{"first_name": "Zz"}`, "id"},
		{"an erasure of such a customer", "DELETE", "/v1/customers/%7Bzz", "", "id"},
		{"a consent change of such a customer", "POST", "/v1/customers/zz%7D/consent", `{"channel": "email", "subscribed": false}`, "id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := e.do(t, c.method, c.path, bearer, c.body)
			if c.field == "" { // a batch answers per event
				res, _ := a.body["results"].([]any)
				if a.status != 200 || len(res) != 1 || res[0].(map[string]any)["status"] != float64(400) ||
					!strings.HasPrefix(res[0].(map[string]any)["error"].(string), "events[0].id:") {
					t.Fatalf("%v, want the event answered 400 naming events[0].id", a)
				}
				return
			}
			if a.status != 400 || a.body["field"] != c.field {
				t.Fatalf("%v, want 400 naming %s", a, c.field)
			}
		})
	}
	if n := e.queued(t); n != 0 {
		t.Fatalf("%d events queued, want none", n)
	}
}
