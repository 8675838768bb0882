// Package cli parses hlsd's command line and environment and starts a target.
package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hlsd/hlsd/cmd/hlsd/app"
	"github.com/hlsd/hlsd/pkg/ffmpeg"
	"github.com/hlsd/hlsd/pkg/jobs"
	"github.com/hlsd/hlsd/pkg/playback"
	"github.com/hlsd/hlsd/pkg/queue"
	"github.com/hlsd/hlsd/pkg/webhook"
	"github.com/hlsd/hlsd/services/gateway"
)

const usage = `hlsd turns uploaded videos into adaptive HLS streams.

Usage:
  hlsd all        every service in one process (embedded NATS, files on disk)
  hlsd gateway    upload form, POST /upload and the JSON API
  hlsd encoder    encode worker
  hlsd segmenter  segment worker
  hlsd content    serves /streams/...

  hlsd check URL  checks a published master playlist against RFC 8216 and
                  Apple's HLS authoring spec (see "hlsd check -h")

  hlsd upload FILE  sends a video to a running server, with a progress bar;
                    --wait prints its master URL once ready ("hlsd upload -h")
  hlsd ls           lists the server's videos ("hlsd ls -h")
  hlsd rm ID...     deletes videos ("hlsd rm -h")

Every flag can also be set by the environment variable shown with it.
Run "hlsd TARGET -h" for the flags.
`

// Main runs hlsd with args (without the program name) and returns the exit code.
func Main(args []string, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "check" {
		return Check(args[1:], os.Stdout, stderr)
	}
	if len(args) > 0 && args[0] == "upload" {
		return Upload(args[1:], os.Stdout, stderr)
	}
	if len(args) > 0 && args[0] == "ls" {
		return Ls(args[1:], os.Stdout, stderr)
	}
	if len(args) > 0 && args[0] == "rm" {
		return Rm(args[1:], os.Stdout, stderr)
	}
	if len(args) == 0 || !slices.Contains(app.Targets, app.Target(args[0])) {
		fmt.Fprint(stderr, usage)
		if len(args) > 0 && args[0] != "-h" && args[0] != "--help" && args[0] != "help" {
			fmt.Fprintf(stderr, "\nunknown target %q\n", args[0])
		}
		return 2
	}
	target := app.Target(args[0])
	cfg, logCfg, err := Parse(target, args[1:], os.LookupEnv, stderr)
	if err == flag.ErrHelp {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "hlsd:", err)
		return 2
	}
	cfg.Log = newLogger(logCfg, stderr)

	// The first SIGINT/SIGTERM drains: no new jobs, running ones may finish
	// within the shutdown grace. A second one exits at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
		c := make(chan os.Signal, 1)
		signal.Notify(c, os.Interrupt, syscall.SIGTERM)
		<-c
		fmt.Fprintln(stderr, "hlsd: second signal, exiting now")
		os.Exit(1)
	}()
	if err := app.Run(ctx, target, cfg); err != nil && ctx.Err() == nil {
		cfg.Log.Error("hlsd stopped", "err", err)
		return 1
	}
	return 0
}

type logConfig struct{ level, format string }

