// Package app wires hlsd's services together. One binary runs all of them in
// one process (`hlsd all`, with an embedded NATS server and the store on local
// disk by default) or any one of them against an external NATS and MinIO, the
// way Loki and Mimir run as one process or as microservices.
package app

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/hlsd/hlsd/cmd/hlsd/internal/connlimit"
	"github.com/hlsd/hlsd/pkg/ffmpeg"
	"github.com/hlsd/hlsd/pkg/metrics"
	"github.com/hlsd/hlsd/pkg/natsembed"
	"github.com/hlsd/hlsd/pkg/playback"
	"github.com/hlsd/hlsd/pkg/profiles"
	"github.com/hlsd/hlsd/pkg/queue"
	"github.com/hlsd/hlsd/pkg/store"
	"github.com/hlsd/hlsd/pkg/tusstore"
	"github.com/hlsd/hlsd/pkg/webhook"
	"github.com/hlsd/hlsd/services/content"
	"github.com/hlsd/hlsd/services/encoder"
	"github.com/hlsd/hlsd/services/gateway"
	"github.com/hlsd/hlsd/services/segmenter"
)

// Target is what one hlsd process runs.
type Target string

const (
	All       Target = "all"
	Gateway   Target = "gateway"
	Encoder   Target = "encoder"
	Segmenter Target = "segmenter"
	Content   Target = "content"
)

// Targets lists every target, for help texts and validation.
var Targets = []Target{All, Gateway, Encoder, Segmenter, Content}

// runs tells which services a target starts.
func (t Target) runs(s Target) bool { return t == All || t == s }

// Runs tells whether target t starts any of the services ss.
func (t Target) Runs(ss ...Target) bool {
	for _, s := range ss {
		if t.runs(s) {
			return true
		}
	}
	return false
}

// DefaultListen is each target's HTTP address; the workers serve only
// health checks there. `hlsd all` is the development target and listens on
// loopback, where it may run without API tokens; `hlsd gateway` is deployed
// behind a port mapping or a Service, so it listens everywhere and needs
// tokens (see CheckAPIAuth).
var DefaultListen = map[Target]string{All: "127.0.0.1:4444", Gateway: ":4444", Content: ":4445", Encoder: ":4446", Segmenter: ":4447"}

