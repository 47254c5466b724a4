package providers

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Postmark reads Postmark's webhooks, which carry no signature: the webhook URL is set
// up with HTTP basic auth credentials, and a request must present them.
type Postmark struct {
	user, pass string
}

type postmarkPayload struct {
	RecordType  string            `json:"RecordType"`
	ID          json.Number       `json:"ID"`
	Type        string            `json:"Type"`
	MessageID   string            `json:"MessageID"`
	Email       string            `json:"Email"`
	Recipient   string            `json:"Recipient"`
	Description string            `json:"Description"`
	Details     string            `json:"Details"`
	OriginalURL string            `json:"OriginalLink"`
	Metadata    map[string]string `json:"Metadata"`
	BouncedAt   time.Time         `json:"BouncedAt"`
	DeliveredAt time.Time         `json:"DeliveredAt"`
	ReceivedAt  time.Time         `json:"ReceivedAt"`
}

// postmarkSoft are the bounce types that do not say the address is dead.
var postmarkSoft = map[string]bool{
	"SoftBounce": true, "Transient": true, "DnsError": true, "AutoResponder": true,
	"MailboxFull": true, "ChallengeVerification": true, "SpamNotification": true,
	"Blocked": true, "SMTPApiError": true, "InboundError": true, "DMARCPolicy": true,
	"TemplateRenderingFailed": true, "Unknown": true, "OpenRelayTest": true,
	"VirusNotification": true,
}

// Events checks the request's basic auth and returns its one event, or none for a
// record type Rapport does not act on.
func (p *Postmark) Events(r *http.Request, body []byte) ([]Event, error) {
	user, pass, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(p.user)) != 1 ||
		subtle.ConstantTimeCompare([]byte(pass), []byte(p.pass)) != 1 {
		return nil, ErrUnverified
	}
	var pm postmarkPayload
	if err := json.Unmarshal(body, &pm); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	e := Event{
		Address:    firstNonEmpty(pm.Email, pm.Recipient),
		Diagnostic: firstNonEmpty(pm.Details, pm.Description),
		URL:        pm.OriginalURL,
		Vars:       pm.Metadata,
	}
	id := pm.ID.String()
	switch pm.RecordType {
	case "Bounce":
		e.Kind, e.At = BounceHard, pm.BouncedAt
		if postmarkSoft[pm.Type] {
			e.Kind = BounceSoft
		}
		switch pm.Type {
		case "AutoResponder", "SpamNotification", "ChallengeVerification", "Subscribe", "Unsubscribe":
			return nil, nil // not a delivery failure
		case "SpamComplaint":
			e.Kind = Complaint
		}
	case "SpamComplaint":
		e.Kind, e.At = Complaint, pm.BouncedAt
	case "Delivery":
		e.Kind, e.At = Delivered, pm.DeliveredAt
		id = pm.MessageID + "/delivery"
	case "Click":
		e.Kind, e.At = Click, pm.ReceivedAt
		id = pm.MessageID + "/click/" + strconv.FormatInt(pm.ReceivedAt.UnixNano(), 36)
	default:
		return nil, nil
	}
	if e.Address == "" {
		return nil, fmt.Errorf("%w: Email (or Recipient) is missing", ErrMalformed)
	}
	e.ID = "postmark/" + pm.RecordType + "/" + id
	return []Event{e}, nil
}
