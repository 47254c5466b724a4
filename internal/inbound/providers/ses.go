package providers

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SES reads Amazon SES notifications delivered by SNS. The SNS signature is checked
// with the certificate at SigningCertURL, which must be https on a host under
// amazonaws.com, and the notification must come from the configured topic. A
// subscription confirmation of that topic is confirmed by fetching its SubscribeURL,
// held to the same host rule.
type SES struct {
	topic  string
	certs  *certCache
	client *http.Client
}

// snsMessage is an SNS HTTP(S) delivery.
type snsMessage struct {
	Type             string `json:"Type"`
	MessageID        string `json:"MessageId"`
	Token            string `json:"Token"`
	TopicArn         string `json:"TopicArn"`
	Subject          string `json:"Subject"`
	Message          string `json:"Message"`
	SubscribeURL     string `json:"SubscribeURL"`
	Timestamp        string `json:"Timestamp"`
	SignatureVersion string `json:"SignatureVersion"`
	Signature        string `json:"Signature"`
	SigningCertURL   string `json:"SigningCertURL"`
}

// StringToSign returns the text SNS signs for m, by its Type.
func (m *snsMessage) StringToSign() string {
	var b strings.Builder
	add := func(k, v string) { b.WriteString(k + "\n" + v + "\n") }
	add("Message", m.Message)
	add("MessageId", m.MessageID)
	if m.Type == "Notification" {
		if m.Subject != "" {
			add("Subject", m.Subject)
		}
	} else {
		add("SubscribeURL", m.SubscribeURL)
	}
	add("Timestamp", m.Timestamp)
	if m.Type != "Notification" {
		add("Token", m.Token)
	}
	add("TopicArn", m.TopicArn)
	add("Type", m.Type)
	return b.String()
}