// Parse reads flags, falling back to HLSD_* environment variables (via
// lookupEnv) for flags not given on the command line.
func Parse(target app.Target, args []string, lookupEnv func(string) (string, bool), out io.Writer) (app.Config, logConfig, error) {
	// Defaults also for the settings a target has no flag for (see below).
	cfg := app.Config{Limits: ffmpeg.DefaultLimits(), Jobs: queue.DefaultConfig(), ProfilesPath: "profiles.json",
		EncoderWorkers: 1, SegmenterWorkers: 2, EncodeMinTimeout: 10 * time.Minute, PlaybackTTL: 12 * time.Hour,
		UploadExpiry: 24 * time.Hour, UploadStallTimeout: gateway.DefaultUploadStallTimeout}
	var lc logConfig
	maxUpload, segmentCache := "20GiB", "256MiB"
	var apiTokens, apiTokensFile, playbackSecrets, playbackSecretFile string
	var webhookSecret string
	fs := flag.NewFlagSet("hlsd "+string(target), flag.ContinueOnError)
	fs.SetOutput(out)
	// Each target registers only the flags it uses, so --help lists those.
	fs.StringVar(&cfg.Listen, "listen", app.DefaultListen[target], "HTTP listen address")
	fs.StringVar(&cfg.DataDir, "data-dir", "./data", "local data: embedded NATS, file store, scratch space")
	fs.StringVar(&cfg.NATSURL, "nats-url", "", "external NATS server URL; empty runs an embedded one (all only)")
	fs.StringVar(&cfg.StoreURL, "store", "", "object store: a path, file:///path or s3://KEY:SECRET@host:port/bucket?secure=false (default DATA-DIR/store)")
	fs.DurationVar(&cfg.ShutdownGrace, "shutdown-grace", 30*time.Second, "how long running jobs and requests may finish on shutdown")
	fs.IntVar(&cfg.Jobs.MaxDeliver, "max-attempts", cfg.Jobs.MaxDeliver, "attempts per job before the video is marked failed")
	fs.DurationVar(&cfg.Jobs.AckWait, "job-ack-wait", cfg.Jobs.AckWait, "silence after which a worker's job goes to another worker (workers heartbeat well within it)")
	fs.Var(&durationList{&cfg.Jobs.BackOff}, "job-backoff", "comma-separated waits before the 2nd, 3rd… attempt of a job")
	fs.IntVar(&cfg.MaxConnections, "max-connections", 0, "most HTTP connections held open at once; 0 sets half the file limit, at most 10000 (idle keep-alive ones are closed from 3/4 of it)")
	fs.Var(&stringList{&cfg.AllowedHosts}, "allowed-hosts", "comma-separated host names the server answers for (\".example.com\" with subdomains); empty: any, but only loopback names without API tokens")
	fs.StringVar(&cfg.MetricsToken, "metrics-token", "", "bearer token /metrics requires (Prometheus: authorization.credentials); empty leaves it open")
	fs.StringVar(&cfg.NATSToken, "nats-token", "", "token of the NATS server: the embedded one requires it of every client (needed with --nats-listen beyond loopback), an external one is sent it")
	fs.StringVar(&lc.level, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&lc.format, "log-format", "text", "text or json")
	if target == app.All {
		fs.StringVar(&cfg.NATSListen, "nats-listen", "", "let other processes reach the embedded NATS at this address, e.g. 127.0.0.1:4222")
	}
	if target.Runs(app.Gateway) {
		fs.StringVar(&cfg.ProfilesPath, "profiles", "profiles.json", "bitrate ladder and encoder settings")
		fs.StringVar(&cfg.ContentURL, "content-url", "", "base URL of the content service in answers (default: the host the request came to)")
		fs.StringVar(&maxUpload, "max-upload-size", "20GiB", "largest accepted upload")
		fs.StringVar(&apiTokens, "api-tokens", "", "comma-separated bearer tokens for uploads and /api (16+ characters each)")
		fs.StringVar(&apiTokensFile, "api-tokens-file", "", "file of bearer tokens, one per line; lines starting with # and blank lines are ignored")
		fs.StringVar(&cfg.WebhookURL, "webhook-url", "", "URL that gets a signed POST when a video becomes ready or failed (gateway); empty sends none")
		fs.StringVar(&webhookSecret, "webhook-secret", "", "HMAC secret (32+ bytes) that signs webhooks; required with --webhook-url")
		fs.DurationVar(&cfg.UploadStallTimeout, "upload-stall-timeout", gateway.DefaultUploadStallTimeout, "an upload body that brings fewer than 16 KiB in this long is dropped (tus uploads stay resumable)")
		fs.DurationVar(&cfg.UploadExpiry, "upload-expiry", 24*time.Hour, "how long after its creation an unfinished resumable (tus) upload is removed")
		fs.BoolVar(&cfg.InsecureOpenAPI, "insecure-open-api", false, "serve uploads and /api without tokens on any address (only behind an authenticating proxy)")
		fs.Var(&stringList{&cfg.AllowedOrigins}, "allowed-origins", "comma-separated web origins (https://app.example.com) whose pages may call uploads and the API; the gateway's own pages always may")
	}
	if target.Runs(app.Gateway, app.Content) {
		fs.StringVar(&playbackSecrets, "playback-secrets", "", "comma-separated HMAC secrets (32+ bytes) that sign playback URLs; empty serves streams unsigned")
		fs.StringVar(&playbackSecretFile, "playback-secret-file", "", "file of playback-signing secrets, one per line; the first signs, all verify")
		fs.DurationVar(&cfg.PlaybackTTL, "playback-ttl", 12*time.Hour, "how long a signed playback URL stays valid (longer than a viewing session)")
	}
	if target.Runs(app.Content) {
		fs.StringVar(&segmentCache, "segment-cache-size", segmentCache, "memory for the segments viewers fetch most, with an S3 store (a disk store's are sent with sendfile); 0 keeps none")
	}
	if target.Runs(app.Gateway, app.Encoder, app.Segmenter) {
		fs.DurationVar(&cfg.FailedSourceRetention, "failed-source-retention", 0, "keep a failed video's source this long before removing it; 0 removes it when the video fails")
	}
	if target.Runs(app.Encoder) {
		fs.IntVar(&cfg.EncoderWorkers, "encoder-workers", 1, "encodes run at once by this process (each ffmpeg uses every core), plus one express slot for new videos' first work")
		fs.IntVar(&cfg.ChunkWindow, "chunk-window", jobs.DefaultChunkWindow, "later chunks of one video queued at a time: about how many encoders one video keeps busy, and how many of its chunks a newer video's wait behind")
		fs.DurationVar(&cfg.Limits.MaxDuration, "max-duration", cfg.Limits.MaxDuration, "longest accepted source")
		fs.IntVar(&cfg.Limits.MaxWidth, "max-width", cfg.Limits.MaxWidth, "widest accepted source, pixels")
		fs.IntVar(&cfg.Limits.MaxHeight, "max-height", cfg.Limits.MaxHeight, "tallest accepted source, pixels")
		fs.IntVar(&cfg.Limits.MaxPixels, "max-pixels", cfg.Limits.MaxPixels, "most pixels (width × height) in an accepted source's frame")
		fs.Float64Var(&cfg.Limits.MaxFrameRate, "max-frame-rate", cfg.Limits.MaxFrameRate, "highest accepted source frame rate")
		fs.IntVar(&cfg.Limits.MaxStreams, "max-streams", cfg.Limits.MaxStreams, "most streams (tracks) in an accepted source")
		fs.DurationVar(&cfg.EncodeMinTimeout, "encode-timeout", 10*time.Minute, "time limit of an encode, plus 10s per second of media")
	}
	if target.Runs(app.Segmenter) {
		fs.IntVar(&cfg.SegmenterWorkers, "segmenter-workers", 2, "renditions segmented at once by this process")
	}
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage of hlsd %s:\n", target)
		fs.VisitAll(func(f *flag.Flag) {
			fmt.Fprintf(out, "  --%s (%s, default %q)\n      %s\n", f.Name, EnvName(f.Name), f.DefValue, f.Usage)
		})
	}
	if err := fs.Parse(args); err != nil {
		return cfg, lc, err
	}
	if fs.NArg() > 0 {
		return cfg, lc, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if v, ok := lookupEnv(EnvName(f.Name)); ok && !set[f.Name] && envErr == nil {
			if err := f.Value.Set(v); err != nil {
				envErr = fmt.Errorf("%s=%q: %w", EnvName(f.Name), v, err)
			}
		}
	})
	if envErr != nil {
		return cfg, lc, envErr
	}
	n, err := ParseBytes(maxUpload)
	if err != nil {
		return cfg, lc, fmt.Errorf("--max-upload-size: %w", err)
	}
	cfg.MaxUploadBytes = n
	if strings.TrimSpace(segmentCache) != "0" {
		if cfg.SegmentCacheBytes, err = ParseBytes(segmentCache); err != nil {
			return cfg, lc, fmt.Errorf("--segment-cache-size: %w", err)
		}
	}
	if cfg.APITokens, err = LoadAPITokens(apiTokens, apiTokensFile); err != nil {
		return cfg, lc, err
	}
	if cfg.PlaybackSecrets, err = loadPlaybackSecrets(playbackSecrets, playbackSecretFile); err != nil {
		return cfg, lc, err
	}
	if cfg.UploadExpiry < time.Hour {
		return cfg, lc, fmt.Errorf("--upload-expiry %v is too short: resumable uploads must survive at least an hour", cfg.UploadExpiry)
	}
	if len(cfg.PlaybackSecrets) > 0 && cfg.PlaybackTTL < time.Minute {
		return cfg, lc, fmt.Errorf("--playback-ttl %v is too short: signed URLs must outlive at least a minute of playback", cfg.PlaybackTTL)
	}
	if cfg.WebhookSecret, err = checkWebhook(cfg.WebhookURL, webhookSecret); err != nil {
		return cfg, lc, err
	}
	listen := cfg.Listen
	if listen == "" {
		listen = app.DefaultListen[target]
	}
	if err := app.CheckAPIAuth(target, listen, cfg.APITokens, cfg.InsecureOpenAPI); err != nil {
		return cfg, lc, err
	}
	for _, o := range cfg.AllowedOrigins {
		if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return cfg, lc, fmt.Errorf("--allowed-origins: %q is not an origin like https://app.example.com", o)
		}
	}
	if cfg.NATSListen != "" && !app.IsLoopback(cfg.NATSListen) && cfg.NATSToken == "" {
		return cfg, lc, fmt.Errorf("--nats-listen %s reaches beyond this machine: set --nats-token (HLSD_NATS_TOKEN) so only hlsd's processes can use the job queue, or listen on 127.0.0.1", cfg.NATSListen)
	}
	if cfg.UploadStallTimeout < time.Second {
		return cfg, lc, fmt.Errorf("--upload-stall-timeout %v is too short: a slow phone network needs at least 1s to bring 16 KiB", cfg.UploadStallTimeout)
	}
	if cfg.MaxConnections < 0 {
		return cfg, lc, fmt.Errorf("--max-connections must be 0 (automatic) or more")
	}
	if cfg.EncoderWorkers < 1 || cfg.SegmenterWorkers < 1 {
		return cfg, lc, fmt.Errorf("--encoder-workers and --segmenter-workers must be at least 1")
	}
	if cfg.Jobs.MaxDeliver <= len(cfg.Jobs.BackOff) {
		return cfg, lc, fmt.Errorf("--max-attempts (%d) must be more than the number of --job-backoff steps (%d)", cfg.Jobs.MaxDeliver, len(cfg.Jobs.BackOff))
	}
	if cfg.Jobs.AckWait < time.Second {
		return cfg, lc, fmt.Errorf("--job-ack-wait must be at least 1s")
	}
	return cfg, lc, nil
}

