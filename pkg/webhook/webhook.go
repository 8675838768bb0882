// Package webhook signs and verifies hlsd's webhook deliveries, and sends
// them. It needs only the standard library, so a receiver written in Go can
// import it to check what hlsd sent:
//
//	body, _ := io.ReadAll(r.Body)
//	if err := webhook.Verify(secret, r.Header.Get(webhook.HeaderSignature), body, webhook.DefaultTolerance, time.Now()); err != nil {
//		http.Error(w, "bad signature", http.StatusBadRequest)
//		return
//	}
//	// de-duplicate on r.Header.Get(webhook.HeaderEventID), then handle the event
//
// The signature is Stripe's scheme: "t=UNIX,v1=HEX" where HEX is
// HMAC-SHA256(secret, t + "." + body). Signing the time with the body lets a
// receiver refuse a delivery replayed after the tolerance.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Headers of a delivery.
const (
	// HeaderSignature carries "t=UNIX,v1=HEX".
	HeaderSignature = "Hlsd-Signature"
	// HeaderEventID is the event's id: the same on every retry of one event,
	// different for every event, so a receiver can drop duplicates.
	HeaderEventID = "Hlsd-Event-Id"
)

// Event types.
const (
	TypeVideoReady  = "video.ready"
	TypeVideoFailed = "video.failed"
)

// MinSecretBytes is the shortest secret hlsd signs with.
const MinSecretBytes = 32

// DefaultTolerance is the age of a signature receivers should accept at
// most: five minutes, as Stripe's libraries do.
const DefaultTolerance = 5 * time.Minute

// Sign returns the signature header value for body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verification failures; Verify wraps one of them.
var (
	ErrNoSignature  = errors.New("webhook: no signature")
	ErrBadSignature = errors.New("webhook: signature does not match")
	ErrTooOld       = errors.New("webhook: signature timestamp outside the tolerance")
)

// Verify checks header (the Hlsd-Signature value) against body with secret:
// one of its v1 signatures must be the HMAC of its timestamp and the body
// (compared in constant time), and the timestamp must be within tolerance
// of now, in either direction (clock skew). A tolerance of 0 or less skips
// the time check, which leaves the receiver open to replays.
func Verify(secret []byte, header string, body []byte, tolerance time.Duration, now time.Time) error {
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	if ts == "" || len(sigs) == 0 {
		return ErrNoSignature
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q", ErrNoSignature, ts)
	}
	want := mac(secret, ts, body)
	match := 0
	for _, s := range sigs {
		match |= boolInt(hmac.Equal(s, want))
	}
	if match == 0 {
		return ErrBadSignature
	}
	if tolerance > 0 {
		if age := now.Sub(time.Unix(unix, 0)); age > tolerance || age < -tolerance {
			return fmt.Errorf("%w (signed %s ago)", ErrTooOld, age.Round(time.Second))
		}
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Client sends deliveries to one URL.
type Client struct {
	URL    string
	Secret []byte
	// HTTP defaults to a client with a 10 s timeout that does not follow
	// redirects (a redirect is an answer other than 2xx: retried, then dropped).
	HTTP *http.Client
	// UserAgent defaults to "hlsd-webhook".
	UserAgent string
	Now       func() time.Time // nil: time.Now
}

// Timeout bounds one delivery attempt of the default client.
const Timeout = 10 * time.Second

var defaultHTTP = &http.Client{
	Timeout:       Timeout,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// StatusError is a delivery the receiver answered with something other than 2xx.
type StatusError struct {
	Code int
	Body string // the start of the answer, for the logs
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("webhook: receiver answered %d %q", e.Code, e.Body)
}

// Send POSTs body (JSON) signed now, with eventID in Hlsd-Event-Id. It
// returns nil only for a 2xx answer.
func (c *Client) Send(ctx context.Context, eventID string, body []byte) error {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	ua := c.UserAgent
	if ua == "" {
		ua = "hlsd-webhook"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", ua)
	req.Header.Set(HeaderEventID, eventID)
	req.Header.Set(HeaderSignature, Sign(c.Secret, now(), body))
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &StatusError{Code: resp.StatusCode, Body: strings.TrimSpace(string(head))}
	}
	return nil
}

// RedactURL keeps credentials and query strings (often a receiver's token)
// out of the logs.
func RedactURL(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	if scheme, rest, ok := strings.Cut(u, "://"); ok {
		if at := strings.LastIndex(rest, "@"); at >= 0 && at < strings.IndexByte(rest+"/", '/') {
			rest = rest[at+1:]
		}
		u = scheme + "://" + rest
	}
	return u
}