// Config is everything a process can be told.
type Config struct {
	Listen         string
	DataDir        string
	NATSURL        string // empty: embedded server (target all only)
	NATSListen     string // embedded server's TCP address, empty for none
	StoreURL       string // empty: file store under DataDir
	ProfilesPath   string
	ContentURL     string
	MaxUploadBytes int64
	// FailedSourceRetention keeps a failed video's source this long (for a
	// look at why it failed) before a sweep removes it; 0 removes it with
	// the rest of the video's files when it fails.
	FailedSourceRetention time.Duration
	// UploadStallTimeout drops an upload body that brings fewer than
	// gateway.StallBytes in this long (0: gateway.DefaultUploadStallTimeout).
	UploadStallTimeout time.Duration
	// MaxConnections bounds the HTTP connections the process holds open
	// (0: connlimit.Default(), from the file limit). Idle keep-alive
	// connections are closed from three quarters of it on.
	MaxConnections int
	// SegmentCacheBytes bounds the content service's memory for recently
	// served segments of an S3 store (content.Config.SegmentCacheBytes).
	SegmentCacheBytes int64
	EncoderWorkers    int
	ChunkWindow       int // later chunks of a video queued at a time (encoder.Config.ChunkWindow)
	SegmenterWorkers  int
	ShutdownGrace     time.Duration
	Limits            ffmpeg.Limits
	EncodeMinTimeout  time.Duration
	Jobs              queue.Config
	// APITokens are the bearer tokens the gateway accepts for uploads and
	// /api. Empty leaves them open, which CheckAPIAuth allows only on a
	// loopback address or with InsecureOpenAPI.
	APITokens []string
	// InsecureOpenAPI serves an open API on any address, for deployments
	// where an authenticating proxy stands in front of the gateway.
	InsecureOpenAPI bool
	// MetricsToken, if set, is the bearer token /metrics requires.
	MetricsToken string
	// NATSToken, if set, is the token the embedded NATS server requires of
	// every client (NATSListen beyond loopback needs one).
	NATSToken string
	// AllowedHosts are the names (Host headers) the HTTP server answers
	// for; a name starting with "." also allows its subdomains. Empty
	// answers any name, except in open mode (no API tokens), where only
	// loopback names are answered: a DNS-rebinding page cannot reach a
	// developer's hlsd.
	AllowedHosts []string
	// AllowedOrigins are the web sites whose pages may call uploads and the
	// API (see gateway.Deps.AllowedOrigins).
	AllowedOrigins []string
	// PlaybackSecrets, if any, make playback URLs signed and expiring: the
	// gateway hands out master URLs with a token valid for PlaybackTTL, and
	// the content service refuses requests without one. The first secret
	// signs; all verify (rotation). Gateway and content need the same ones.
	PlaybackSecrets [][]byte
	PlaybackTTL     time.Duration
	// UploadExpiry is how long after its creation an unfinished resumable
	// (tus) upload is removed; 0 means 24h.
	UploadExpiry time.Duration
	// WebhookURL, if set, gets a signed POST when a video becomes ready or
	// failed, from one of the gateways (see gateway.Webhooks). WebhookSecret
	// (webhook.MinSecretBytes or more) signs it.
	WebhookURL    string
	WebhookSecret []byte
	// WebhookBackoff spaces the retries of a delivery (nil: gateway.DefaultWebhookBackoff).
	WebhookBackoff []time.Duration
	Log            *slog.Logger
	// Ready, if set, is called with the HTTP address once the process serves.
	Ready func(addr string)
}