// loadPlaybackSecrets reads --playback-secrets or --playback-secret-file
// (not both: one place for secrets avoids signing with a forgotten one).
func loadPlaybackSecrets(list, file string) ([][]byte, error) {
	switch {
	case list != "" && file != "":
		return nil, fmt.Errorf("set --playback-secrets or --playback-secret-file, not both")
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--playback-secret-file: %w", err)
		}
		secrets, err := playback.ParseSecrets(string(b))
		if err == nil && len(secrets) == 0 {
			err = fmt.Errorf("it holds no secret (make one with: openssl rand -hex 32)")
		}
		if err != nil {
			return nil, fmt.Errorf("--playback-secret-file %s: %w", file, err)
		}
		return secrets, nil
	case list != "":
		secrets, err := playback.ParseSecrets(list)
		if err != nil {
			return nil, fmt.Errorf("--playback-secrets (HLSD_PLAYBACK_SECRETS): %w", err)
		}
		return secrets, nil
	}
	return nil, nil
}

// checkWebhook validates --webhook-url and --webhook-secret: both or
// neither, an absolute http(s) URL, a secret of webhook.MinSecretBytes or more.
func checkWebhook(rawURL, secret string) ([]byte, error) {
	switch {
	case rawURL == "" && secret == "":
		return nil, nil
	case rawURL == "":
		return nil, fmt.Errorf("--webhook-secret (HLSD_WEBHOOK_SECRET) is set but --webhook-url is not: set both, or neither")
	case secret == "":
		return nil, fmt.Errorf("--webhook-url needs --webhook-secret (HLSD_WEBHOOK_SECRET) to sign the deliveries (make one with: openssl rand -hex 32)")
	case len(secret) < webhook.MinSecretBytes:
		return nil, fmt.Errorf("--webhook-secret (HLSD_WEBHOOK_SECRET) is %d bytes long; it must have at least %d (make one with: openssl rand -hex 32)", len(secret), webhook.MinSecretBytes)
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--webhook-url %q is not an absolute http:// or https:// URL", webhook.RedactURL(rawURL))
	}
	return []byte(secret), nil
}