type sesNotification struct {
	NotificationType string `json:"notificationType"`
	EventType        string `json:"eventType"`
	Mail             struct {
		MessageID     string `json:"messageId"`
		CommonHeaders struct {
			MessageID string `json:"messageId"`
		} `json:"commonHeaders"`
		Headers []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"headers"`
	} `json:"mail"`
	Bounce *struct {
		BounceType        string `json:"bounceType"`
		Timestamp         string `json:"timestamp"`
		FeedbackID        string `json:"feedbackId"`
		BouncedRecipients []struct {
			EmailAddress   string `json:"emailAddress"`
			Status         string `json:"status"`
			DiagnosticCode string `json:"diagnosticCode"`
		} `json:"bouncedRecipients"`
	} `json:"bounce"`
	Complaint *struct {
		FeedbackID           string `json:"feedbackId"`
		Timestamp            string `json:"timestamp"`
		ComplainedRecipients []struct {
			EmailAddress string `json:"emailAddress"`
		} `json:"complainedRecipients"`
	} `json:"complaint"`
	Delivery *struct {
		Timestamp  string   `json:"timestamp"`
		Recipients []string `json:"recipients"`
	} `json:"delivery"`
}

// Events verifies the SNS delivery and returns the SES events it carries. A
// subscription confirmation of the configured topic is confirmed and gives no event.
func (s *SES) Events(r *http.Request, body []byte) ([]Event, error) {
	var m snsMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, ErrUnverified
	}
	if err := s.verify(r.Context(), &m); err != nil {
		return nil, err
	}
	switch m.Type {
	case "SubscriptionConfirmation":
		return nil, s.confirm(r.Context(), m.SubscribeURL)
	case "Notification":
	default:
		return nil, nil
	}
	var n sesNotification
	if err := json.Unmarshal([]byte(m.Message), &n); err != nil {
		return nil, fmt.Errorf("%w: Message: %v", ErrMalformed, err)
	}
	msgID := trimID(n.Mail.CommonHeaders.MessageID)
	for _, h := range n.Mail.Headers {
		if msgID == "" && strings.EqualFold(h.Name, "Message-ID") {
			msgID = trimID(h.Value)
		}
	}
	base := Event{MessageID: msgID}
	var out []Event
	switch firstNonEmpty(n.NotificationType, n.EventType) {
	case "Bounce":
		if n.Bounce == nil {
			return nil, fmt.Errorf("%w: a Bounce without bounce", ErrMalformed)
		}
		for i, rc := range n.Bounce.BouncedRecipients {
			e := base
			e.Kind = BounceHard
			if n.Bounce.BounceType != "Permanent" {
				e.Kind = BounceSoft
			}
			e.Address, e.Status, e.Diagnostic = rc.EmailAddress, rc.Status, rc.DiagnosticCode
			e.At = parseTime(n.Bounce.Timestamp)
			e.ID = "ses/" + m.MessageID + "/" + strconv.Itoa(i)
			out = append(out, e)
		}
	case "Complaint":
		if n.Complaint == nil {
			return nil, fmt.Errorf("%w: a Complaint without complaint", ErrMalformed)
		}
		for i, rc := range n.Complaint.ComplainedRecipients {
			e := base
			e.Kind, e.Address, e.At = Complaint, rc.EmailAddress, parseTime(n.Complaint.Timestamp)
			e.ID = "ses/" + m.MessageID + "/" + strconv.Itoa(i)
			out = append(out, e)
		}
	case "Delivery":
		if n.Delivery == nil {
			return nil, fmt.Errorf("%w: a Delivery without delivery", ErrMalformed)
		}
		for i, rc := range n.Delivery.Recipients {
			e := base
			e.Kind, e.Address, e.At = Delivered, rc, parseTime(n.Delivery.Timestamp)
			e.ID = "ses/" + m.MessageID + "/" + strconv.Itoa(i)
			out = append(out, e)
		}
	}
	for _, e := range out {
		if e.Address == "" {
			return nil, fmt.Errorf("%w: a recipient with no address", ErrMalformed)
		}
	}
	return out, nil
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

// verify checks m's topic and its SNS signature.
func (s *SES) verify(ctx context.Context, m *snsMessage) error {
	if m.TopicArn != s.topic || m.Signature == "" {
		return ErrUnverified
	}
	var hash crypto.Hash
	switch m.SignatureVersion {
	case "1":
		hash = crypto.SHA1
	case "2":
		hash = crypto.SHA256
	default:
		return ErrUnverified
	}
	sig, err := base64.StdEncoding.DecodeString(m.Signature)
	if err != nil {
		return ErrUnverified
	}
	cert, err := s.certs.get(ctx, m.SigningCertURL)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnverified, err)
	}
	key, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return ErrUnverified
	}
	var sum []byte
	if hash == crypto.SHA1 {
		h := sha1.Sum([]byte(m.StringToSign()))
		sum = h[:]
	} else {
		h := sha256.Sum256([]byte(m.StringToSign()))
		sum = h[:]
	}
	if rsa.VerifyPKCS1v15(key, hash, sum, sig) != nil {
		return ErrUnverified
	}
	return nil
}

// confirm fetches a subscription's SubscribeURL, which confirms it.
func (s *SES) confirm(ctx context.Context, raw string) error {
	u, err := awsURL(raw)
	if err != nil {
		return fmt.Errorf("%w: SubscribeURL: %v", ErrMalformed, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("confirm SNS subscription: %w", err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("confirm SNS subscription: %w", err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)); err != nil {
		return fmt.Errorf("confirm SNS subscription: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("confirm SNS subscription: %s", resp.Status)
	}
	return nil
}

// awsURL accepts only an https URL on a host under amazonaws.com, with no user info
// and no explicit port.
func awsURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	host := strings.ToLower(u.Hostname())
	if u.Scheme != "https" || u.User != nil || u.Port() != "" || !strings.HasSuffix(host, ".amazonaws.com") {
		return nil, fmt.Errorf("%q is not an https URL on amazonaws.com", raw)
	}
	return u, nil
}

// certCache fetches SNS signing certificates and keeps them, a handful at most.
type certCache struct {
	client *http.Client
	mu     sync.Mutex
	certs  map[string]*x509.Certificate
}

const maxCerts = 16

func newCertCache(c *http.Client) *certCache {
	return &certCache{client: c, certs: map[string]*x509.Certificate{}}
}

func (c *certCache) get(ctx context.Context, raw string) (*x509.Certificate, error) {
	u, err := awsURL(raw)
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(u.Path, ".pem") {
		return nil, fmt.Errorf("SigningCertURL %q is not a .pem", raw)
	}
	key := u.String()
	c.mu.Lock()
	cert := c.certs[key]
	c.mu.Unlock()
	if cert != nil {
		return cert, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, key, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch signing certificate: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch signing certificate: %s", resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("fetch signing certificate: %w", err)
	}
	block, _ := pem.Decode(bytes.TrimSpace(b))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("signing certificate is not a PEM certificate")
	}
	cert, err = x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing certificate: %w", err)
	}
	c.mu.Lock()
	if len(c.certs) >= maxCerts {
		clear(c.certs)
	}
	c.certs[key] = cert
	c.mu.Unlock()
	return cert, nil
}
