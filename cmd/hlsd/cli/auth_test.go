package cli

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hlsd/hlsd/cmd/hlsd/app"
)

const (
	tokenA = "0123456789abcdef"                 // exactly the minimum length
	tokenB = "f3a1c9e07b5d42868a0e9d1c7b3f5a21" // another one, for rotation
)

func refusal(addr string) string {
	return "refusing to listen on " + addr + " without API tokens: set HLSD_API_TOKENS or --api-tokens-file, or listen on 127.0.0.1 for development"
}

// Without tokens the API may only be served on loopback; every address
// other machines can reach is refused with one sentence saying what to do.
func TestOpenAPIOnlyOnLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr string
		open bool // may run without tokens
	}{
		{":4444", false},
		{"0.0.0.0:4444", false},
		{"[::]:4444", false},
		{":0", false},
		{"192.168.1.20:4444", false},
		{"[2001:db8::1]:4444", false},
		{"hlsd.example.com:4444", false},
		{"4444", false}, // not an address at all: not loopback either
		{"127.0.0.1:4444", true},
		{"127.0.0.1:0", true},
		{"127.42.0.7:4444", true},
		{"[::1]:4444", true},
		{"localhost:4444", true},
		{"LocalHost:4444", true},
	} {
		for _, target := range []app.Target{app.All, app.Gateway} {
			_, _, err := Parse(target, []string{"--listen", tc.addr}, env(nil), io.Discard)
			switch {
			case tc.open && err != nil:
				t.Errorf("hlsd %s --listen %s without tokens: %v, want it to start (open, on loopback)", target, tc.addr, err)
			case !tc.open && (err == nil || err.Error() != refusal(tc.addr)):
				t.Errorf("hlsd %s --listen %s without tokens: got %v, want %q", target, tc.addr, err, refusal(tc.addr))
			}
			// A token, given either way, or the escape hatch lets it start anywhere.
			for _, ok := range []struct {
				args []string
				env  map[string]string
			}{
				{[]string{"--api-tokens", tokenA}, nil},
				{nil, map[string]string{"HLSD_API_TOKENS": tokenA}},
				{[]string{"--insecure-open-api"}, nil},
				{nil, map[string]string{"HLSD_INSECURE_OPEN_API": "true"}},
			} {
				cfg, _, err := Parse(target, append([]string{"--listen", tc.addr}, ok.args...), env(ok.env), io.Discard)
				if err != nil {
					t.Errorf("hlsd %s --listen %s %v %v: %v", target, tc.addr, ok.args, ok.env, err)
				}
				if cfg.InsecureOpenAPI == (len(cfg.APITokens) > 0) {
					t.Errorf("hlsd %s %v %v: tokens %d, insecure-open-api %v", target, ok.args, ok.env, len(cfg.APITokens), cfg.InsecureOpenAPI)
				}
			}
		}
	}
	// The workers and the content service serve no API: no tokens needed.
	for _, target := range []app.Target{app.Content, app.Encoder, app.Segmenter} {
		if _, _, err := Parse(target, []string{"--listen", ":4445"}, env(nil), io.Discard); err != nil {
			t.Errorf("hlsd %s on :4445: %v", target, err)
		}
	}
	// The escape hatch can be switched off again by the flag.
	if _, _, err := Parse(app.Gateway, []string{"--insecure-open-api=false"}, env(map[string]string{"HLSD_INSECURE_OPEN_API": "true"}), io.Discard); err == nil {
		t.Error("--insecure-open-api=false on the command line did not win over HLSD_INSECURE_OPEN_API=true")
	}
}

