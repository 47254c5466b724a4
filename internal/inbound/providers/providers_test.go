package providers

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func post(body string, header http.Header) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/hooks/email", strings.NewReader(body))
	for k, v := range header {
		r.Header[k] = v
	}
	return r
}

func mustNew(t *testing.T, cfg Config, opts ...Option) Provider {
	t.Helper()
	p, err := New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMailgunAcceptsItsSignatureOnly(t *testing.T) {
	p := mustNew(t, Config{Provider: "mailgun", SigningKey: "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"})
	payload := func(sig string) string {
		return `{"signature": {"timestamp": "1765015200", "token": "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0", "signature": "` + sig + `"},
		"event-data": {"id": "CPgfbmQMTCKtHW6uIWtuVe", "event": "failed", "severity": "permanent", "timestamp": 1765015200.5,
		  "recipient": "gone@example.net", "message": {"headers": {"message-id": "<m-1@rapport>"}},
		  "delivery-status": {"code": 550, "message": "5.1.1 The email account does not exist", "description": ""},
		  "user-variables": {"rapport_message": "m-1"}}}`
	}
	good := p.(*Mailgun).Sign("1765015200", "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0")
	evs, err := p.Events(post(payload(good), nil), []byte(payload(good)))
	if err != nil || len(evs) != 1 {
		t.Fatalf("signed: %v, %v", evs, err)
	}
	e := evs[0]
	if e.Kind != BounceHard || e.Address != "gone@example.net" || e.MessageID != "m-1@rapport" || e.ID != "CPgfbmQMTCKtHW6uIWtuVe" ||
		e.Status != "5.0.0" || e.Vars["rapport_message"] != "m-1" || e.At.Unix() != 1765015200 {
		t.Errorf("event = %+v", e)
	}
	forged := strings.Repeat("0", 64)
	for name, body := range map[string]string{
		"a forged signature": payload(forged),
		"no signature":       payload(""),
		"another key's":      payload((&Mailgun{key: []byte("other")}).Sign("1765015200", "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0")),
		"not JSON":           "signature=x",
	} {
		if _, err := p.Events(post(body, nil), []byte(body)); !errors.Is(err, ErrUnverified) {
			t.Errorf("%s: err = %v, want ErrUnverified", name, err)
		}
	}
}

func TestMailgunEventKinds(t *testing.T) {
	m := &Mailgun{key: []byte("k")}
	for _, c := range []struct{ event, severity, want string }{
		{"failed", "temporary", BounceSoft},
		{"failed", "permanent", BounceHard},
		{"complained", "", Complaint},
		{"delivered", "", Delivered},
		{"clicked", "", Click},
		{"opened", "", ""},
	} {
		body := `{"signature": {"timestamp": "1", "token": "t", "signature": "` + m.Sign("1", "t") + `"},
			"event-data": {"id": "i", "event": "` + c.event + `", "severity": "` + c.severity + `", "recipient": "a@b.example"}}`
		evs, err := m.Events(post(body, nil), []byte(body))
		if err != nil {
			t.Fatalf("%s: %v", c.event, err)
		}
		got := ""
		if len(evs) == 1 {
			got = evs[0].Kind
		}
		if got != c.want {
			t.Errorf("%s/%s: kind %q, want %q", c.event, c.severity, got, c.want)
		}
	}
}

func TestPostmarkAcceptsItsBasicAuthOnly(t *testing.T) {
	p := mustNew(t, Config{Provider: "postmark", Username: "rapport", Password: "s3cret-pass"})
	body := `{"RecordType": "Bounce", "ID": 4323372036854775807, "Type": "HardBounce", "TypeCode": 1,
	  "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483", "Description": "The server was unable to deliver your message",
	  "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist", "Email": "john@example.com",
	  "BouncedAt": "2026-12-06T10:00:00Z", "Metadata": {"rapport_message": "m-2"}}`
	auth := func(u, p string) http.Header {
		r := httptest.NewRequest("POST", "/", nil)
		r.SetBasicAuth(u, p)
		return r.Header
	}
	evs, err := p.Events(post(body, auth("rapport", "s3cret-pass")), []byte(body))
	if err != nil || len(evs) != 1 {
		t.Fatalf("authorised: %v, %v", evs, err)
	}
	if e := evs[0]; e.Kind != BounceHard || e.Address != "john@example.com" || e.Vars["rapport_message"] != "m-2" ||
		e.ID != "postmark/Bounce/4323372036854775807" || !strings.Contains(e.Diagnostic, "5.1.1") {
		t.Errorf("event = %+v", e)
	}
	for name, h := range map[string]http.Header{
		"no credentials":    nil,
		"a wrong password":  auth("rapport", "guess"),
		"a wrong user":      auth("admin", "s3cret-pass"),
		"an empty password": auth("rapport", ""),
	} {
		if _, err := p.Events(post(body, h), []byte(body)); !errors.Is(err, ErrUnverified) {
			t.Errorf("%s: err = %v, want ErrUnverified", name, err)
		}
	}
	for _, c := range []struct{ body, want string }{
		{`{"RecordType": "Bounce", "ID": 1, "Type": "SoftBounce", "Email": "a@b.example"}`, BounceSoft},
		{`{"RecordType": "SpamComplaint", "ID": 2, "Type": "SpamComplaint", "Email": "a@b.example"}`, Complaint},
		{`{"RecordType": "Delivery", "MessageID": "x", "Recipient": "a@b.example"}`, Delivered},
		{`{"RecordType": "Click", "MessageID": "x", "Recipient": "a@b.example", "OriginalLink": "https://shop.example/"}`, Click},
		{`{"RecordType": "Bounce", "ID": 3, "Type": "AutoResponder", "Email": "a@b.example"}`, ""},
		{`{"RecordType": "Open", "MessageID": "x", "Recipient": "a@b.example"}`, ""},
	} {
		evs, err := p.Events(post(c.body, auth("rapport", "s3cret-pass")), []byte(c.body))
		got := ""
		if len(evs) == 1 {
			got = evs[0].Kind
		}
		if err != nil || got != c.want {
			t.Errorf("%s: kind %q, %v; want %q", c.body, got, err, c.want)
		}
	}
}

func TestSendGridAcceptsItsSignatureOnly(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	p := mustNew(t, Config{Provider: "sendgrid", PublicKey: base64.StdEncoding.EncodeToString(der)})
	body := `[{"email": "gone@example.net", "timestamp": 1765015200, "smtp-id": "<m-3@rapport>", "event": "bounce",
	  "sg_event_id": "ZHJvcC0xMjM0NTY3", "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
	  "reason": "500 unknown recipient", "status": "5.0.0", "type": "bounce"},
	  {"email": "a@example.net", "timestamp": 1765015201, "event": "open", "sg_event_id": "b3Blbi0x"},
	  {"email": "a@example.net", "timestamp": 1765015202, "event": "click", "url": "https://shop.example/p", "sg_event_id": "Y2xpY2stMQ"}]`
	sign := func(key *ecdsa.PrivateKey, ts, body string) http.Header {
		sum := sha256.Sum256([]byte(ts + body))
		sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return http.Header{SendGridSignatureHeader: {base64.StdEncoding.EncodeToString(sig)}, SendGridTimestampHeader: {ts}}
	}
	evs, err := p.Events(post(body, sign(priv, "1765015210", body)), []byte(body))
	if err != nil || len(evs) != 2 {
		t.Fatalf("signed: %+v, %v", evs, err)
	}
	if e := evs[0]; e.Kind != BounceHard || e.MessageID != "m-3@rapport" || e.ID != "sendgrid/ZHJvcC0xMjM0NTY3" || e.Status != "5.0.0" {
		t.Errorf("bounce = %+v", e)
	}
	if e := evs[1]; e.Kind != Click || e.URL != "https://shop.example/p" {
		t.Errorf("click = %+v", e)
	}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	wrongTS := sign(priv, "1765015210", body)
	wrongTS.Set(SendGridTimestampHeader, "1765015211")
	for name, h := range map[string]http.Header{
		"no signature":           nil,
		"another key's":          sign(other, "1765015210", body),
		"an altered timestamp":   wrongTS,
		"a signature of another": sign(priv, "1765015210", body+" "),
	} {
		if _, err := p.Events(post(body, h), []byte(body)); !errors.Is(err, ErrUnverified) {
			t.Errorf("%s: err = %v, want ErrUnverified", name, err)
		}
	}
}

// snsFixture is a fake SNS: a signing key, its certificate served over TLS at an
// amazonaws.com name, and a client that reaches that server for any amazonaws.com
// host while trusting only the test server's certificate.
type snsFixture struct {
	key     *rsa.PrivateKey
	certURL string
	client  *http.Client
	fetches atomic.Int32
	confirm atomic.Int32
}

func newSNS(t *testing.T) *snsFixture {
	t.Helper()
	f := &snsFixture{}
	var err error
	f.key, err = rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sns.amazonaws.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &f.key.PublicKey, f.key)
	if err != nil {
		t.Fatal(err)
	}
	signingPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})

	tlsKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tlsTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), DNSNames: []string{"sns.us-east-1.amazonaws.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	tlsDER, err := x509.CreateCertificate(rand.Reader, tlsTmpl, tlsTmpl, &tlsKey.PublicKey, tlsKey)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, ".pem"):
			f.fetches.Add(1)
			w.Write(signingPEM)
		case r.URL.Query().Get("Action") == "ConfirmSubscription":
			f.confirm.Add(1)
			w.Write([]byte("<ConfirmSubscriptionResponse/>"))
		default:
			http.NotFound(w, r)
		}
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{tlsDER}, PrivateKey: tlsKey}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	f.client = srv.Client()
	tr := f.client.Transport.(*http.Transport)
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
	}
	f.certURL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem"
	return f
}

