package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
)

// tokenSet is the API tokens the gateway accepts, kept as SHA-256 hashes:
// every comparison is between two 32-byte values, so its time tells nothing
// about a token's length, and every configured token is examined on every
// request, so it tells nothing about which one matched either.
type tokenSet struct{ hashes [][sha256.Size]byte }

func newTokenSet(tokens []string) tokenSet {
	var s tokenSet
	for _, t := range tokens {
		s.hashes = append(s.hashes, sha256.Sum256([]byte(t)))
	}
	return s
}

// open is true when no token is configured: the API needs none.
func (s tokenSet) open() bool { return len(s.hashes) == 0 }

// valid tells whether presented is one of the tokens, in constant time.
func (s tokenSet) valid(presented string) bool {
	return matchAny(s.hashes, sha256.Sum256([]byte(presented)), subtle.ConstantTimeCompare)
}

// matchAny compares h with every hash, never stopping at a match. equal is
// subtle.ConstantTimeCompare; tests pass a counting one.
func matchAny(hashes [][sha256.Size]byte, h [sha256.Size]byte, equal func(a, b []byte) int) bool {
	match := 0
	for i := range hashes {
		match |= equal(hashes[i][:], h[:])
	}
	return match == 1
}

// bearerToken returns the token of an "Authorization: Bearer TOKEN" header
// (the scheme in any case, spaces around the token ignored), and false when
// the header is missing, has another scheme or carries no token.
func bearerToken(header string) (string, bool) {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok := strings.TrimSpace(rest)
	return tok, tok != ""
}

// The answers to a request without a valid token: one sentence, never the
// token it sent.
const (
	msgNoToken  = `This request needs an API token, sent as "Authorization: Bearer TOKEN".`
	msgBadToken = "The API token is not valid."
)

// guard puts routes behind the API tokens and refuses other web sites.
type guard struct {
	tokens  tokenSet
	origins map[string]bool // Deps.AllowedOrigins
	log     *slog.Logger
}

// msgCrossOrigin answers a browser request sent by another web site.
const msgCrossOrigin = "Requests from other web sites are refused: add the site to --allowed-origins to let it use this API."

// crossOrigin tells whether r comes from a page of another web site that is
// not among the allowed origins. Browsers name the page's origin in Origin
// on every cross-origin request and on same-origin ones that change
// something; Sec-Fetch-Site says cross-site where Origin is left out.
// Without either the request is not from a web page, and the tokens (or
// loopback) decide. This closes the door that open mode left: any web site
// a developer visited could upload to, list and delete on their hlsd.
func (g guard) crossOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return r.Header.Get("Sec-Fetch-Site") == "cross-site"
	}
	if g.origins[strings.ToLower(origin)] {
		return false
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" { // "null": a sandboxed page or a redirect
		return true
	}
	return !strings.EqualFold(u.Host, r.Host)
}

// refuseCrossOrigin answers a cross-origin request 403 and returns true.
func (g guard) refuseCrossOrigin(w http.ResponseWriter, r *http.Request, jsonAPI bool) bool {
	if !g.crossOrigin(r) {
		return false
	}
	g.log.Warn("cross-origin request refused", "origin", r.Header.Get("Origin"), "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)
	if jsonAPI {
		jsonError(w, http.StatusForbidden, msgCrossOrigin)
	} else {
		plainError(w, http.StatusForbidden, msgCrossOrigin)
	}
	return true
}

func newOriginSet(origins []string) map[string]bool {
	set := map[string]bool{}
	for _, o := range origins {
		set[strings.ToLower(strings.TrimSuffix(o, "/"))] = true
	}
	return set
}

// require serves h only to requests with a valid bearer token, or to every
// request when no token is configured; never to a page of another web site
// (see crossOrigin). Refusals are 401 with a
// WWW-Authenticate challenge and a one-sentence body, JSON for the API and
// plain text for POST /upload; each is logged with the remote address. The
// check comes before the body is read: a refused upload is not received.
func (g guard) require(jsonAPI bool, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.refuseCrossOrigin(w, r, jsonAPI) {
			return
		}
		if g.tokens.open() {
			h(w, r)
			return
		}
		tok, presented := bearerToken(r.Header.Get("Authorization"))
		if presented && g.tokens.valid(tok) {
			h(w, r)
			return
		}
		challenge, msg, reason := `Bearer realm="hlsd"`, msgNoToken, "no bearer token"
		if presented {
			challenge, msg, reason = `Bearer realm="hlsd", error="invalid_token"`, msgBadToken, "invalid token"
		}
		g.log.Warn("API request refused", "reason", reason, "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)
		w.Header().Set("WWW-Authenticate", challenge)
		if jsonAPI {
			jsonError(w, http.StatusUnauthorized, msg)
		} else {
			plainError(w, http.StatusUnauthorized, msg)
		}
	})
}
