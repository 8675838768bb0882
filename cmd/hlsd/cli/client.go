package cli

// The command line client: hlsd upload, hlsd ls and hlsd rm talk to a
// running gateway's JSON API (/api/videos) over HTTP.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/hlsd/hlsd/pkg/api"
)

// DefaultServer is the gateway the client talks to without --server or
// HLSD_SERVER: where `hlsd all` listens by default.
const DefaultServer = "http://127.0.0.1:4444"

const clientEnvHelp = `Environment:
  HLSD_SERVER     the server, when --server is not given (default ` + DefaultServer + `)
  HLSD_API_TOKEN  the one API token the client sends, when --token is not given
                  (the server's HLSD_API_TOKENS may hold several; the client sends one)
`

const uploadUsage = `Usage: hlsd upload FILE [--server URL] [--token T] [--wait] [--quiet]
                   [--subtitles LANG=SUBS]...

Sends FILE to the server's POST /api/videos, streaming it from disk with a
progress bar on stderr. Without --wait it prints "ID STATUS_URL" on stdout as
soon as the server has stored the file. With --wait it follows the processing
and prints only the master playlist URL on stdout once the video is ready:

  URL=$(hlsd upload clip.mp4 --wait)

--subtitles adds a WebVTT or SubRip file as subtitles in language LANG (a BCP 47
tag: en, fr, pt-BR) once the video is ready; give it once per file:

  hlsd upload film.mkv --subtitles fr=film.fr.srt --subtitles de=film.de.vtt

The files are checked before the video is sent, and the upload waits for the
video to be ready to add them (printing what --wait would only with --wait).

Exits 1 with one sentence on stderr if the server refuses the file, the video
fails, or the server cannot be reached; 2 on a usage error.

Flags:
`

const lsUsage = `Usage: hlsd ls [--server URL] [--token T] [--json] [--limit N]

Lists the server's videos, newest first: ID, STATE, PROGRESS, DURATION,
CREATED and NAME (the uploaded file's name). --json prints the videos as the
server describes them, as one JSON array.

Flags:
`

const rmUsage = `Usage: hlsd rm ID... [--server URL] [--token T]

Deletes each video (its state and every file of it), printing "deleted ID".
An id the server does not know prints "no video ID" on stderr; the exit code
is then 1, after every other id was tried.

Flags:
`

// lsDefaultLimit bounds "hlsd ls" without --limit.
const lsDefaultLimit = 1000

// Upload runs "hlsd upload".
func Upload(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runUpload(ctx, args, os.LookupEnv, stdout, stderr)
}

// Ls runs "hlsd ls".
func Ls(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runLs(ctx, args, os.LookupEnv, stdout, stderr)
}

// Rm runs "hlsd rm".
func Rm(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runRm(ctx, args, os.LookupEnv, stdout, stderr)
}

// clientFlags are the flags every client command has.
type clientFlags struct{ server, token string }

func newClientFlagSet(name, usage string, stderr io.Writer, cf *clientFlags) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cf.server, "server", "", "the hlsd server's base URL (HLSD_SERVER, default "+DefaultServer+")")
	fs.StringVar(&cf.token, "token", "", "API token sent as \"Authorization: Bearer TOKEN\" (HLSD_API_TOKEN)")
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
		fmt.Fprint(stderr, "\n"+clientEnvHelp)
	}
	return fs
}

// parseArgs parses flags given before, between or after the positional
// arguments ("hlsd upload clip.mp4 --wait"); everything after "--" is
// positional.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// client is a connection to one hlsd server's API.
type client struct {
	base      string // scheme://host[:port][/prefix], no trailing slash
	token     string
	tokenFrom string // where the token came from, for messages
	hc        *http.Client
}