// Run starts target and blocks until ctx ends and everything has stopped.
func Run(ctx context.Context, target Target, cfg Config) error {
	log := cfg.Log.With("target", string(target))
	listen := cfg.Listen
	if listen == "" {
		listen = DefaultListen[target]
	}
	if err := CheckAPIAuth(target, listen, cfg.APITokens, cfg.InsecureOpenAPI); err != nil {
		return err
	}
	if cfg.WebhookURL != "" && len(cfg.WebhookSecret) < webhook.MinSecretBytes {
		return fmt.Errorf("a webhook URL needs a webhook secret of at least %d bytes", webhook.MinSecretBytes)
	}
	var prof profiles.Profiles
	if target.runs(Gateway) {
		switch {
		case len(cfg.APITokens) > 0:
			log.Info("API tokens required for uploads and /api", "tokens", len(cfg.APITokens))
		case cfg.InsecureOpenAPI:
			log.Warn("the upload API is open to anyone who reaches " + listen + " (--insecure-open-api): keep an authenticating proxy in front of it")
		default:
			log.Warn("no API tokens: uploads and /api are open to anyone on this machine; set HLSD_API_TOKENS before listening beyond loopback")
		}
		p, err := profiles.Load(cfg.ProfilesPath)
		if err != nil {
			return err // names the field that is wrong
		}
		prof = p
	}
	storeURL := cfg.StoreURL
	if storeURL == "" {
		storeURL = filepath.Join(cfg.DataDir, "store")
	}
	st, err := store.Open(ctx, storeURL)
	if err != nil {
		return err
	}
	tuneGC(target, cfg, st)

	nc, shutdownNATS, err := connectNATS(cfg, target, log)
	if err != nil {
		return err
	}
	defer shutdownNATS()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	bus, err := setupBus(ctx, js, cfg.Jobs, log)
	if err != nil {
		return err
	}

	m := metrics.New()
	for stage, c := range map[string]jetstream.Consumer{"encode": bus.Encoder, "encode-short": bus.EncoderShort, "encode-later": bus.EncoderLater, "audio": bus.Audio, "segment": bus.Segmenter} {
		m.RegisterQueueDepth(stage, func(ctx context.Context) (uint64, error) { return queue.Pending(ctx, c) })
	}

	g, gctx := errgroup.WithContext(ctx)
	if target.runs(Encoder) {
		g.Go(func() error {
			return encoder.New(encoder.Config{
				Limits: cfg.Limits, WorkDir: filepath.Join(cfg.DataDir, "scratch"), Concurrency: cfg.EncoderWorkers, AudioConcurrency: encoder.DefaultAudioConcurrency, ChunkWindow: cfg.ChunkWindow,
				MinTimeout: cfg.EncodeMinTimeout, TimeoutPerSecond: 10 * time.Second, ShutdownGrace: cfg.ShutdownGrace,
				KeepFailedSources: cfg.FailedSourceRetention > 0,
			}, encoder.Deps{Bus: bus, Records: bus.Videos, Queue: bus, Store: st, Log: log, Observe: m.ObserveJob, Speed: m.ObserveSpeed, Waited: m.ObserveWait}).Run(gctx)
		})
	}
	if target.runs(Segmenter) {
		g.Go(func() error {
			return segmenter.New(segmenter.Config{
				Concurrency: cfg.SegmenterWorkers, ShutdownGrace: cfg.ShutdownGrace, KeepFailedSources: cfg.FailedSourceRetention > 0,
			}, segmenter.Deps{Bus: bus, Records: bus.Videos, Announcer: bus, Store: st, Log: log, Observe: m.ObserveJob}).Run(gctx)
		})
	}

	var signer *playback.Signer
	if len(cfg.PlaybackSecrets) > 0 && (target.runs(Gateway) || target.runs(Content)) {
		if signer, err = playback.NewSigner(cfg.PlaybackTTL, cfg.PlaybackSecrets...); err != nil {
			return fmt.Errorf("playback signing: %w", err)
		}
		log.Info("playback URLs are signed", "ttl", cfg.PlaybackTTL)
	}

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metricsGuard(cfg.MetricsToken, m.Handler()))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		// The reason's class for the prober, the details (paths, addresses)
		// for the log only.
		if class, err := ready(r.Context(), nc, st); err != nil {
			log.Warn("not ready", "reason", class, "err", err)
			http.Error(w, "not ready: "+class, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	var streams http.Handler // the content service, when this process runs it
	if target.runs(Content) {
		cs := content.New(content.Config{SegmentCacheBytes: cfg.SegmentCacheBytes}, content.Deps{Store: st, Log: log, Signer: signer})
		streams = cs.Handler()
		mux.Handle(content.Prefix, streams)
		g.Go(func() error { return cs.Run(gctx) })
	}
	if target.runs(Gateway) {
		resumable, err := openResumable(storeURL, cfg.DataDir, st)
		if err != nil {
			return err
		}
		gw := gateway.New(gateway.Config{
			Profiles: prof, MaxUploadBytes: cfg.MaxUploadBytes, ContentURL: cfg.ContentURL, APITokens: cfg.APITokens,
			AllowedOrigins: cfg.AllowedOrigins, UploadStallTimeout: cfg.UploadStallTimeout, UploadExpiry: cfg.UploadExpiry,
			FailedSourceRetention: cfg.FailedSourceRetention,
			Webhook:               gateway.WebhookConfig{URL: cfg.WebhookURL, Secret: cfg.WebhookSecret, Backoff: cfg.WebhookBackoff},
		}, gateway.Deps{
			Bus: bus, Records: bus.Videos, Queue: bus, Store: st, Log: log, Signer: signer, Resumable: resumable, UploadedBytes: m.AddUploaded,
			Observe: m.ObserveJob, Done: gctx.Done(),
		})
		mux.Handle("/", gw.Handler())
		g.Go(func() error { return gw.Run(gctx) })
	}
	var handler http.Handler = mux
	if streams != nil {
		handler = streamsFirst(streams, mux)
	}
	if hosts := allowedHosts(target, cfg); hosts != nil {
		handler = hosts.guard(mux, log)
	}
	g.Go(func() error { return serveHTTP(gctx, listen, m.Instrument(string(target), handler), cfg, log) })
	return g.Wait()
}

// openResumable is where the gateway keeps unfinished tus uploads: beside
// an S3 store, in the same bucket under tus/ (every gateway sees every
// upload); beside a file store, in DATA-DIR/tus.
func openResumable(storeURL, dataDir string, st store.Store) (*gateway.Resumable, error) {
	if strings.HasPrefix(storeURL, "s3://") {
		u, err := url.Parse(storeURL)
		if err != nil {
			return nil, fmt.Errorf("store: parse %q: %w", storeURL, err)
		}
		cfg, err := store.ParseS3URL(u)
		if err != nil {
			return nil, err
		}
		ts, err := tusstore.S3(cfg, filepath.Join(dataDir, "tus-parts"), st)
		if err != nil {
			return nil, err
		}
		return gateway.NewResumable(ts), nil
	}
	ts, err := tusstore.Files(filepath.Join(dataDir, "tus"))
	if err != nil {
		return nil, err
	}
	return gateway.NewResumable(ts), nil
}

// CheckAPIAuth refuses to serve the gateway's API without tokens on an
// address other machines can reach: a non-loopback address, or every
// interface (":4444", "0.0.0.0:4444", "[::]:4444"). insecureOpen lifts the
// rule for deployments behind an authenticating proxy. Targets without the
// gateway serve no API and always pass.
func CheckAPIAuth(target Target, listen string, tokens []string, insecureOpen bool) error {
	if !target.runs(Gateway) || len(tokens) > 0 || insecureOpen || IsLoopback(listen) {
		return nil
	}
	return fmt.Errorf("refusing to listen on %s without API tokens: set HLSD_API_TOKENS or --api-tokens-file, or listen on 127.0.0.1 for development", listen)
}

// hostSet is the Host names a server answers for.
type hostSet struct {
	names    map[string]bool
	suffixes []string // ".example.com"
	loopback bool     // loopback names and addresses too
}

// allowedHosts is the set a target's server checks, nil for none: the
// configured names, or loopback names only for a gateway in open mode.
func allowedHosts(target Target, cfg Config) *hostSet {
	open := target.runs(Gateway) && len(cfg.APITokens) == 0 && !cfg.InsecureOpenAPI
	if len(cfg.AllowedHosts) == 0 && !open {
		return nil
	}
	h := &hostSet{names: map[string]bool{}, loopback: len(cfg.AllowedHosts) == 0}
	for _, n := range cfg.AllowedHosts {
		n = strings.ToLower(strings.TrimSpace(n))
		if strings.HasPrefix(n, ".") {
			h.suffixes = append(h.suffixes, n)
		} else if n != "" {
			h.names[n] = true
		}
	}
	return h
}

// allows tells whether a request's Host (port ignored) is in the set.
func (h *hostSet) allows(host string) bool {
	name := strings.ToLower(host)
	if n, _, err := net.SplitHostPort(name); err == nil {
		name = n
	}
	name = strings.TrimSuffix(strings.Trim(name, "[]"), ".")
	if h.loopback && (name == "localhost" || strings.HasSuffix(name, ".localhost") || isLoopbackIP(name)) {
		return true
	}
	if h.names[name] {
		return true
	}
	for _, s := range h.suffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

func isLoopbackIP(s string) bool {
	ip := net.ParseIP(s)
	return ip != nil && ip.IsLoopback()
}

// guard answers 421 to requests for other names. Health checks and
// metrics pass: a kubelet and Prometheus name the pod by its address
// (/metrics has its own token, --metrics-token).
func (h *hostSet) guard(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.allows(r.Host) || r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics" {
			next.ServeHTTP(w, r)
			return
		}
		log.Warn("request for another host name refused", "host", r.Host, "remote", r.RemoteAddr, "path", r.URL.Path)
		msg := "This server does not answer for that host name: add it to --allowed-hosts."
		if h.loopback {
			msg = "Without API tokens this server answers only for localhost and loopback addresses: set --allowed-hosts (and API tokens) to serve other names."
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusMisdirectedRequest)
		fmt.Fprintln(w, msg)
	})
}