// MinTokenLength is the shortest API token accepted.
const MinTokenLength = 16

// LoadAPITokens gathers the API tokens of --api-tokens (comma-separated) and
// --api-tokens-file (one per line, # comment lines and blank lines ignored).
// A token shorter than MinTokenLength, or with a character other than
// visible ASCII, stops start-up with a sentence that names where it is but
// never shows it.
func LoadAPITokens(list, file string) ([]string, error) {
	var tokens []string
	add := func(tok, where string) error {
		for _, c := range []byte(tok) {
			if c <= ' ' || c > '~' || c == ',' {
				return fmt.Errorf("the API token %s holds a space, comma, control or non-ASCII character; use letters, digits and punctuation (generate one with: openssl rand -hex 32)", where)
			}
		}
		if len(tok) < MinTokenLength {
			return fmt.Errorf("the API token %s is %d characters long; tokens must have at least %d (generate one with: openssl rand -hex 32)", where, len(tok), MinTokenLength)
		}
		if !slices.Contains(tokens, tok) {
			tokens = append(tokens, tok)
		}
		return nil
	}
	n := 0
	for _, tok := range strings.Split(list, ",") {
		if tok = strings.TrimSpace(tok); tok == "" {
			continue
		}
		n++
		if err := add(tok, fmt.Sprintf("number %d of --api-tokens (HLSD_API_TOKENS)", n)); err != nil {
			return nil, err
		}
	}
	if file == "" {
		return tokens, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--api-tokens-file: %w", err)
	}
	found := false
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line) // also the \r of CRLF files
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		found = true
		if err := add(line, fmt.Sprintf("on line %d of %s", i+1, file)); err != nil {
			return nil, err
		}
	}
	if !found {
		return nil, fmt.Errorf("--api-tokens-file %s holds no token: put one per line (generate one with: openssl rand -hex 32)", file)
	}
	return tokens, nil
}

