package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/hlsd/hlsd/pkg/subtitles"
)

// subtitleFile is one --subtitles LANG=FILE of hlsd upload, read and
// checked before the video is sent: a file the server would refuse is
// said at once, not after a long upload.
type subtitleFile struct {
	lang, path string
	body       []byte
}

// subtitleFlags collects --subtitles values.
type subtitleFlags []subtitleFile

func (s *subtitleFlags) String() string { return "" }

func (s *subtitleFlags) Set(v string) error {
	lang, path, ok := strings.Cut(v, "=")
	if !ok || lang == "" || path == "" {
		return errors.New("want LANG=FILE, e.g. fr=clip.fr.srt")
	}
	*s = append(*s, subtitleFile{lang: lang, path: path})
	return nil
}

// load reads and checks every file.
func (s subtitleFlags) load() error {
	for i := range s {
		b, err := os.ReadFile(s[i].path)
		if err != nil {
			return errors.New(fileError(s[i].path, err))
		}
		if _, err := subtitles.Parse(b); err != nil {
			return fmt.Errorf("%s: %v", s[i].path, err)
		}
		s[i].body = b
	}
	return nil
}

// addSubtitles posts one file to POST /api/videos/{id}/subtitles.
func (c *client) addSubtitles(ctx context.Context, id string, f subtitleFile) error {
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	_ = mw.WriteField("language", f.lang)
	fw, err := mw.CreateFormFile("file", filepath.Base(f.path))
	if err != nil {
		return err
	}
	_, _ = fw.Write(f.body)
	if err := mw.Close(); err != nil {
		return err
	}
	req, err := c.newRequest(ctx, http.MethodPost, "/api/videos/"+url.PathEscape(id)+"/subtitles", &form)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := c.do(req, http.StatusCreated, http.StatusAccepted)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}
