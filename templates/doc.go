// Package templates loads and renders the message templates marketers write in templates/.
//
// A template name maps to files by channel kind: NAME.email.html (the HTML part of an email,
// opening with a front-matter block that holds subject: and optional preheader:),
// NAME.email.txt (its optional plain-text part; without one, the text is derived from the
// HTML) and NAME.msg.txt (the text of messenger and webhook messages). NAME.LOCALE.* files are
// variants picked by the customer's locale, falling back from "ru-RU" to "ru" to the plain
// name. Files whose name starts with "_" are not templates: _layout.email.html is the shared
// email layout, into which each email's body is inserted as {{ .content }}; other
// _NAME.email.html and _NAME.msg.txt files hold {{ define }} blocks that every HTML or text
// template may call, like {{ template "items" . }}.
//
// A NAME.msg.txt may open with front matter naming an approved WhatsApp template,
// `whatsapp: {template: order_thanks, language: en, params: ["{{ .customer.first_name }}"]}`:
// its params are rendered like the text into Rendered.WhatsApp, which the whatsapp
// channel sends instead of the text; every other channel sends the text.
//
// HTML is rendered with html/template, so values are escaped; text, subjects and messenger
// messages with text/template. Templates see .customer, .event, .journey (.id, .name), .now
// and .unsubscribe_url, and the functions of Funcs. Every file is parsed at load time; a
// broken one is reported as file:line: message.
package templates
