// Package api is Rapport's HTTP API: the shop backend's way in, the customers' one-click
// unsubscribe, and health checks for operators. It authenticates requests,
// decodes and checks bodies (every error names the field at fault), hands events to the
// intake and answers with the status codes of the contract: 202 once an event is durably
// in Redis, 200 for a duplicate id, 400, 401, 413, and 503 when Redis cannot be reached.
// It knows nothing of how steps are scheduled.
package api
