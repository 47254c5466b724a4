package main

import (
	"fmt"
	"os"
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
	for _, want := range []string{
		lineOf(t, "../../config/rapport.example.yaml", "  telegram: {type") + ": channels.telegram: token is required",
		lineOf(t, "../../config/rapport.example.yaml", "  whatsapp: {type") + ": channels.whatsapp: token is required",
		lineOf(t, "../../config/rapport.example.yaml", "  crm: {type") + ": channels.crm: secret is required"} {
		if err == nil || !strings.Contains(string(out), want) {
			t.Errorf("validate without the channel secrets lacks %q:\n%s", want, out)
		}
	}
}

// lineOf returns "rapport.example.yaml:N" for the first line of the file that starts with prefix.
func lineOf(t *testing.T, path, prefix string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, prefix) {
			return fmt.Sprintf("rapport.example.yaml:%d", i+1)
		}
	}
	t.Fatalf("%s has no line starting with %q", path, prefix)
	return ""
}
