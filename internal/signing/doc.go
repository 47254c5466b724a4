// Package signing makes and checks the signed tokens of Rapport's public links:
// unsubscribe, feedback, click, preferences, the VERP return path and the Telegram start
// token. A token is the URL-safe base64 of a compact binary Link and a 128-bit
// HMAC-SHA256 over it, under a key derived from the config secret for the link's
// Purpose, so a forged or altered token, or one made for another purpose, is refused.
//
// Keys signs with the current secret and verifies with it or any previous one (key
// rotation). A purpose may expire (Feedback after 90 days) and may bound the token's
// length (ReturnPath and TelegramStart: 64 characters, so they carry a short Ref that
// the caller stores rather than an id of up to 200 characters). Links builds the public
// URLs under the API's base URL.
//
// Tokens of the format before this one (unsubscribe and feedback links already in
// customers' mailboxes) still verify; see legacy.go.
package signing
