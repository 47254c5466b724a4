// Package messenger hears what comes back from the messenger channels, Telegram and
// WhatsApp, and turns it into Rapport events and changes to the customer.
//
// Telegram: Link makes a customer's t.me start link, whose signed token carries a short
// ref (signing.RefFor of the customer id) that the store maps back to the customer. The
// bot's updates arrive at the webhook (ServeHook, checked by the secret-token header) or
// are read by a Poller under a Redis lease; HandleUpdate applies each once: /start TOKEN
// links the chat (telegram_chat_id, consent, channel.linked), /stop unsubscribes, the bot
// being blocked closes the channel (unreachable), other text is message.replied. The bot
// answers /start and /stop from the templates telegram-linked and telegram-stopped.
//
// WhatsApp: ServeHook answers Meta's subscription handshake and takes signed
// notifications: statuses mark the message's history line (delivery), a permanent
// failure raises message.bounced, and a customer's message raises message.replied and
// opens the 24-hour service window, inside which FreeForm lets the engine send a
// template's text instead of the approved WhatsApp template.
package messenger
