package gateway

import (
	"encoding/base64"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hlsd/hlsd/pkg/layout"
	"github.com/hlsd/hlsd/pkg/video"
)

// List pages: GET /api/videos?limit=N&cursor=C.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// pageCursor is a position in the newest-first order: the creation time and
// id of the last video of a page (the id breaks ties). It survives the
// deletion of that video.
type pageCursor struct {
	created time.Time
	id      string
}

// encode is opaque to clients: base64url of "UNIXNANO:ID".
func (c pageCursor) encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.created.UnixNano(), 10) + ":" + c.id))
}

var errBadCursor = errors.New("The cursor is not one this server handed out; start again without it.")

func decodeCursor(s string) (pageCursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return pageCursor{}, errBadCursor
	}
	ns, id, ok := strings.Cut(string(b), ":")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || !layout.ValidVideoID(id) {
		return pageCursor{}, errBadCursor
	}
	return pageCursor{created: time.Unix(0, n).UTC(), id: id}, nil
}

// newer orders videos newest first, by id when created at the same instant.
func newer(a, b pageCursor) bool {
	if !a.created.Equal(b.created) {
		return a.created.After(b.created)
	}
	return a.id > b.id
}

func cursorOf(v video.Video) pageCursor { return pageCursor{created: v.CreatedAt, id: v.ID} }

// pageParams reads limit and cursor.
func pageParams(r *http.Request) (limit int, after *pageCursor, err error) {
	limit = DefaultPageSize
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return 0, nil, errors.New("limit must be a whole number from 1 to 200.")
		}
		limit = min(n, MaxPageSize)
	}
	if s := r.URL.Query().Get("cursor"); s != "" {
		c, err := decodeCursor(s)
		if err != nil {
			return 0, nil, err
		}
		after = &c
	}
	return limit, after, nil
}

// page cuts vs (any order) to the limit videos that follow after (nil: from
// the newest), newest first, and the cursor of the next page ("" if none).
func page(vs []video.Video, limit int, after *pageCursor) ([]video.Video, string) {
	sort.Slice(vs, func(i, j int) bool { return newer(cursorOf(vs[i]), cursorOf(vs[j])) })
	start := 0
	if after != nil {
		start = sort.Search(len(vs), func(i int) bool { return newer(*after, cursorOf(vs[i])) })
	}
	vs = vs[start:]
	if len(vs) <= limit {
		return vs, ""
	}
	return vs[:limit], cursorOf(vs[limit-1]).encode()
}