// IsLoopback tells whether a listen address accepts connections from this
// machine only: a host in 127.0.0.0/8, ::1 or "localhost". An empty host
// (":4444") means every interface, and a host name other than localhost may
// resolve anywhere, so both count as reachable from outside.
func IsLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// The HTTP servers' timeouts. Handlers that run longer on purpose set
// their own deadlines: uploads move theirs while bytes keep coming (see
// gateway.Deps.UploadStallTimeout) and lift both once the body is in,
// event streams lift the read deadline and bound each write.
const (
	readHeaderTimeout = 10 * time.Second // a request's line and headers
	readTimeout       = time.Minute      // a request's body
	writeTimeout      = 2 * time.Minute  // an answer: a 6 s segment at 1 Mbit/s takes under a minute
	idleTimeout       = time.Minute      // a keep-alive connection between requests
)

// withReadDeadline gives every request a read deadline as it starts. Not
// http.Server.ReadTimeout: that one also runs while a handler waits after
// reading the body, and ends the request's context when it passes (net/http
// watches the idle connection for a hang-up), which cut off uploads
// waiting for their video and event streams after a minute.
func withReadDeadline(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A request without a body has nothing left to read: net/http
		// already bounded its headers. Skipping the deadline spares the
		// player's requests a timer update each.
		if r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(readTimeout))
		}
		h.ServeHTTP(w, r)
	})
}