func (cf clientFlags) client(lookupEnv func(string) (string, bool)) (*client, error) {
	server := cf.server
	if server == "" {
		if v, ok := lookupEnv("HLSD_SERVER"); ok && strings.TrimSpace(v) != "" {
			server = v
		} else {
			server = DefaultServer
		}
	}
	server = strings.TrimSpace(server)
	if !strings.Contains(server, "://") {
		server = "http://" + server // "localhost:4444"
	}
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("the server %q is not a URL like %s", server, DefaultServer)
	}
	c := &client{base: strings.TrimSuffix(u.String(), "/")}
	if cf.token != "" {
		c.token, c.tokenFrom = strings.TrimSpace(cf.token), "--token"
	} else if v, ok := lookupEnv("HLSD_API_TOKEN"); ok && strings.TrimSpace(v) != "" {
		c.token, c.tokenFrom = strings.TrimSpace(v), "HLSD_API_TOKEN"
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	// Uploads send "Expect: 100-continue": a request the server refuses
	// before reading it (a missing or wrong token) is answered before the
	// file is sent. A server that ignores it gets the body after a second.
	t.ExpectContinueTimeout = time.Second
	t.ResponseHeaderTimeout = 5 * time.Minute
	c.hc = &http.Client{Transport: t}
	return c, nil
}

// apiError is an answer other than the one hoped for.
type apiError struct {
	status int
	msg    string // the server's sentence, if it sent one
	api    bool   // the sentence came as the API's JSON {"error": ...}
}

func (e *apiError) Error() string {
	if e.msg != "" {
		return fmt.Sprintf("%d %s: %s", e.status, http.StatusText(e.status), e.msg)
	}
	return fmt.Sprintf("%d %s", e.status, http.StatusText(e.status))
}

// serverSentence is the one sentence of an error answer: the "error" of a
// JSON body, or a short plain-text body.
func serverSentence(resp *http.Response) (msg string, api bool) {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var j struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &j) == nil && j.Error != "" {
		return strings.TrimSpace(j.Error), true
	}
	s := strings.TrimSpace(string(b))
	ct := resp.Header.Get("Content-Type")
	if s == "" || len(s) > 500 || strings.Contains(s, "\n") || strings.HasPrefix(ct, "text/html") || strings.HasPrefix(s, "<") {
		return "", false
	}
	return s, false
}

