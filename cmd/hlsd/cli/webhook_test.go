package cli

import (
	"io"
	"strings"
	"testing"

	"github.com/hlsd/hlsd/cmd/hlsd/app"
)

const goodSecret = "0123456789abcdef0123456789abcdef"

func TestWebhookFlags(t *testing.T) {
	cfg, _, err := Parse(app.All, []string{"--webhook-url", "https://hooks.example.com/hlsd"}, env(map[string]string{"HLSD_WEBHOOK_SECRET": goodSecret}), io.Discard)
	if err != nil || cfg.WebhookURL != "https://hooks.example.com/hlsd" || string(cfg.WebhookSecret) != goodSecret {
		t.Fatalf("%v %q %q", err, cfg.WebhookURL, cfg.WebhookSecret)
	}
	cfg, _, err = Parse(app.All, nil, env(map[string]string{"HLSD_WEBHOOK_URL": "http://127.0.0.1:9000/x", "HLSD_WEBHOOK_SECRET": goodSecret}), io.Discard)
	if err != nil || cfg.WebhookURL != "http://127.0.0.1:9000/x" {
		t.Fatalf("from the environment: %v %q", err, cfg.WebhookURL)
	}
	if cfg, _, err := Parse(app.All, nil, env(nil), io.Discard); err != nil || cfg.WebhookURL != "" || cfg.WebhookSecret != nil {
		t.Fatalf("default: %v %+v", err, cfg)
	}
	for _, tc := range []struct {
		name, url, secret, want string
	}{
		{"URL without a secret", "https://hooks.example.com/", "", "--webhook-url needs --webhook-secret"},
		{"short secret", "https://hooks.example.com/", goodSecret[:31], "at least 32"},
		{"secret without a URL", "", goodSecret, "--webhook-url is not"},
		{"not http", "ftp://hooks.example.com/", goodSecret, "not an absolute http"},
		{"relative", "/hooks", goodSecret, "not an absolute http"},
		{"no scheme", "hooks.example.com/x", goodSecret, "not an absolute http"},
		{"credentials stay out of the message", "gopher://user:pw@h/x?token=t0ps3cret", goodSecret, "not an absolute http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := map[string]string{}
			if tc.url != "" {
				e["HLSD_WEBHOOK_URL"] = tc.url
			}
			if tc.secret != "" {
				e["HLSD_WEBHOOK_SECRET"] = tc.secret
			}
			_, _, err := Parse(app.All, nil, env(e), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error about %q", err, tc.want)
			}
			if strings.Contains(err.Error(), goodSecret[:16]) || strings.Contains(err.Error(), "t0ps3cret") || strings.Contains(err.Error(), ":pw@") {
				t.Fatalf("a secret reached the message: %v", err)
			}
		})
	}
}
