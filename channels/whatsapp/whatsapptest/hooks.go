package whatsapptest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/rapporthq/rapport/channels/whatsapp"
)

// The inbound side: the notifications Meta posts to a business's webhook.

// StatusNotification is the webhook body Meta posts when message wamid to the phone
// (E.164) reaches status (sent, delivered, read); FailedNotification for failed.
func StatusNotification(wamid, phone, status string) string {
	return notification(fmt.Sprintf(`"statuses":[{"id":%q,"status":%q,"timestamp":"%d","recipient_id":%q}]`,
		wamid, status, time.Now().Unix(), strings.TrimPrefix(phone, "+")))
}

// FailedNotification is the webhook body of message wamid failing with the error code.
func FailedNotification(wamid, phone string, code int, title string) string {
	return notification(fmt.Sprintf(`"statuses":[{"id":%q,"status":"failed","timestamp":"%d","recipient_id":%q,"errors":[{"code":%d,"title":%q}]}]`,
		wamid, time.Now().Unix(), strings.TrimPrefix(phone, "+"), code, title))
}

// MessageNotification is the webhook body of the customer at phone (E.164) writing text
// at the time at; id is the message's wamid.
func MessageNotification(id, phone, text string, at time.Time) string {
	t, err := json.Marshal(text)
	if err != nil {
		panic(err)
	}
	p := strings.TrimPrefix(phone, "+")
	return notification(fmt.Sprintf(`"contacts":[{"profile":{"name":"Anna"},"wa_id":%q}],"messages":[{"from":%q,"id":%q,"timestamp":"%d","type":"text","text":{"body":%s}}]`,
		p, p, id, at.Unix(), t))
}

func notification(value string) string {
	return `{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550100000","phone_number_id":"` +
		PhoneNumberID + `"},` + value + `},"field":"messages"}]}]}`
}

// PostNotification posts body to a webhook url as Meta does, signed with appSecret in
// X-Hub-Signature-256 ("" sends no signature), and returns the status.
func PostNotification(url, appSecret, body string) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader([]byte(body)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if appSecret != "" {
		req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign(appSecret, []byte(body)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
