package cli

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hlsd/hlsd/cmd/hlsd/app"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestFlagsWinOverEnvironment(t *testing.T) {
	cfg, _, err := Parse(app.All, []string{"--listen", "127.0.0.1:9999"}, env(map[string]string{
		"HLSD_LISTEN": ":1", "HLSD_DATA_DIR": "/srv/hlsd", "HLSD_MAX_UPLOAD_SIZE": "2GiB", "HLSD_SHUTDOWN_GRACE": "5s",
		"HLSD_JOB_BACKOFF": "1s, 2s",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9999" || cfg.DataDir != "/srv/hlsd" || cfg.MaxUploadBytes != 2<<30 || cfg.ShutdownGrace != 5*time.Second || len(cfg.Jobs.BackOff) != 2 || cfg.Jobs.BackOff[1] != 2*time.Second {
		t.Fatalf("%+v", cfg)
	}
}

func TestDefaultsPerTarget(t *testing.T) {
	// `hlsd all` (make run) stays on loopback, where it runs without tokens;
	// the gateway listens everywhere and so needs one.
	tokens := map[string]string{"HLSD_API_TOKENS": "0123456789abcdef"}
	for target, want := range map[app.Target]string{app.All: "127.0.0.1:4444", app.Gateway: ":4444", app.Content: ":4445"} {
		e := tokens
		if target == app.All {
			e = nil
		}
		cfg, _, err := Parse(target, nil, env(e), io.Discard)
		if err != nil || cfg.Listen != want {
			t.Errorf("%s listens on %q (%v), want %q", target, cfg.Listen, err, want)
		}
	}
}

func TestBadValuesAreNamed(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--max-upload-size", "lots"}, nil, "--max-upload-size"},
		{nil, map[string]string{"HLSD_ENCODER_WORKERS": "many"}, "HLSD_ENCODER_WORKERS"},
		{[]string{"--encoder-workers", "0"}, nil, "--encoder-workers"},
		{[]string{"--max-attempts", "2"}, nil, "--max-attempts"},
		{[]string{"extra"}, nil, "extra"},
		{[]string{"--job-backoff", "1s,soon"}, nil, "job-backoff"},
		{[]string{"--job-backoff", "1s,1s,1s,1s,1s"}, nil, "--job-backoff"},
	} {
		_, _, err := Parse(app.All, tc.args, env(tc.env), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: got %v, want an error naming %s", tc.args, tc.env, err, tc.want)
		}
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"1": 1, "500MiB": 500 << 20, "2GiB": 2 << 30, "1.5 GB": 1_500_000_000, "10KB": 10_000} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "0", "GiB", "ten"} {
		if _, err := ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q) accepted", bad)
		}
	}
}

// The README's configuration table is the documentation of record: every
// flag appears in it with its environment variable.
func TestREADMEDocumentsEveryFlag(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var usage strings.Builder
	_, _, _ = Parse(app.All, []string{"-h"}, env(nil), &usage)
	for _, line := range strings.Split(usage.String(), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "--") {
			continue
		}
		name := strings.Fields(line)[0]
		row := "| `" + name + "` | `" + EnvName(strings.TrimPrefix(name, "--")) + "` |"
		if !strings.Contains(string(readme), row) {
			t.Errorf("README lacks the row for %s (%q)", name, row)
		}
	}
	if !strings.Contains(usage.String(), "--listen") {
		t.Fatal("usage output lists no flags")
	}
}

func TestUnknownTarget(t *testing.T) {
	var out strings.Builder
	if code := Main([]string{"everything"}, &out); code != 2 || !strings.Contains(out.String(), `unknown target "everything"`) {
		t.Fatalf("code %d, output %q", code, out.String())
	}
}

func TestServiceWithoutNATSURLRefusesToStart(t *testing.T) {
	var out strings.Builder
	t.Setenv("HLSD_DATA_DIR", t.TempDir())
	t.Setenv("HLSD_STORE", t.TempDir())
	t.Setenv("HLSD_PROFILES", "../../../profiles.json")
	if code := Main([]string{"encoder", "--listen", "127.0.0.1:0"}, &out); code != 1 || !strings.Contains(out.String(), "needs --nats-url") {
		t.Fatalf("code %d, output %q", code, out.String())
	}
}

// Each target's --help lists its own flags only, and each target starts
// from its defaults without any flag.
func TestHelpPerTarget(t *testing.T) {
	for _, tc := range []struct {
		target     app.Target
		has, lacks []string
	}{
		{app.All, []string{"--nats-listen", "--max-upload-size", "--encoder-workers", "--segmenter-workers", "--playback-ttl"}, nil},
		{app.Gateway, []string{"--max-upload-size", "--api-tokens", "--playback-ttl", "--failed-source-retention"}, []string{"--encoder-workers", "--segmenter-workers", "--max-pixels", "--nats-listen"}},
		{app.Encoder, []string{"--encoder-workers", "--max-pixels", "--encode-timeout", "--failed-source-retention"}, []string{"--max-upload-size", "--api-tokens", "--segmenter-workers", "--playback-ttl", "--webhook-url"}},
		{app.Segmenter, []string{"--segmenter-workers"}, []string{"--encoder-workers", "--max-upload-size", "--playback-secrets", "--max-pixels"}},
		{app.Content, []string{"--playback-secrets", "--listen"}, []string{"--encoder-workers", "--max-upload-size", "--api-tokens", "--failed-source-retention"}},
	} {
		var usage strings.Builder
		_, _, _ = Parse(tc.target, []string{"-h"}, env(nil), &usage)
		for _, f := range tc.has {
			if !strings.Contains(usage.String(), "  "+f+" ") {
				t.Errorf("hlsd %s --help lacks %s", tc.target, f)
			}
		}
		for _, f := range tc.lacks {
			if strings.Contains(usage.String(), "  "+f+" ") {
				t.Errorf("hlsd %s --help lists %s, which it does not use", tc.target, f)
			}
		}
		e := map[string]string{"HLSD_NATS_URL": "nats://127.0.0.1:4222", "HLSD_API_TOKENS": "0123456789abcdef"}
		if _, _, err := Parse(tc.target, nil, env(e), io.Discard); err != nil {
			t.Errorf("hlsd %s with its defaults: %v", tc.target, err)
		}
	}
}