// durationList is a flag of comma-separated durations.
type durationList struct{ p *[]time.Duration }

func (d *durationList) String() string {
	if d == nil || d.p == nil {
		return ""
	}
	parts := make([]string, len(*d.p))
	for i, v := range *d.p {
		parts[i] = v.String()
	}
	return strings.Join(parts, ",")
}

func (d *durationList) Set(s string) error {
	var out []time.Duration
	for _, f := range strings.Split(s, ",") {
		v, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil || v <= 0 {
			return fmt.Errorf("%q is not a list of positive durations like 30s,1m", s)
		}
		out = append(out, v)
	}
	*d.p = out
	return nil
}

// EnvName is the environment variable behind a flag: --max-upload-size → HLSD_MAX_UPLOAD_SIZE.
func EnvName(flagName string) string {
	return "HLSD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// ParseBytes reads sizes like "500MiB", "2GiB", "1000000".
func ParseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("%q is not a size like 500MiB or 2GiB", s)
	}
	return int64(f * float64(mult)), nil
}

func newLogger(lc logConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(lc.level))
	opts := &slog.HandlerOptions{Level: level}
	if lc.format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// stringList is a comma-separated flag value; blanks are dropped.
type stringList struct{ p *[]string }

func (l *stringList) String() string {
	if l == nil || l.p == nil {
		return ""
	}
	return strings.Join(*l.p, ",")
}

func (l *stringList) Set(s string) error {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	*l.p = out
	return nil
}
