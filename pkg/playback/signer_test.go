package playback

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"
)

const (
	videoA = "abcdefghijklmnopqrstuvwx"
	videoB = "bcdefghijklmnopqrstuvwxy"
)

var (
	secret1 = []byte("0123456789abcdef0123456789abcdef-one")
	secret2 = []byte("fedcba9876543210fedcba9876543210-two")
	t0      = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

func mustSigner(t testing.TB, ttl time.Duration, secrets ...[]byte) *Signer {
	t.Helper()
	s, err := NewSigner(ttl, secrets...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewSignerRejectsWeakConfig(t *testing.T) {
	for name, f := range map[string]func() (*Signer, error){
		"no secret":     func() (*Signer, error) { return NewSigner(time.Hour) },
		"short secret":  func() (*Signer, error) { return NewSigner(time.Hour, []byte("too short")) },
		"short 2nd":     func() (*Signer, error) { return NewSigner(time.Hour, secret1, make([]byte, 31)) },
		"zero TTL":      func() (*Signer, error) { return NewSigner(0, secret1) },
		"negative TTL":  func() (*Signer, error) { return NewSigner(-time.Second, secret1) },
		"nil secret":    func() (*Signer, error) { return NewSigner(time.Hour, nil) },
		"31-byte limit": func() (*Signer, error) { return NewSigner(time.Hour, make([]byte, MinSecretLen-1)) },
	} {
		if _, err := f(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewSigner(time.Hour, make([]byte, MinSecretLen)); err != nil {
		t.Errorf("a %d-byte secret: %v", MinSecretLen, err)
	}
}

func TestSignVerify(t *testing.T) {
	s := mustSigner(t, time.Hour, secret1)
	tok := s.Token(videoA, t0)
	if len(tok) != TokenLen || strings.Trim(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		t.Fatalf("token %q is not %d base64url characters", tok, TokenLen)
	}
	exp, err := s.VerifyExpiry(videoA, tok, t0)
	if err != nil || !exp.Equal(t0.Add(time.Hour)) {
		t.Fatalf("VerifyExpiry = %v, %v", exp, err)
	}
	if err := s.Verify(videoA, tok, t0.Add(time.Hour-time.Second)); err != nil {
		t.Fatalf("a second before expiry: %v", err)
	}
	if err := s.Verify(videoA, tok, t0.Add(time.Hour)); !errors.Is(err, ErrExpired) {
		t.Fatalf("at expiry: %v, want ErrExpired", err)
	}
	if err := s.Verify(videoB, tok, t0); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("token of video A on video B: %v, want ErrBadSignature", err)
	}
	// Expiry is signed to the second, rounding down.
	if exp, _ := s.VerifyExpiry(videoA, s.Sign(videoA, t0.Add(1500*time.Millisecond)), t0); !exp.Equal(t0.Add(time.Second)) {
		t.Fatalf("sub-second expiry became %v", exp)
	}
	// An expired token that is also forged is reported as forged.
	other := mustSigner(t, time.Hour, secret2)
	if err := s.Verify(videoA, other.Sign(videoA, t0.Add(-time.Hour)), t0); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged expired token: %v, want ErrBadSignature", err)
	}
}

func TestVerifyRejectsEveryOneCharacterChange(t *testing.T) {
	s := mustSigner(t, time.Hour, secret1)
	tok := s.Token(videoA, t0)
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range tok {
		for _, c := range []byte(alphabet) {
			if c == tok[i] {
				continue
			}
			bad := tok[:i] + string(c) + tok[i+1:]
			err := s.Verify(videoA, bad, t0)
			if err == nil {
				t.Fatalf("changed char %d to %q: accepted", i, c)
			}
			// Chars 2..53 hold only expiry and signature bits.
			if i >= 2 && i < TokenLen-1 && !errors.Is(err, ErrBadSignature) {
				t.Fatalf("changed char %d: %v, want ErrBadSignature", i, err)
			}
		}
	}
}

func TestVerifyRejectsALaterExpiry(t *testing.T) {
	s := mustSigner(t, time.Hour, secret1)
	raw, _ := base64.RawURLEncoding.DecodeString(s.Token(videoA, t0))
	binary.BigEndian.PutUint64(raw[1:9], uint64(t0.Add(24*time.Hour).Unix()))
	if err := s.Verify(videoA, base64.RawURLEncoding.EncodeToString(raw), t0); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("extended expiry: %v, want ErrBadSignature", err)
	}
}

func TestVerifyMalformed(t *testing.T) {
	s := mustSigner(t, time.Hour, secret1)
	tok := s.Token(videoA, t0)
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	v2 := append([]byte{2}, raw[1:]...)
	last := tok[len(tok)-1]
	// The last character carries 4 payload bits and 2 padding bits: change
	// only the padding bits and a lax decoder would read the same bytes.
	idx := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", last)
	sloppy := tok[:len(tok)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[idx^1])
	for name, bad := range map[string]string{
		"empty":             "",
		"short":             tok[:20],
		"long":              tok + "A",
		"padded":            tok + "=",
		"std alphabet":      strings.NewReplacer("-", "+", "_", "/").Replace(tok[:len(tok)-2]) + "+/",
		"not base64":        strings.Repeat("!", TokenLen),
		"newline inside":    tok[:10] + "\n" + tok[11:],
		"CR inside":         tok[:10] + "\r" + tok[10:len(tok)-1],
		"space":             tok[:len(tok)-1] + " ",
		"version 2":         base64.RawURLEncoding.EncodeToString(v2),
		"non-canonical end": sloppy,
		"dot separated":     "1767268800." + tok[:TokenLen-11],
		"unicode":           strings.Repeat("é", TokenLen/2) + "A",
	} {
		if err := s.Verify(videoA, bad, t0); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	if err := s.Verify(strings.Repeat("x", 4096), tok, t0); !errors.Is(err, ErrMalformed) {
		t.Errorf("huge video id: %v", err)
	}
}

func TestKeyRotation(t *testing.T) {
	old := mustSigner(t, time.Hour, secret1)
	both := mustSigner(t, time.Hour, secret2, secret1)
	newOnly := mustSigner(t, time.Hour, secret2)
	oldTok, newTok := old.Token(videoA, t0), both.Token(videoA, t0)
	if err := both.Verify(videoA, oldTok, t0); err != nil {
		t.Fatalf("token from the old secret during rotation: %v", err)
	}
	if err := newOnly.Verify(videoA, newTok, t0); err != nil {
		t.Fatalf("the first secret does not sign: %v", err)
	}
	if err := old.Verify(videoA, newTok, t0); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("old-only signer took a new token: %v", err)
	}
	if err := newOnly.Verify(videoA, oldTok, t0); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("retired secret still accepted: %v", err)
	}
}

func TestSignerDoesNotAliasSecrets(t *testing.T) {
	sec := append([]byte(nil), secret1...)
	s := mustSigner(t, time.Hour, sec)
	tok := s.Token(videoA, t0)
	sec[0] ^= 0xff
	if err := s.Verify(videoA, tok, t0); err != nil {
		t.Fatalf("caller's slice changed the signer: %v", err)
	}
}

func TestParseSecrets(t *testing.T) {
	a, b := strings.Repeat("a", 32), strings.Repeat("b", 64)
	got, err := ParseSecrets("# rotated 2026-03-01\n\n  " + b + "  \r\n" + a + "\n")
	if err != nil || len(got) != 2 || string(got[0]) != b || string(got[1]) != a {
		t.Fatalf("ParseSecrets = %q, %v", got, err)
	}
	if got, err := ParseSecrets(b + "," + a); err != nil || len(got) != 2 {
		t.Fatalf("comma list: %q %v", got, err)
	}
	for _, bad := range []string{"", "\n# only a comment\n", strings.Repeat("c", 31), a + "\nshort"} {
		if _, err := ParseSecrets(bad); err == nil {
			t.Errorf("ParseSecrets(%q) accepted", bad)
		}
	}
}

func FuzzVerify(f *testing.F) {
	s := mustSigner(f, time.Hour, secret2, secret1)
	tok := s.Token(videoA, t0)
	for _, seed := range []string{"", tok, tok[:TokenLen-1] + "B", strings.Repeat("A", TokenLen), strings.Repeat("_", TokenLen), "AQ", tok + "\n"} {
		f.Add(videoA, seed)
	}
	f.Fuzz(func(t *testing.T, id, token string) {
		exp, err := s.VerifyExpiry(id, token, t0)
		switch {
		case err == nil:
			// Only genuine tokens pass: this one must be exactly what we sign.
			if s.Sign(id, exp) != token {
				t.Fatalf("accepted %q for %q, which Sign would not make", token, id)
			}
		case errors.Is(err, ErrMalformed), errors.Is(err, ErrBadSignature), errors.Is(err, ErrExpired):
		default:
			t.Fatalf("unexpected error %v", err)
		}
	})
}