func (f *snsFixture) sign(t *testing.T, m *snsMessage, version string) string {
	t.Helper()
	m.SignatureVersion, m.SigningCertURL = version, f.certURL
	var sum []byte
	hash := crypto.SHA1
	if version == "2" {
		hash = crypto.SHA256
		h := sha256.Sum256([]byte(m.StringToSign()))
		sum = h[:]
	} else {
		h := sha1.Sum([]byte(m.StringToSign()))
		sum = h[:]
	}
	sig, err := rsa.SignPKCS1v15(rand.Reader, f.key, hash, sum)
	if err != nil {
		t.Fatal(err)
	}
	m.Signature = base64.StdEncoding.EncodeToString(sig)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const topic = "arn:aws:sns:us-east-1:123456789012:ses-feedback"

func sesBounce() *snsMessage {
	return &snsMessage{Type: "Notification", MessageID: "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324", TopicArn: topic,
		Timestamp: "2026-12-06T10:00:00.000Z",
		Message: `{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"General",
		  "bouncedRecipients":[{"emailAddress":"gone@example.net","action":"failed","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"}],
		  "timestamp":"2026-12-06T10:00:00.000Z","feedbackId":"0100018c-abc"},
		  "mail":{"messageId":"0100018c-def","commonHeaders":{"messageId":"<m-4@rapport>"}}}`}
}

func TestSESAcceptsSNSSignaturesOfItsTopicOnly(t *testing.T) {
	f := newSNS(t)
	p := mustNew(t, Config{Provider: "ses", TopicARN: topic}, WithHTTPClient(f.client))
	for _, version := range []string{"1", "2"} {
		body := f.sign(t, sesBounce(), version)
		evs, err := p.Events(post(body, nil), []byte(body))
		if err != nil || len(evs) != 1 {
			t.Fatalf("SignatureVersion %s: %+v, %v", version, evs, err)
		}
		if e := evs[0]; e.Kind != BounceHard || e.Address != "gone@example.net" || e.MessageID != "m-4@rapport" ||
			e.Status != "5.1.1" || e.ID != "ses/22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324/0" {
			t.Errorf("event = %+v", e)
		}
	}
	if n := f.fetches.Load(); n != 1 {
		t.Errorf("the certificate was fetched %d times, want once (cached)", n)
	}

	other := newSNS(t) // a key that is not the one at the certificate URL
	otherSigned := other.sign(t, sesBounce(), "1")
	altered := sesBounce()
	body := f.sign(t, altered, "1")
	body = strings.Replace(body, "Permanent", "Transient", 1)
	foreignTopic := sesBounce()
	foreignTopic.TopicArn = "arn:aws:sns:us-east-1:999999999999:attacker"
	unsigned := sesBounce()
	unsigned.SignatureVersion, unsigned.SigningCertURL = "1", f.certURL
	unsignedBody, err := json.Marshal(unsigned)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string]string{
		"no signature":                 string(unsignedBody),
		"another key's signature":      otherSigned,
		"an altered message":           body,
		"another topic's notification": f.sign(t, foreignTopic, "1"),
	} {
		if _, err := p.Events(post(b, nil), []byte(b)); !errors.Is(err, ErrUnverified) {
			t.Errorf("%s: err = %v, want ErrUnverified", name, err)
		}
	}
	for _, u := range []string{
		"http://sns.us-east-1.amazonaws.com/cert.pem",
		"https://sns.us-east-1.amazonaws.com.evil.example/cert.pem",
		"https://evilamazonaws.com/cert.pem",
		"https://sns.us-east-1.amazonaws.com:8443/cert.pem",
		"https://user@sns.us-east-1.amazonaws.com/cert.pem",
		"https://sns.us-east-1.amazonaws.com/cert.txt",
	} {
		m := sesBounce()
		signed := f.sign(t, m, "1")
		signed = strings.Replace(signed, f.certURL, u, 1)
		if _, err := p.Events(post(signed, nil), []byte(signed)); !errors.Is(err, ErrUnverified) {
			t.Errorf("certificate at %s: err = %v, want ErrUnverified", u, err)
		}
	}
}