func (c *client) newRequest(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

// do sends req and returns the response when its status is one of ok; any
// other answer is an *apiError (the body read and closed).
func (c *client) do(req *http.Request, ok ...int) (*http.Response, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	for _, s := range ok {
		if resp.StatusCode == s {
			return resp, nil
		}
	}
	defer resp.Body.Close()
	msg, api := serverSentence(resp)
	return nil, &apiError{status: resp.StatusCode, msg: msg, api: api}
}

// getJSON fetches path into v.
func (c *client) getJSON(ctx context.Context, path string, v any) error {
	req, err := c.newRequest(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.do(req, http.StatusOK)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("the server's answer to GET %s is not the JSON expected: %w", path, err)
	}
	return nil
}

// describe turns err into one sentence for a person: what went wrong and,
// where it is clear, what to do. subject names what was sent ("clip.mp4").
func (c *client) describe(err error, subject string) string {
	var ae *apiError
	if errors.As(err, &ae) {
		switch {
		case ae.status == http.StatusUnauthorized && c.token == "":
			return fmt.Sprintf("the server at %s needs an API token: pass --token or set HLSD_API_TOKEN", c.base)
		case ae.status == http.StatusUnauthorized:
			return fmt.Sprintf("the server at %s refused the API token from %s: %s", c.base, c.tokenFrom, orStatus(ae))
		case ae.status == http.StatusNotFound && !ae.api:
			return fmt.Sprintf("%s has no hlsd API (404 Not Found): check --server or HLSD_SERVER", c.base)
		case subject != "" && ae.status >= 400 && ae.status < 500:
			return fmt.Sprintf("the server refused %s: %s", subject, orStatus(ae))
		default:
			return fmt.Sprintf("the server at %s answered %s", c.base, ae.Error())
		}
	}
	if errors.Is(err, context.Canceled) {
		return "interrupted"
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Sprintf("cannot reach the hlsd server at %s: connection refused (is it running? set --server or HLSD_SERVER)", c.base)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Sprintf("cannot talk to the hlsd server at %s: %v", c.base, ue.Err)
	}
	return err.Error()
}

func orStatus(ae *apiError) string {
	if ae.msg != "" {
		return ae.msg
	}
	return fmt.Sprintf("%d %s", ae.status, http.StatusText(ae.status))
}

// video is a video as the API shows it.
type video = api.Video

// ---- hlsd upload ----

func runUpload(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) int {
	var cf clientFlags
	fs := newClientFlagSet("hlsd upload", uploadUsage, stderr, &cf)
	wait := fs.Bool("wait", false, "wait until the video is ready and print its master playlist URL")
	quiet := fs.Bool("quiet", false, "no progress bars (errors are still printed)")
	var subs subtitleFlags
	fs.Var(&subs, "subtitles", "LANG=FILE: add a WebVTT or SubRip file as subtitles once the video is ready (repeatable)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if len(pos) != 1 {
		fs.Usage()
		return 2
	}
	fail := func(msg string) int {
		fmt.Fprintln(stderr, "hlsd upload: "+msg)
		return 1
	}
	c, err := cf.client(lookupEnv)
	if err != nil {
		return fail(err.Error())
	}
	if err := subs.load(); err != nil {
		return fail(err.Error())
	}
	path := pos[0]
	name := filepath.Base(path)
	f, err := os.Open(path)
	if err != nil {
		return fail(fileError(path, err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fail(fileError(path, err))
	}
	if !st.Mode().IsRegular() {
		return fail(fmt.Sprintf("%s is not a regular file", path))
	}
	meter := newByteMeter(stderr, *quiet, "uploading "+name, st.Size())
	v, err := c.upload(ctx, f, name, st.Size(), meter)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fail("interrupted: " + name + " was not uploaded")
		}
		return fail(c.describe(err, name))
	}
	if !*wait && len(subs) == 0 {
		fmt.Fprintf(stdout, "%s %s\n", v.ID, c.base+"/api/videos/"+url.PathEscape(v.ID))
		return 0
	}
	pm := newStateMeter(stderr, *quiet)
	final, err := c.follow(ctx, v.ID, pm.update)
	pm.finish()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fail("stopped waiting; video " + v.ID + " goes on processing on the server (see hlsd ls)")
		}
		return fail(c.describe(err, ""))
	}
	if final.State == api.StateFailed {
		reason := "no reason given"
		if final.Failure != nil && final.Failure.Reason != "" {
			reason = final.Failure.Reason
		}
		return fail(fmt.Sprintf("video %s failed: %s", v.ID, reason))
	}
	for _, s := range subs {
		if err := c.addSubtitles(ctx, v.ID, s); err != nil {
			return fail(fmt.Sprintf("video %s is ready, but the subtitles %s were not added: %s", v.ID, s.path, c.describe(err, "")))
		}
		if !*quiet {
			fmt.Fprintf(stderr, "subtitles added: %s (%s)\n", filepath.Base(s.path), s.lang)
		}
	}
	if !*wait {
		fmt.Fprintf(stdout, "%s %s\n", v.ID, c.base+"/api/videos/"+url.PathEscape(v.ID))
		return 0
	}
	fmt.Fprintln(stdout, final.MasterURL)
	return 0
}

func fileError(path string, err error) string {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Sprintf("%s does not exist", path)
	case errors.Is(err, os.ErrPermission):
		return fmt.Sprintf("%s cannot be read: permission denied", path)
	}
	return err.Error()
}

// countWriter counts bytes written to it.
type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// multipartLength is the exact size of the body upload sends: the part
// header, the file and the closing boundary.
func multipartLength(boundary, filename string, size int64) (int64, error) {
	var cw countWriter
	mw := multipart.NewWriter(&cw)
	if err := mw.SetBoundary(boundary); err != nil {
		return 0, err
	}
	if _, err := mw.CreateFormFile("upload", filename); err != nil {
		return 0, err
	}
	if err := mw.Close(); err != nil {
		return 0, err
	}
	return cw.n + size, nil
}

// meterReader reports the bytes read through it to a byteMeter.
type meterReader struct {
	r     io.Reader
	n     int64
	meter *byteMeter
}

func (m *meterReader) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	m.n += int64(n)
	m.meter.set(m.n)
	return n, err
}

var errAnswered = errors.New("the server answered before the whole file was sent")

