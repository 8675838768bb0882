// Package playback makes signed, expiring playback URLs for hlsd's streams.
//
// A token is bound to one video id and one expiry by an HMAC-SHA256 over both.
// It travels as the query parameter "token" on the master playlist URL
// (/streams/{id}/master.m3u8?token=...); the content service verifies it on
// every request under /streams/{id}/ and rewrites the playlists it serves so
// every child URI carries the same token (RewritePlaylist). The expiry is the
// one signed, so a URL copied out of a playlist dies with the master URL.
//
// Token format (version 1): base64url without padding of 41 bytes,
//
//	0x01 | expiry, Unix seconds, uint64 big-endian | HMAC-SHA256(secret, msg)
//
// where msg = "hlsd/playback/v1\x00" | len(id) uint32 big-endian | id | expiry.
// 55 characters, all in [A-Za-z0-9_-].
//
// Keys rotate by listing several secrets: the first signs, any of them
// verifies. Deploy a new secret second, then first once every process has it,
// then drop the old one after the longest TTL has passed.
package playback

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// TokenParam is the query parameter that carries a token.
const TokenParam = "token"

// MinSecretLen is the shortest accepted secret, in bytes.
const MinSecretLen = 32

const (
	version    = 1
	rawLen     = 1 + 8 + sha256.Size
	domain     = "hlsd/playback/v1\x00"
	maxIDBytes = 1 << 10
)

// TokenLen is the length of every token Sign returns.
var TokenLen = base64.RawURLEncoding.EncodedLen(rawLen)

// Verification failures. Verify wraps nothing else, so errors.Is on these is
// exhaustive.
var (
	// ErrMalformed: empty, wrong length, not base64url, or an unknown version.
	ErrMalformed = errors.New("playback: malformed token")
	// ErrBadSignature: well formed, but not signed by any known secret for
	// this video id and expiry (tampered, forged, or made for another video).
	ErrBadSignature = errors.New("playback: bad token signature")
	// ErrExpired: genuine, but its expiry has passed.
	ErrExpired = errors.New("playback: token expired")
)

// Signer signs and verifies playback tokens. It is safe for concurrent use.
type Signer struct {
	secrets [][]byte
	ttl     time.Duration
}

// NewSigner returns a Signer whose tokens live for ttl (see Token). The
// first secret signs; every secret verifies. Each must be at least
// MinSecretLen bytes.
func NewSigner(ttl time.Duration, secrets ...[]byte) (*Signer, error) {
	if ttl <= 0 {
		return nil, fmt.Errorf("playback: TTL must be positive, got %s", ttl)
	}
	if len(secrets) == 0 {
		return nil, errors.New("playback: no secret")
	}
	s := &Signer{ttl: ttl}
	for i, sec := range secrets {
		if len(sec) < MinSecretLen {
			return nil, fmt.Errorf("playback: secret %d is %d bytes, need at least %d", i+1, len(sec), MinSecretLen)
		}
		s.secrets = append(s.secrets, bytes.Clone(sec))
	}
	return s, nil
}

// TTL is how long tokens made by Token live.
func (s *Signer) TTL() time.Duration { return s.ttl }

// Token signs videoID for TTL from now.
func (s *Signer) Token(videoID string, now time.Time) string {
	return s.Sign(videoID, now.Add(s.ttl))
}

// Sign returns a token that opens videoID until expires (truncated to the
// second).
func (s *Signer) Sign(videoID string, expires time.Time) string {
	raw := make([]byte, 0, rawLen)
	raw = append(raw, version)
	raw = binary.BigEndian.AppendUint64(raw, uint64(expires.Unix()))
	raw = append(raw, mac(s.secrets[0], videoID, raw[1:9])...)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// Verify reports whether token opens videoID at now: nil, or an error that
// is ErrMalformed, ErrBadSignature or ErrExpired.
func (s *Signer) Verify(videoID, token string, now time.Time) error {
	_, err := s.VerifyExpiry(videoID, token, now)
	return err
}

// VerifyExpiry is Verify that also returns the token's expiry when it is
// valid (for cache lifetimes).
func (s *Signer) VerifyExpiry(videoID, token string, now time.Time) (time.Time, error) {
	if len(token) != TokenLen || len(videoID) > maxIDBytes {
		return time.Time{}, ErrMalformed
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(token)
	// The decoder skips CR and LF, so insist on the canonical spelling too.
	if err != nil || len(raw) != rawLen || raw[0] != version || base64.RawURLEncoding.EncodeToString(raw) != token {
		return time.Time{}, ErrMalformed
	}
	exp, sig := raw[1:9], raw[9:]
	ok := false
	for _, sec := range s.secrets {
		if hmac.Equal(sig, mac(sec, videoID, exp)) {
			ok = true
		}
	}
	if !ok {
		return time.Time{}, ErrBadSignature
	}
	expires := time.Unix(int64(binary.BigEndian.Uint64(exp)), 0)
	if !now.Before(expires) {
		return expires, ErrExpired
	}
	return expires, nil
}

func mac(secret []byte, videoID string, exp []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(domain))
	h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(videoID))))
	h.Write([]byte(videoID))
	h.Write(exp)
	return h.Sum(nil)
}

// ParseSecrets reads secrets from the text of a secret file or variable: one
// secret per line (commas also separate), surrounding blanks trimmed, empty
// lines and lines starting with '#' ignored. Each secret is used as its raw
// bytes, so `openssl rand -hex 32` (64 characters) makes a good one. The
// first signs. Every secret must be at least MinSecretLen bytes.
func ParseSecrets(text string) ([][]byte, error) {
	var out [][]byte
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for _, f := range strings.Split(line, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			if len(f) < MinSecretLen {
				return nil, fmt.Errorf("playback: secret %d is %d bytes, need at least %d", len(out)+1, len(f), MinSecretLen)
			}
			out = append(out, []byte(f))
		}
	}
	if len(out) == 0 {
		return nil, errors.New("playback: no secret found")
	}
	return out, nil
}
