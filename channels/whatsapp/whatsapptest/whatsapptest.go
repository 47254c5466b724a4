// Package whatsapptest is a local stand-in for the WhatsApp Cloud API, for tests: an
// httptest server that answers POST /{phone_number_id}/messages and GET
// /{phone_number_id} with the status codes and Graph API error bodies the real API gives,
// records every message it accepts (text or template), and plays scripted refusals per
// recipient.
package whatsapptest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/rapporthq/rapport/channels/httpchan/httpchantest"
)

// The credentials the server accepts.
const (
	Token         = "EAAGtest0token"
	PhoneNumberID = "106540352242922"
)

// Message is one message the server accepted.
type Message struct {
	To   string
	Type string // "text" or "template"
	// Text is the body of a text message.
	Text string
	// Template, Language and Params describe a template message.
	Template string
	Language string
	Params   []string
	// ID is the wamid the server answered with.
	ID string
}

// Reply is a scripted answer: an HTTP status and its body.
type Reply struct {
	Status int
	Body   string
}

// Refusal is the Graph API error body the Cloud API sends for code, with its message
// and details, at HTTP status.
func Refusal(status, code int, message, details string) Reply {
	body, err := json.Marshal(map[string]any{"error": map[string]any{
		"message": fmt.Sprintf("(#%d) %s", code, message), "type": "OAuthException", "code": code,
		"error_data": map[string]any{"messaging_product": "whatsapp", "details": details},
		"fbtrace_id": "AbCdEfGhIjK_lmnop",
	}})
	if err != nil {
		panic(err)
	}
	return Reply{status, string(body)}
}

// The Cloud API's refusals, as its error-code reference gives them.
var (
	ReEngagement = Refusal(400, 131047, "Re-engagement message",
		"Message failed to send because more than 24 hours have passed since the customer last replied to this number.")
	Undeliverable = Refusal(400, 131026, "Message undeliverable",
		"Unable to deliver message. Reasons can include: the recipient phone number is not a WhatsApp phone number.")
	RateLimit     = Refusal(400, 130429, "Rate limit hit", "Cloud API message throughput has been reached.")
	PairRateLimit = Refusal(400, 131056, "(Business Account, Consumer Account) pair rate limit hit",
		"Too many messages sent from the sender phone number to the same recipient phone number in a short period of time.")
	SpamRateLimit = Refusal(400, 131048, "Spam rate limit hit",
		"Message failed to send because there are restrictions on how many messages can be sent from this phone number.")
	TemplateMissing = Refusal(404, 132001, "Template name does not exist in the translation",
		"template name (order_thanks) does not exist in en")
	ServiceUnavailable = Refusal(503, 131016, "Service unavailable", "A service is temporarily unavailable.")
	Internal           = Refusal(500, 131000, "Something went wrong", "Message failed to send due to an unknown error.")
)

// Server is a fake Cloud API. Call Start.
type Server struct {
	*httptest.Server

	script httpchantest.Script[Reply] // per recipient phone

	mu       sync.Mutex
	msgs     []Message
	next     int
	requests int
}

// Start runs a fake Cloud API until the test ends. Its URL is the channel's api_url.
func Start(tb testing.TB) *Server {
	s := &Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

// Script makes the next requests to the recipient phone (as sent in "to") get the
// replies, in order; after them its messages are accepted.
func (s *Server) Script(phone string, replies ...Reply) { s.script.Add(phone, replies...) }

// Messages returns the accepted messages, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Requests counts the message requests answered, accepted or not.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

func reply(w http.ResponseWriter, r Reply) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(r.Status)
	fmt.Fprint(w, r.Body)
}

var (
	badToken = Reply{401, `{"error":{"message":"Invalid OAuth access token - Cannot parse access token","type":"OAuthException","code":190,"fbtrace_id":"AbCdEfGhIjK_lmnop"}}`}
	noObject = Reply{400, `{"error":{"message":"Unsupported post request. Object with ID 'x' does not exist, cannot be loaded due to missing permissions, or does not support this operation.","type":"GraphMethodException","code":100,"error_subcode":33,"fbtrace_id":"AbCdEfGhIjK_lmnop"}}`}
)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+Token {
		reply(w, badToken)
		return
	}
	path := strings.Trim(r.URL.Path, "/")
	switch {
	case r.Method == http.MethodGet && path == PhoneNumberID:
		reply(w, Reply{200, `{"verified_name":"Shop","display_phone_number":"+1 555-010-0000","id":"` + PhoneNumberID + `"}`})
	case r.Method == http.MethodPost && path == PhoneNumberID+"/messages":
		s.message(w, r)
	default:
		reply(w, noObject)
	}
}

func (s *Server) message(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Product  string                `json:"messaging_product"`
		To       string                `json:"to"`
		Type     string                `json:"type"`
		Text     struct{ Body string } `json:"text"`
		Template struct {
			Name     string `json:"name"`
			Language struct {
				Code string `json:"code"`
			} `json:"language"`
			Components []struct {
				Type       string `json:"type"`
				Parameters []struct {
					Type string `json:"type"`
					Text string `json:"text"`
				} `json:"parameters"`
			} `json:"components"`
		} `json:"template"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Product != "whatsapp" || req.To == "" {
		reply(w, Refusal(400, 100, "Invalid parameter", "The parameter messaging_product or to is required."))
		return
	}
	m := Message{To: req.To, Type: req.Type}
	switch req.Type {
	case "text":
		if req.Text.Body == "" {
			reply(w, Refusal(400, 131008, "Required parameter is missing", "The parameter text['body'] is required."))
			return
		}
		m.Text = req.Text.Body
	case "template":
		if req.Template.Name == "" || req.Template.Language.Code == "" {
			reply(w, Refusal(400, 131008, "Required parameter is missing", "The parameter template['name'] and ['language'] are required."))
			return
		}
		m.Template, m.Language = req.Template.Name, req.Template.Language.Code
		for _, c := range req.Template.Components {
			for _, p := range c.Parameters {
				m.Params = append(m.Params, p.Text)
			}
		}
	default:
		reply(w, Refusal(400, 131051, "Unsupported message type", "Message type is not currently supported."))
		return
	}
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
	if rep, ok := s.script.Next(req.To); ok {
		reply(w, rep)
		return
	}
	s.mu.Lock()
	s.next++
	m.ID = fmt.Sprintf("wamid.HBgLMTU1NTAxMDAwMDAVAgARGBI%04d", s.next)
	s.msgs = append(s.msgs, m)
	s.mu.Unlock()
	reply(w, Reply{200, fmt.Sprintf(`{"messaging_product":"whatsapp","contacts":[{"input":%q,"wa_id":%q}],"messages":[{"id":%q}]}`,
		req.To, strings.TrimPrefix(req.To, "+"), m.ID)})
}
