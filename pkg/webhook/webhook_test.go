package webhook

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var (
	secret = []byte("0123456789abcdef0123456789abcdef")
	other  = []byte("fedcba9876543210fedcba9876543210")
	body   = []byte(`{"type":"video.ready","id":"evt_x","video":{"id":"x"}}`)
	signed = time.Unix(1_700_000_000, 0)
)

func TestSignIsStripeStyle(t *testing.T) {
	// Computed independently:
	// printf '1700000000.hello' | openssl dgst -sha256 -hmac 0123456789abcdef0123456789abcdef
	got := Sign(secret, signed, []byte("hello"))
	const want = "t=1700000000,v1=8edbb8a3ba0e213508cb595950ee7425d2c0461eba1b37af7a8d1e60bcca23b5"
	if got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
}

func TestVerify(t *testing.T) {
	good := Sign(secret, signed, body)
	_, v1, _ := strings.Cut(good, ",")
	for _, tc := range []struct {
		name   string
		secret []byte
		header string
		body   []byte
		now    time.Time
		tol    time.Duration
		want   error
	}{
		{"valid", secret, good, body, signed.Add(time.Minute), DefaultTolerance, nil},
		{"valid, receiver clock a little behind", secret, good, body, signed.Add(-time.Minute), DefaultTolerance, nil},
		{"valid among several signatures (rotation)", secret, good + ",v1=" + strings.Repeat("ab", 32), body, signed, DefaultTolerance, nil},
		{"spaces after commas", secret, strings.ReplaceAll(good, ",", ", "), body, signed, DefaultTolerance, nil},
		{"tampered body", secret, good, append([]byte(nil), append(body[:len(body)-1:len(body)-1], ' ', '}')...), signed, DefaultTolerance, ErrBadSignature},
		{"one byte changed", secret, good, []byte(strings.Replace(string(body), "ready", "reads", 1)), signed, DefaultTolerance, ErrBadSignature},
		{"wrong secret", other, good, body, signed, DefaultTolerance, ErrBadSignature},
		{"old timestamp", secret, good, body, signed.Add(DefaultTolerance + time.Second), DefaultTolerance, ErrTooOld},
		{"timestamp from the future", secret, good, body, signed.Add(-DefaultTolerance - time.Second), DefaultTolerance, ErrTooOld},
		{"old timestamp, no tolerance check", secret, good, body, signed.Add(24 * time.Hour), 0, nil},
		{"timestamp changed to a fresh one", secret, "t=1700000300," + v1, body, signed.Add(300 * time.Second), DefaultTolerance, ErrBadSignature},
		{"empty header", secret, "", body, signed, DefaultTolerance, ErrNoSignature},
		{"no timestamp", secret, v1, body, signed, DefaultTolerance, ErrNoSignature},
		{"no v1", secret, "t=1700000000,v0=abc", body, signed, DefaultTolerance, ErrNoSignature},
		{"timestamp not a number", secret, "t=soon," + v1, body, signed, DefaultTolerance, ErrNoSignature},
		{"signature not hex", secret, "t=1700000000,v1=zz", body, signed, DefaultTolerance, ErrNoSignature},
		{"truncated signature", secret, good[:len(good)-2], body, signed, DefaultTolerance, ErrBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.secret, tc.header, tc.body, tc.tol, tc.now)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSend(t *testing.T) {
	var got *http.Request
	var gotBody []byte
	status := http.StatusNoContent
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		gotBody, _ = io.ReadAll(r.Body)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "nope")
	}))
	defer srv.Close()
	c := &Client{URL: srv.URL, Secret: secret, Now: func() time.Time { return signed }}
	if err := c.Send(context.Background(), "evt_1", body); err != nil {
		t.Fatal(err)
	}
	if got.Method != http.MethodPost || got.Header.Get("Content-Type") != "application/json" || got.Header.Get(HeaderEventID) != "evt_1" || string(gotBody) != string(body) {
		t.Fatalf("sent %s %v %q", got.Method, got.Header, gotBody)
	}
	if err := Verify(secret, got.Header.Get(HeaderSignature), gotBody, DefaultTolerance, signed); err != nil {
		t.Fatalf("the receiver cannot verify what Send sent: %v", err)
	}
	for _, code := range []int{http.StatusMovedPermanently, http.StatusBadRequest, http.StatusInternalServerError} {
		status = code
		var se *StatusError
		if err := c.Send(context.Background(), "evt_1", body); !errors.As(err, &se) || se.Code != code || se.Body != "nope" {
			t.Errorf("answer %d: Send = %v", code, err)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://hooks.example.com/x?token=abc":      "https://hooks.example.com/x",
		"https://user:pass@hooks.example.com/x#frag": "https://hooks.example.com/x",
		"http://127.0.0.1:8080":                      "http://127.0.0.1:8080",
		"https://hooks.example.com/a@b":              "https://hooks.example.com/a@b",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
