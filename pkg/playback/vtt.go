package playback

import (
	"bytes"
	"strings"
)

// RewriteVTT returns a WebVTT thumbnails track — cues whose text is the URI
// of a picture, like hlsd's storyboard ("sprite_0.jpg#xywh=0,0,160,90") —
// with token added (as token=..., before the fragment) to every cue text
// line that is a single relative URI. Like RewritePlaylist, it replaces an
// existing token parameter and leaves URIs that could lead to another origin
// as they are.
//
// Only cue payloads are touched: the header, NOTE, STYLE and REGION blocks,
// cue identifiers and timing lines stay as they are, and so do text lines
// that hold blanks (captions, not URIs), line endings (LF or CRLF), blank
// lines and the number of lines. It is meant for thumbnail tracks, where
// every cue's text is a URI; a caption of one word would get a token too.
func RewriteVTT(body []byte, token string) ([]byte, error) {
	if !validTokenValue(token) {
		return nil, ErrBadTokenValue
	}
	out := make([]byte, 0, len(body)+bytes.Count(body, []byte("-->"))*(len(token)+8)+64)
	rest := body
	if bytes.HasPrefix(rest, bom) {
		out, rest = append(out, bom...), rest[len(bom):]
	}
	header := true   // the first block: "WEBVTT" and its header lines
	inBlock := false // inside a block (lines up to a blank one)
	skip := false    // a NOTE, STYLE or REGION block
	n := 0           // the line's number within its block
	payload := false // past the cue's timing line
	for {
		line, after, more := bytes.Cut(rest, []byte("\n"))
		content := bytes.TrimSuffix(line, []byte("\r"))
		switch {
		case len(bytes.TrimSpace(content)) == 0:
			if inBlock {
				header = false
			}
			inBlock, skip, payload, n = false, false, false, 0
			out = append(out, line...)
		default:
			if !inBlock {
				inBlock = true
				skip = header || startsBlock(content, "NOTE") || startsBlock(content, "STYLE") || startsBlock(content, "REGION")
			}
			n++
			if !skip && payload {
				out = append(out, rewriteCueText(string(content), token)...)
				out = append(out, line[len(content):]...) // "\r"
				break
			}
			if !skip && n <= 2 && bytes.Contains(content, []byte("-->")) {
				payload = true // the timing line: cue text follows
			}
			out = append(out, line...)
		}
		if !more {
			return out, nil
		}
		out = append(out, '\n')
		rest = after
	}
}

// startsBlock reports whether a block's first line is the keyword, alone or
// followed by a blank (WebVTT's NOTE, STYLE and REGION blocks).
func startsBlock(line []byte, keyword string) bool {
	rest, ok := bytes.CutPrefix(line, []byte(keyword))
	return ok && (len(rest) == 0 || rest[0] == ' ' || rest[0] == '\t')
}

// rewriteCueText adds the token to a cue text line that is one relative URI,
// keeping the blanks around it.
func rewriteCueText(s, token string) string {
	core := strings.TrimSpace(s)
	if core == "" || strings.ContainsAny(core, " \t") || !IsRelative(core) {
		return s
	}
	lead := strings.Index(s, core)
	return s[:lead] + AddToken(core, token) + s[lead+len(core):]
}