// The process exits non-zero with the one sentence on stderr, before it
// opens anything.
func TestGatewayWithoutTokensRefusesToStart(t *testing.T) {
	for _, k := range []string{"HLSD_API_TOKENS", "HLSD_API_TOKENS_FILE", "HLSD_INSECURE_OPEN_API", "HLSD_LISTEN"} {
		t.Setenv(k, "") // restored after the test
		os.Unsetenv(k)
	}
	t.Setenv("HLSD_DATA_DIR", t.TempDir())
	for _, args := range [][]string{{"gateway"}, {"all", "--listen", "0.0.0.0:4444"}, {"all", "--listen", "[::]:4444"}} {
		var out strings.Builder
		code := Main(args, &out)
		want := "hlsd: " + refusal(app.DefaultListen[app.Gateway]) + "\n"
		if len(args) > 1 {
			want = "hlsd: " + refusal(args[2]) + "\n"
		}
		if code == 0 || out.String() != want {
			t.Errorf("hlsd %v: code %d, output %q; want non-zero and %q", args, code, out.String(), want)
		}
	}
}

func TestAPITokensFromEnvironmentAndFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tokens")
	if err := os.WriteFile(file, []byte("# hlsd API tokens\r\n\r\n  "+tokenB+"  \r\n# the old one, until every client has the new one:\n"+tokenA+"\n\n   \n# the end\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	third := "ZmFrZS1iYXNlNjQtdG9rZW4+Lz0=" // base64's + / = are fine
	cfg, _, err := Parse(app.Gateway, nil, env(map[string]string{
		"HLSD_API_TOKENS":      " " + third + " , ,",
		"HLSD_API_TOKENS_FILE": file,
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{third, tokenB, tokenA}; !slices.Equal(cfg.APITokens, want) {
		t.Errorf("tokens %q, want %q", cfg.APITokens, want)
	}
	// The command line wins over the environment, as for every flag.
	cfg, _, err = Parse(app.Gateway, []string{"--api-tokens", tokenB + "," + tokenA + "," + tokenB}, env(map[string]string{"HLSD_API_TOKENS": third}), io.Discard)
	if err != nil || !slices.Equal(cfg.APITokens, []string{tokenB, tokenA}) {
		t.Errorf("tokens %q (%v), want the two of --api-tokens once each", cfg.APITokens, err)
	}
}

func TestBadAPITokensStopStartUp(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	short := "short-secret-15"
	for _, tc := range []struct {
		name   string
		env    map[string]string
		want   string
		secret string // must not appear in the message
	}{
		{"short in the list", map[string]string{"HLSD_API_TOKENS": tokenA + "," + short},
			"the API token number 2 of --api-tokens (HLSD_API_TOKENS) is 15 characters long; tokens must have at least 16 (generate one with: openssl rand -hex 32)", short},
		{"short in the file", map[string]string{"HLSD_API_TOKENS_FILE": write("short", "# comment\n\n"+tokenA+"\n"+short+"\n")},
			"the API token on line 4 of " + filepath.Join(dir, "short") + " is 15 characters long; tokens must have at least 16 (generate one with: openssl rand -hex 32)", short},
		{"inline comment", map[string]string{"HLSD_API_TOKENS_FILE": write("inline", tokenB+"  # ci\n")},
			"the API token on line 1 of " + filepath.Join(dir, "inline") + " holds a space, comma, control or non-ASCII character; use letters, digits and punctuation (generate one with: openssl rand -hex 32)", tokenB},
		{"non-ASCII", map[string]string{"HLSD_API_TOKENS": "pässwörd-pässwörd-1"},
			"the API token number 1 of --api-tokens (HLSD_API_TOKENS) holds a space, comma, control or non-ASCII character; use letters, digits and punctuation (generate one with: openssl rand -hex 32)", "pässwörd"},
		{"file of comments only", map[string]string{"HLSD_API_TOKENS": tokenA, "HLSD_API_TOKENS_FILE": write("empty", "# nothing yet\n\n")},
			"--api-tokens-file " + filepath.Join(dir, "empty") + " holds no token: put one per line (generate one with: openssl rand -hex 32)", ""},
		{"missing file", map[string]string{"HLSD_API_TOKENS_FILE": filepath.Join(dir, "nope")}, "--api-tokens-file: open " + filepath.Join(dir, "nope"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Even on loopback, where no token is needed: a bad one is a mistake.
			_, _, err := Parse(app.All, nil, env(tc.env), io.Discard)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
				t.Fatalf("the message shows the token: %v", err)
			}
		})
	}
}
