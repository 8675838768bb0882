package playback

import (
	"html"
	"regexp"
)

// mpdURLAttr finds the attributes of a DASH manifest (hlsd's own: a
// SegmentTemplate's, a BaseURL has no place in it) whose values name what
// a player fetches.
var mpdURLAttr = regexp.MustCompile(`\b(initialization|media|sourceURL)="([^"]*)"`)

// RewriteMPD returns a DASH manifest with token added (as token=...) to
// every relative URL of its segment templates: initialization and media
// ($Number$ and the like stay templates; the token is a query parameter
// after them), so a player of a signed MPD fetches every segment signed.
// URLs that could lead to another origin are left alone, as
// RewritePlaylist leaves them.
func RewriteMPD(body []byte, token string) ([]byte, error) {
	if !validTokenValue(token) {
		return nil, ErrBadTokenValue
	}
	return mpdURLAttr.ReplaceAllFunc(body, func(attr []byte) []byte {
		m := mpdURLAttr.FindSubmatch(attr)
		uri := html.UnescapeString(string(m[2]))
		if !IsRelative(uri) {
			return attr
		}
		return []byte(string(m[1]) + `="` + html.EscapeString(AddToken(uri, token)) + `"`)
	}), nil
}
