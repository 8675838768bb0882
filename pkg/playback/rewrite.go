package playback

import (
	"bytes"
	"errors"
	"net/url"
	"strings"
)

// ErrBadTokenValue is returned by RewritePlaylist for a token that is not a
// non-empty string of URL-unreserved characters (A-Z a-z 0-9 - . _ ~), which
// could not be written into a query or a quoted attribute as is.
var ErrBadTokenValue = errors.New("playback: token is not a plain URL-safe string")

// uriTags are the tags whose URI attribute names a resource a player fetches.
// EXT-X-STREAM-INF has none (its URI is the next line) and other tags' free
// text (EXTINF titles, EXT-X-DATERANGE values) is never touched.
var uriTags = []string{
	"#EXT-X-MEDIA:",
	"#EXT-X-I-FRAME-STREAM-INF:",
	"#EXT-X-MAP:",
	"#EXT-X-KEY:",
	"#EXT-X-SESSION-KEY:",
	"#EXT-X-SESSION-DATA:",
	"#EXT-X-PART:",
	"#EXT-X-PRELOAD-HINT:",
	"#EXT-X-RENDITION-REPORT:",
}

var bom = []byte("\xef\xbb\xbf")

// RewritePlaylist returns body with token added (as token=...) to every
// relative URI: URI lines and the URI="..." attribute of uriTags. An existing
// token parameter is replaced, so applying it twice changes nothing. URIs
// that could lead to another origin — with a scheme (https:, skd:, data:) or
// network-path ("//host", and the "\\host" spellings browsers treat alike) —
// are left exactly as they are, so a token never leaves for another host.
//
// Nothing else changes: line endings (LF or CRLF, even mixed), blank lines,
// comments, other tags and attributes, and the number of lines are kept.
func RewritePlaylist(body []byte, token string) ([]byte, error) {
	if !validTokenValue(token) {
		return nil, ErrBadTokenValue
	}
	out := make([]byte, 0, len(body)+bytes.Count(body, []byte("\n"))*(len(token)+8)+64)
	rest := body
	if bytes.HasPrefix(rest, bom) {
		out, rest = append(out, bom...), rest[len(bom):]
	}
	for {
		line, after, more := bytes.Cut(rest, []byte("\n"))
		out = rewriteLine(out, line, token)
		if !more {
			return out, nil
		}
		out = append(out, '\n')
		rest = after
	}
}

func rewriteLine(out, line []byte, token string) []byte {
	content, cr := line, false
	if n := len(content); n > 0 && content[n-1] == '\r' {
		content, cr = content[:n-1], true
	}
	s := string(content)
	switch {
	case strings.HasPrefix(s, "#"):
		out = append(out, rewriteTag(s, token)...)
	default:
		// The URI proper, without surrounding blanks and control characters
		// (which are kept where they are).
		lead := len(s) - len(strings.TrimLeftFunc(s, isBlank))
		core := strings.TrimRightFunc(s[lead:], isBlank)
		if core == "" || core[0] == '#' || !IsRelative(core) {
			out = append(out, s...)
			break
		}
		out = append(out, s[:lead]...)
		out = append(out, AddToken(core, token)...)
		out = append(out, s[lead+len(core):]...)
	}
	if cr {
		out = append(out, '\r')
	}
	return out
}

// rewriteTag adds the token to the URI attribute of the tags in uriTags.
func rewriteTag(line, token string) string {
	var attrs string
	prefix := ""
	for _, t := range uriTags {
		if strings.HasPrefix(line, t) {
			prefix, attrs = t, line[len(t):]
			break
		}
	}
	if prefix == "" {
		return line
	}
	var b strings.Builder
	b.WriteString(prefix)
	last := 0
	for _, v := range URIAttributes(attrs) {
		uri := attrs[v[0]:v[1]]
		if !IsRelative(uri) {
			continue
		}
		b.WriteString(attrs[last:v[0]])
		b.WriteString(AddToken(uri, token))
		last = v[1]
	}
	b.WriteString(attrs[last:])
	return b.String()
}

// URIAttributes returns the [start, end) offsets of the value, inside its
// quotes, of every URI="..." attribute in an attribute list (RFC 8216 4.2):
// NAME=value pairs separated by commas, where a quoted-string may hold
// commas but no quote. Parsing stops at an unterminated quote, so a broken
// list gets no token (the player then fails loudly rather than leaking).
func URIAttributes(attrs string) [][2]int {
	var out [][2]int
	i := 0
	for i < len(attrs) {
		start := i
		for i < len(attrs) && attrs[i] != '=' && attrs[i] != ',' {
			i++
		}
		if i == len(attrs) {
			break
		}
		if attrs[i] == ',' { // a name without a value
			i++
			continue
		}
		name := strings.Trim(attrs[start:i], " \t")
		i++ // '='
		for i < len(attrs) && (attrs[i] == ' ' || attrs[i] == '\t') {
			i++
		}
		if i < len(attrs) && attrs[i] == '"' {
			end := strings.IndexByte(attrs[i+1:], '"')
			if end < 0 {
				break
			}
			if name == "URI" {
				out = append(out, [2]int{i + 1, i + 1 + end})
			}
			i += end + 2
		}
		for i < len(attrs) && attrs[i] != ',' {
			i++
		}
		i++ // ','
	}
	return out
}

// IsRelative reports whether uri is a non-empty reference a player resolves
// against the playlist's own origin. Scheme-bearing and network-path
// references are not, and neither is anything a WHATWG URL parser (browsers,
// hls.js) would turn into one after its clean-up: leading and trailing C0
// controls and spaces are dropped, tabs and newlines removed anywhere, and a
// backslash read as a slash.
func IsRelative(uri string) bool {
	u := strings.TrimFunc(uri, isBlank)
	u = strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(u)
	if u == "" {
		return false
	}
	if len(u) >= 2 && (u[0] == '/' || u[0] == '\\') && (u[1] == '/' || u[1] == '\\') {
		return false
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return false // scheme ":"
		default:
			return true
		}
	}
	return true
}

// AddToken returns uri with its query's token parameters (any spelling that
// decodes to "token") replaced by one token=value, placed last, before any
// fragment. Other parameters keep their order and spelling.
func AddToken(uri, token string) string {
	frag := ""
	if i := strings.IndexByte(uri, '#'); i >= 0 {
		uri, frag = uri[:i], uri[i:]
	}
	path, query, _ := strings.Cut(uri, "?")
	var b strings.Builder
	b.Grow(len(uri) + len(token) + len(frag) + 8)
	b.WriteString(path)
	b.WriteByte('?')
	if query != "" {
		for _, p := range strings.Split(query, "&") {
			if isTokenParam(p) {
				continue
			}
			b.WriteString(p)
			b.WriteByte('&')
		}
	}
	b.WriteString(TokenParam + "=")
	b.WriteString(token)
	b.WriteString(frag)
	return b.String()
}

func isTokenParam(pair string) bool {
	name, _, _ := strings.Cut(pair, "=")
	if name == TokenParam {
		return true
	}
	dec, err := url.QueryUnescape(name)
	return err == nil && dec == TokenParam
}

func validTokenValue(t string) bool {
	if t == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// isBlank is what WHATWG URL parsing trims from both ends: C0 controls and space.
func isBlank(r rune) bool { return r <= ' ' }
