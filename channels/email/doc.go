// Package email sends Rapport's messages as email. It registers two channel types:
//
//   - smtp: delivery over SMTP through go-mail, with a pool of reused connections (a
//     message never waits for a dial when a connection is idle), TLS none, starttls or
//     tls, and optional authentication;
//   - outbox: each message written as an .eml file into a folder, for the embedded
//     default and for previews, so a newcomer sees real emails with no mail server.
//
// Both build the same message: From, To, Subject, Date, a Message-ID derived from the
// message id (a retried send keeps it, so receivers can spot a duplicate), a plain-text
// and an HTML alternative, and for marketing messages the RFC 8058 one-click unsubscribe
// headers List-Unsubscribe and List-Unsubscribe-Post.
//
// An smtp send that fails is a *channels.TemporaryError for 4xx replies, timeouts and
// lost connections, and a permanent error quoting the server for 5xx replies; error
// texts shorten addresses to a***@domain. A pooled connection that the server dropped
// before it saw the message is replaced at once, without failing the send.
package email