func TestSESConfirmsASubscriptionToItsTopic(t *testing.T) {
	f := newSNS(t)
	p := mustNew(t, Config{Provider: "ses", TopicARN: topic}, WithHTTPClient(f.client))
	m := &snsMessage{Type: "SubscriptionConfirmation", MessageID: "165545c9-2a5c-472c-8df2-7ff2be2b3b1b", Token: "2336412f37",
		TopicArn: topic, Message: "You have chosen to subscribe to the topic", Timestamp: "2026-12-06T10:00:00.000Z",
		SubscribeURL: "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=" + topic + "&Token=2336412f37"}
	body := f.sign(t, m, "2")
	evs, err := p.Events(post(body, nil), []byte(body))
	if err != nil || len(evs) != 0 || f.confirm.Load() != 1 {
		t.Fatalf("confirmation: %v, %v, %d confirmations", evs, err, f.confirm.Load())
	}
	m.Signature = ""
	forged, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Events(post(string(forged), nil), forged); !errors.Is(err, ErrUnverified) || f.confirm.Load() != 1 {
		t.Errorf("unsigned confirmation: %v, %d confirmations", err, f.confirm.Load())
	}
}

func TestNewNamesWhatIsMissing(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "events.provider"},
		{Config{Provider: "sparkpost"}, "sparkpost"},
		{Config{Provider: "mailgun"}, "events.signing_key"},
		{Config{Provider: "postmark", Username: "u"}, "events.password"},
		{Config{Provider: "sendgrid"}, "events.public_key"},
		{Config{Provider: "sendgrid", PublicKey: "bm90IGEga2V5"}, "events.public_key"},
		{Config{Provider: "ses"}, "events.topic_arn"},
	} {
		if _, err := New(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v, want an error naming %s", c.cfg, err, c.want)
		}
	}
}