// upload streams f as the multipart field "upload" to POST /api/videos:
// through a pipe, never whole in memory, with an exact Content-Length.
func (c *client) upload(ctx context.Context, f *os.File, name string, size int64, meter *byteMeter) (video, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	length, err := multipartLength(mw.Boundary(), name, size)
	if err != nil {
		return video{}, err
	}
	req, err := c.newRequest(ctx, http.MethodPost, "/api/videos", pr)
	if err != nil {
		return video{}, err
	}
	req.ContentLength = length
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Expect", "100-continue")

	var fileErr error // the reading side's own failure, if any
	done := make(chan struct{})
	go func() {
		defer close(done)
		part, err := mw.CreateFormFile("upload", name)
		if err == nil {
			var n int64
			n, err = io.Copy(part, &meterReader{r: io.LimitReader(f, size), meter: meter})
			if err != nil && !errors.Is(err, io.ErrClosedPipe) && !errors.Is(err, errAnswered) {
				fileErr = fmt.Errorf("reading %s: %w", name, err)
			} else if err == nil && n < size {
				err = fmt.Errorf("%s shrank while it was being sent", name)
				fileErr = err
			}
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	resp, err := c.do(req, http.StatusAccepted, http.StatusCreated, http.StatusOK)
	pr.CloseWithError(errAnswered) // stops the sender if the server answered early
	<-done
	meter.finish(err == nil)
	if fileErr != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return video{}, fileErr
	}
	if err != nil {
		return video{}, err
	}
	defer resp.Body.Close()
	var v video
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || v.ID == "" {
		return video{}, fmt.Errorf("the server took %s but its answer names no video id", name)
	}
	return v, nil
}

// follow reports every change of video id to update until it reaches a
// final state, which it returns with its master URL when ready. It follows
// the server's event stream, and polls GET /api/videos/{id} every second
// where there is none (or it breaks off).
func (c *client) follow(ctx context.Context, id string, update func(video)) (video, error) {
	v, final, err := c.followEvents(ctx, id, update)
	if err != nil {
		return video{}, err
	}
	if !final {
		if v, err = c.poll(ctx, id, update); err != nil {
			return video{}, err
		}
	}
	if v.State == api.StateReady && v.MasterURL == "" {
		// An event may describe the video without its URL: ask for it.
		if err := c.getJSON(ctx, "/api/videos/"+url.PathEscape(id), &v); err != nil {
			return video{}, err
		}
		if v.MasterURL == "" {
			return video{}, fmt.Errorf("the server says video %s is ready but gives no master_url", id)
		}
	}
	return v, nil
}

// eventsIdle is how long an event stream may stay silent before the client
// stops trusting it and polls instead.
var eventsIdle = 45 * time.Second

// followEvents reads GET /api/videos/{id}/events (server-sent events: "event:
// video" with the video's JSON on every change, "event: end" last). It
// returns final=false, and no error, when the server has no such endpoint
// or the stream ends before a final state: the caller polls then. Only
// errors that polling would meet too (a refused token, an interrupt) are
// returned.
func (c *client) followEvents(parent context.Context, id string, update func(video)) (last video, final bool, err error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	req, err := c.newRequest(ctx, http.MethodGet, "/api/videos/"+url.PathEscape(id)+"/events", nil)
	if err != nil {
		return video{}, false, err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.do(req, http.StatusOK)
	var ae *apiError
	switch {
	case errors.As(err, &ae) && ae.status == http.StatusUnauthorized:
		return video{}, false, err
	case parent.Err() != nil:
		return video{}, false, parent.Err()
	case err != nil:
		return video{}, false, nil // 404/405: no events endpoint; anything else: polling says
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		return video{}, false, nil
	}
	idle := time.AfterFunc(eventsIdle, cancel)
	defer idle.Stop()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var event string
	var data []string
	for sc.Scan() {
		idle.Reset(eventsIdle)
		line := sc.Text()
		if line != "" {
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "event":
				event = value
			case "data":
				data = append(data, value)
			}
			continue
		}
		// A blank line dispatches the event.
		name, payload := event, strings.Join(data, "\n")
		event, data = "", nil
		switch name {
		case "video":
			var v video
			if json.Unmarshal([]byte(payload), &v) != nil || v.ID == "" {
				continue
			}
			last = v
			update(v)
			if v.State.Final() {
				return v, true, nil
			}
		case "end":
			return last, false, nil
		}
	}
	if parent.Err() != nil {
		return last, false, parent.Err()
	}
	return last, false, nil // broken off, or silent too long: poll
}

// poll asks GET /api/videos/{id} every second until the video reaches a
// final state. Passing troubles (the server restarting, a 503) are
// retried for half a minute.
func (c *client) poll(ctx context.Context, id string, update func(video)) (video, error) {
	var lastErr error
	failures := 0
	for {
		var v video
		err := c.getJSON(ctx, "/api/videos/"+url.PathEscape(id), &v)
		if ctx.Err() != nil {
			return video{}, ctx.Err()
		}
		var ae *apiError
		switch {
		case err == nil:
			failures = 0
			update(v)
			if v.State.Final() {
				return v, nil
			}
		case errors.As(err, &ae) && ae.status == http.StatusNotFound:
			return video{}, fmt.Errorf("video %s is gone from the server (deleted while processing?)", id)
		case errors.As(err, &ae) && ae.status < 500:
			return video{}, err
		default:
			failures++
			lastErr = err
			if failures >= 30 {
				return video{}, lastErr
			}
		}
		select {
		case <-ctx.Done():
			return video{}, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// ---- hlsd ls ----

func runLs(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) int {
	var cf clientFlags
	fs := newClientFlagSet("hlsd ls", lsUsage, stderr, &cf)
	asJSON := fs.Bool("json", false, "print the videos as one JSON array, as the server describes them")
	limit := fs.Int("limit", 0, fmt.Sprintf("list at most N videos (default: all, up to %d)", lsDefaultLimit))
	pos, err := parseArgs(fs, args)
	if err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if len(pos) > 0 || *limit < 0 {
		fs.Usage()
		return 2
	}
	c, err := cf.client(lookupEnv)
	if err != nil {
		fmt.Fprintln(stderr, "hlsd ls: "+err.Error())
		return 1
	}
	n := *limit
	if n == 0 {
		n = lsDefaultLimit
	}
	items, more, err := c.list(ctx, n)
	if err != nil {
		fmt.Fprintln(stderr, "hlsd ls: "+c.describe(err, ""))
		return 1
	}
	if more && *limit == 0 {
		fmt.Fprintf(stderr, "hlsd ls: showing the newest %d videos; the server has more (pass --limit)\n", n)
	}
	if *asJSON {
		if items == nil {
			items = []json.RawMessage{}
		}
		b, err := json.MarshalIndent(items, "", "  ")
		if err != nil {
			fmt.Fprintln(stderr, "hlsd ls: the server's answer is not valid JSON:", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s\n", b)
		return 0
	}
	if len(items) == 0 {
		fmt.Fprintf(stderr, "hlsd ls: no videos on %s\n", c.base)
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tPROGRESS\tDURATION\tCREATED\tNAME")
	for _, raw := range items {
		var v video
		if err := json.Unmarshal(raw, &v); err != nil {
			fmt.Fprintln(stderr, "hlsd ls: the server described a video in a form this client does not read:", err)
			return 1
		}
		dur := "-"
		if v.Source != nil && v.Source.Duration > 0 {
			dur = clock(v.Source.Duration)
		}
		created := "-"
		if !v.CreatedAt.IsZero() {
			created = v.CreatedAt.Local().Format("2006-01-02 15:04:05")
		}
		name := v.Filename
		if name == "" {
			name = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d%%\t%s\t%s\t%s\n", v.ID, v.State, percent(v.Progress), dur, created, name)
	}
	_ = tw.Flush()
	return 0
}

// list fetches up to limit videos, following the server's pagination
// cursors. It reads both a bare JSON array and {"videos": [...],
// "next_cursor": "..."}. more tells whether the server has more.
func (c *client) list(ctx context.Context, limit int) (items []json.RawMessage, more bool, err error) {
	cursor := ""
	seen := map[string]bool{} // cursors
	ids := map[string]bool{}
	for {
		q := url.Values{}
		q.Set("limit", strconv.Itoa(min(limit-len(items), 100)))
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		req, err := c.newRequest(ctx, http.MethodGet, "/api/videos?"+q.Encode(), nil)
		if err != nil {
			return nil, false, err
		}
		req.Header.Set("Accept", "application/json")
		resp, err := c.do(req, http.StatusOK)
		if err != nil {
			return nil, false, err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, false, err
		}
		page, next, err := parseListPage(b)
		if err != nil {
			return nil, false, err
		}
		for _, raw := range page {
			// A video listed twice (a page boundary moving under writes) shows once.
			var v struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(raw, &v) == nil && v.ID != "" {
				if ids[v.ID] {
					continue
				}
				ids[v.ID] = true
			}
			items = append(items, raw)
		}
		if len(items) >= limit {
			return items[:limit], len(items) > limit || next != "", nil
		}
		if next == "" || seen[next] || len(page) == 0 {
			return items, false, nil
		}
		seen[next] = true
		cursor = next
	}
}

func parseListPage(b []byte) ([]json.RawMessage, string, error) {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var page []json.RawMessage
		if err := json.Unmarshal(b, &page); err != nil {
			return nil, "", fmt.Errorf("the server's video list is not valid JSON: %w", err)
		}
		return page, "", nil
	}
	var page struct {
		Videos     []json.RawMessage `json:"videos"`
		NextCursor string            `json:"next_cursor"`
	}
	if err := json.Unmarshal(b, &page); err != nil {
		return nil, "", fmt.Errorf("the server's video list is not the JSON expected: %w", err)
	}
	return page.Videos, page.NextCursor, nil
}

// clock shows seconds as m:ss or h:mm:ss.
func clock(sec float64) string {
	s := int(math.Round(sec))
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// percent shows a 0..1 progress as a whole percentage, 100 only when done.
func percent(p float64) int {
	return int(math.Floor(math.Max(0, math.Min(1, p)) * 100))
}

// ---- hlsd rm ----

func runRm(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) int {
	var cf clientFlags
	fs := newClientFlagSet("hlsd rm", rmUsage, stderr, &cf)
	ids, err := parseArgs(fs, args)
	if err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if len(ids) == 0 {
		fs.Usage()
		return 2
	}
	c, err := cf.client(lookupEnv)
	if err != nil {
		fmt.Fprintln(stderr, "hlsd rm: "+err.Error())
		return 1
	}
	code := 0
	for _, id := range ids {
		err := c.remove(ctx, id)
		var ae *apiError
		switch {
		case err == nil:
			fmt.Fprintln(stdout, "deleted", id)
		case errors.As(err, &ae) && ae.status == http.StatusNotFound && ae.api:
			fmt.Fprintln(stderr, "no video", id)
			code = 1
		case errors.As(err, &ae) && ae.status != http.StatusUnauthorized && ae.status != http.StatusNotFound:
			fmt.Fprintf(stderr, "hlsd rm: %s: %s\n", id, c.describe(err, ""))
			code = 1
		default:
			// No token, a wrong one, no server: every other id would fail alike.
			fmt.Fprintln(stderr, "hlsd rm: "+c.describe(err, ""))
			return 1
		}
	}
	return code
}

func (c *client) remove(ctx context.Context, id string) error {
	req, err := c.newRequest(ctx, http.MethodDelete, "/api/videos/"+url.PathEscape(id), nil)
	if err != nil {
		return err
	}
	resp, err := c.do(req, http.StatusNoContent, http.StatusOK, http.StatusAccepted)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.Body.Close()
}

// ---- progress ----

// isTerminal tells whether w is a terminal a progress bar can redraw in.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// redrawEvery bounds how often a progress bar is redrawn on a terminal.
const redrawEvery = 100 * time.Millisecond

// line draws progress on a terminal: each call replaces the last line.
type line struct {
	w     io.Writer
	width int // of the last line drawn, to blank what a shorter one leaves
	drawn bool
}

func (l *line) draw(s string) {
	pad := ""
	if n := len([]rune(s)); n < l.width {
		pad = strings.Repeat(" ", l.width-n)
	}
	fmt.Fprint(l.w, "\r"+s+pad)
	l.width = len([]rune(s))
	l.drawn = true
}

func (l *line) end() {
	if l.drawn {
		fmt.Fprintln(l.w)
		l.drawn = false
	}
}

func bar(frac float64, width int) string {
	frac = math.Max(0, math.Min(1, frac))
	full := int(frac * float64(width))
	if full >= width {
		return "[" + strings.Repeat("=", width) + "]"
	}
	return "[" + strings.Repeat("=", full) + ">" + strings.Repeat(" ", width-full-1) + "]"
}

// byteMeter shows an upload's progress on stderr: a bar redrawn at most
// ten times a second on a terminal, a line per 10 % otherwise. It is
// used by one goroutine at a time.
type byteMeter struct {
	out      io.Writer // nil: quiet
	tty      bool
	label    string
	total    int64
	now      func() time.Time
	start    time.Time
	sent     int64
	lastDraw time.Time
	step     int // tenths reported, on a non-terminal
	line     line
}

func newByteMeter(w io.Writer, quiet bool, label string, total int64) *byteMeter {
	m := &byteMeter{label: label, total: total, now: time.Now, step: -1}
	if !quiet {
		m.out, m.tty = w, isTerminal(w)
		m.line.w = w
	}
	return m
}

func (m *byteMeter) set(sent int64) {
	if m.out == nil || m.total == 0 {
		return
	}
	now := m.now()
	if m.start.IsZero() {
		m.start = now
	}
	m.sent = sent
	if m.tty {
		if now.Sub(m.lastDraw) >= redrawEvery || sent >= m.total {
			m.lastDraw = now
			m.line.draw(m.status(now, true))
		}
		return
	}
	if step := m.tenths(); step > m.step {
		m.step = step
		fmt.Fprintln(m.out, m.status(now, false))
	}
}

func (m *byteMeter) tenths() int {
	if m.total <= 0 {
		return 10
	}
	return int(m.sent * 10 / m.total)
}

func (m *byteMeter) status(now time.Time, withBar bool) string {
	frac := 1.0
	if m.total > 0 {
		frac = float64(m.sent) / float64(m.total)
	}
	var b strings.Builder
	b.WriteString(m.label)
	if withBar {
		b.WriteString(" " + bar(frac, 24))
	} else {
		b.WriteString(":")
	}
	unit, div := "MB", 1e6
	switch {
	case m.total >= 1e9:
		unit, div = "GB", 1e9
	case m.total < 1e6:
		unit, div = "kB", 1e3
	}
	fmt.Fprintf(&b, " %3d%%  %.1f/%.1f %s", percent(frac), float64(m.sent)/div, float64(m.total)/div, unit)
	if secs := now.Sub(m.start).Seconds(); secs > 0.05 && m.sent > 0 {
		rate := float64(m.sent) / secs
		fmt.Fprintf(&b, "  %.1f MB/s", rate/1e6)
		if m.sent < m.total {
			fmt.Fprintf(&b, "  ETA %s", clock(float64(m.total-m.sent)/rate))
		}
	}
	return b.String()
}

// finish ends the bar; an upload that stopped short leaves it where it was.
func (m *byteMeter) finish(ok bool) {
	if m.out == nil || m.total == 0 {
		return
	}
	if ok && m.sent < m.total { // never read to the end, yet accepted
		m.sent = m.total
	}
	if ok && m.tty {
		m.line.draw(m.status(m.now(), true))
	}
	if ok && !m.tty && m.step < 10 {
		m.step = 10
		fmt.Fprintln(m.out, m.status(m.now(), false))
	}
	m.line.end()
}

// stateMeter shows processing: the state and its progress, redrawn on a
// terminal, a line per new state or 10 % otherwise.
type stateMeter struct {
	out   io.Writer // nil: quiet
	tty   bool
	now   func() time.Time
	last  time.Time
	state api.State
	step  int
	line  line
}

func newStateMeter(w io.Writer, quiet bool) *stateMeter {
	m := &stateMeter{now: time.Now, step: -1}
	if !quiet {
		m.out, m.tty = w, isTerminal(w)
		m.line.w = w
	}
	return m
}

func (m *stateMeter) update(v video) {
	if m.out == nil {
		return
	}
	p := v.Progress
	if v.State == api.StateReady {
		p = 1
	}
	step := percent(p) / 10
	if m.tty {
		now := m.now()
		if now.Sub(m.last) >= redrawEvery || v.State != m.state || v.State.Final() {
			m.last = now
			m.line.draw(fmt.Sprintf("processing %s %-10s %3d%%", bar(p, 24), v.State, percent(p)))
		}
	} else if v.State != m.state || step > m.step {
		fmt.Fprintf(m.out, "processing: %s %d%%\n", v.State, percent(p))
	}
	m.state, m.step = v.State, step
}

func (m *stateMeter) finish() {
	if m.out != nil {
		m.line.end()
	}
}