func serveHTTP(ctx context.Context, addr string, h http.Handler, cfg Config, log *slog.Logger) error {
	lim := connlimit.New(maxConnections(cfg))
	srv := &http.Server{
		Handler: withReadDeadline(h), ReadHeaderTimeout: readHeaderTimeout, WriteTimeout: writeTimeout, IdleTimeout: idleTimeout,
		ConnState: func(c net.Conn, s http.ConnState) { lim.SetIdle(c, s == http.StateIdle) },
	}
	return listenAndServe(ctx, addr, lim, cfg, log, "net/http", srv.Serve, func(sctx context.Context) {
		if err := srv.Shutdown(sctx); err != nil {
			srv.Close()
		}
	})
}

func maxConnections(cfg Config) int {
	if cfg.MaxConnections > 0 {
		return cfg.MaxConnections
	}
	return connlimit.Default()
}

// listenAndServe listens on addr, tells cfg.Ready, and runs serve until it
// fails or ctx ends; then shutdown has cfg.ShutdownGrace to finish.
func listenAndServe(ctx context.Context, addr string, lim *connlimit.Limiter, cfg Config, log *slog.Logger, engine string,
	serve func(net.Listener) error, shutdown func(context.Context)) error {
	raw, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	ln := lim.Listener(raw)
	log.Info("serving HTTP", "addr", ln.Addr().String(), "engine", engine, "max_connections", lim.Max())
	if cfg.Ready != nil {
		cfg.Ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	shutdown(sctx)
	return nil
}

func connectNATS(cfg Config, target Target, log *slog.Logger) (*nats.Conn, func(), error) {
	if cfg.NATSURL == "" {
		if target != All {
			return nil, nil, fmt.Errorf("hlsd %s needs --nats-url (or HLSD_NATS_URL); only `hlsd all` embeds a NATS server", target)
		}
		if cfg.NATSListen != "" && !IsLoopback(cfg.NATSListen) && cfg.NATSToken == "" {
			return nil, nil, fmt.Errorf("refusing to open the embedded NATS on %s without a token: anyone reaching it could read and forge jobs; set HLSD_NATS_TOKEN, or listen on 127.0.0.1", cfg.NATSListen)
		}
		ns, err := natsembed.Start(natsembed.Options{StoreDir: filepath.Join(cfg.DataDir, "nats"), Listen: cfg.NATSListen, Token: cfg.NATSToken})
		if err != nil {
			return nil, nil, err
		}
		nc, err := ns.Connect("hlsd-" + string(target))
		if err != nil {
			ns.Shutdown()
			return nil, nil, err
		}
		log.Info("embedded NATS JetStream started", "store", filepath.Join(cfg.DataDir, "nats"), "listen", cfg.NATSListen)
		return nc, func() { nc.Close(); ns.Shutdown() }, nil
	}
	auth := nats.Token(cfg.NATSToken) // a token in the URL works too
	if cfg.NATSToken == "" {
		auth = func(*nats.Options) error { return nil }
	}
	nc, err := nats.Connect(cfg.NATSURL,
		nats.Name("hlsd-"+string(target)), auth,
		nats.RetryOnFailedConnect(true), // the broker may start after us
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil on our own close
				log.Warn("NATS disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("NATS reconnected", "url", nc.ConnectedUrlRedacted()) }),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("nats %s: %w", cfg.NATSURL, err)
	}
	return nc, func() { _ = nc.Drain() }, nil
}

// setupBus creates streams, consumers and the bucket, retrying while the
// broker is unreachable (services may start before it).
func setupBus(ctx context.Context, js jetstream.JetStream, cfg queue.Config, log *slog.Logger) (*queue.Bus, error) {
	for {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		bus, err := queue.Setup(sctx, js, cfg)
		cancel()
		if err == nil {
			return bus, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		log.Warn("JetStream setup failed, retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// ready checks the process's two dependencies; on failure it returns the
// class of reason that may be shown to anyone ("NATS unreachable") and
// the error with its details, for the log.
func ready(ctx context.Context, nc *nats.Conn, st store.Store) (string, error) {
	if !nc.IsConnected() {
		return "NATS unreachable", errors.New("NATS is not connected")
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := st.Stat(ctx, "readyz/probe"); err != nil && !errors.Is(err, store.ErrNotFound) {
		return "object store unreachable", fmt.Errorf("object store: %w", err)
	}
	return "", nil
}

// metricsGuard puts /metrics behind a bearer token when one is set: the
// queue depths and request rates tell an outsider how busy, and how big,
// the service is.
func metricsGuard(token string, h http.Handler) http.Handler {
	if token == "" {
		return h
	}
	want := sha256.Sum256([]byte("Bearer " + token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := sha256.Sum256([]byte(r.Header.Get("Authorization")))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hlsd metrics"`)
			http.Error(w, "This endpoint needs the metrics token, sent as \"Authorization: Bearer TOKEN\".", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// tuneGC sets the collector's target to 400% unless GOGC is set. hlsd's
// live heap is a few MiB, so at the default 100% the collector ran every
// few thousand player requests: 400% (a heap of about 20 MiB) served 15%
// more playlists per CPU-second (BENCHMARKS.md, "Content service"). A
// content service with a segment cache (an S3 store) keeps the default:
// its live heap is the cache, and 5x that would be too much memory.
func tuneGC(target Target, cfg Config, st store.Store) {
	if os.Getenv("GOGC") != "" {
		return
	}
	if _, local := st.(store.LocalPather); target.runs(Content) && !local && cfg.SegmentCacheBytes > 0 {
		return
	}
	debug.SetGCPercent(400)
}

// streamsFirst sends requests under /streams/ straight to the content
// service, others to mux. Player requests are nearly all a server gets, and
// ServeMux's routing and path cleaning cost them a few percent
// (BENCHMARKS.md); the content service accepts only the exact paths it
// publishes (content.ObjectKey), so an unclean path gets its 404 instead of
// ServeMux's redirect.
func streamsFirst(streams, mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, content.Prefix) {
			streams.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}
