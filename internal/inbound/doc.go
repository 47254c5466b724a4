// Package inbound hears what comes back from email: bounces and complaint reports to
// Rapport's own SMTP server (smtpd, read by mailparse), provider webhooks (providers),
// replies, and clicks on tracked links. Each becomes a Rapport event for the customer,
// raised through the normal intake (message.bounced, message.complained,
// message.replied, message.clicked), and, for bounces and complaints, an action on the
// customer: a hard bounce blocks the channel at that address, soft bounces are counted,
// a complaint unsubscribes and suppresses the address.
//
// A message names itself in what comes back by a short ref (store.RefID) kept in Redis
// for store.RefMemory: its return addresses carry the ref signed (Token), and its
// Message-ID carries the ref (MessageIDRef), which providers report back.
package inbound
