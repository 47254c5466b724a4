// Package all registers every channel type that ships with Rapport. The binary and the
// simulator import it for its side effect, so that both know the same types:
//
//	import _ "github.com/rapporthq/rapport/channels/all"
//
// A new channel type is one package under channels/ that calls channels.Register in an
// init function, plus one line here (see docs/extending.md).
package all

import (
	_ "github.com/rapporthq/rapport/channels/email"    // smtp and outbox
	_ "github.com/rapporthq/rapport/channels/telegram" // telegram
	_ "github.com/rapporthq/rapport/channels/webhook"  // webhook
	_ "github.com/rapporthq/rapport/channels/whatsapp" // whatsapp
)
