package main

import (
	"os/exec"
	"strings"
	"testing"
)

func TestValidatePassesOnTheExampleConfigWithEveryChannelType(t *testing.T) {
	cmd := exec.Command(binary, "validate", "--config", "config/rapport.example.yaml")
	cmd.Dir = "../.."
	cmd.Env = append(cmd.Environ(), "RAPPORT_API_TOKEN=t", "RAPPORT_SECRET=0123456789abcdef", "SMTP_PASSWORD=pw",
		"TELEGRAM_BOT_TOKEN=123456:ABC-def", "WHATSAPP_TOKEN=EAAG", "CRM_HOOK_SECRET=s3cret")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "4 channels") {
		t.Fatalf("validate on the example config: %v\n%s", err, out)
	}

	cmd = exec.Command(binary, "validate", "--config", "config/rapport.example.yaml")
	cmd.Dir = "../.."
	cmd.Env = append(cmd.Environ(), "RAPPORT_API_TOKEN=t", "RAPPORT_SECRET=0123456789abcdef", "TELEGRAM_BOT_TOKEN=", "WHATSAPP_TOKEN=", "CRM_HOOK_SECRET=")
	out, err = cmd.CombinedOutput()
	for _, want := range []string{"rapport.example.yaml:24: channels.telegram: token is required",
		"rapport.example.yaml:25: channels.whatsapp: token is required", "rapport.example.yaml:27: channels.crm: secret is required"} {
		if err == nil || !strings.Contains(string(out), want) {
			t.Errorf("validate without the channel secrets lacks %q:\n%s", want, out)
		}
	}
}
