package deploy

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	composecli "github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/hlsd/hlsd/cmd/hlsd/app"
)

// loadCompose loads docker-compose.yml with the compose-spec loader (schema
// validation, interpolation, merge keys, consistency checks), with env as
// the only variables for interpolation.
func loadCompose(t *testing.T, env ...string) *types.Project {
	t.Helper()
	root := repoRoot(t)
	opts, err := composecli.NewProjectOptions(
		[]string{filepath.Join(root, "docker-compose.yml")},
		composecli.WithWorkingDirectory(root),
		composecli.WithEnv(env),
	)
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return p
}

func composeEnv(t *testing.T, s types.ServiceConfig) map[string]string {
	t.Helper()
	env := map[string]string{}
	for k, v := range s.Environment {
		if v == nil {
			t.Errorf("service %s: environment %s has no value", s.Name, k)
			continue
		}
		env[k] = *v
	}
	return env
}

// healthURL returns the URL a CMD health check fetches.
func healthURL(t *testing.T, s types.ServiceConfig) *url.URL {
	t.Helper()
	if s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) < 2 || s.HealthCheck.Test[0] != "CMD" {
		t.Errorf("service %s: want a health check of the form [CMD, tool, ..., URL]", s.Name)
		return nil
	}
	for _, a := range s.HealthCheck.Test[1:] {
		if strings.HasPrefix(a, "http://") {
			u, err := url.Parse(a)
			if err != nil {
				t.Errorf("service %s: health check URL: %v", s.Name, err)
				return nil
			}
			return u
		}
	}
	t.Errorf("service %s: health check %v fetches no http:// URL", s.Name, s.HealthCheck.Test)
	return nil
}

func TestComposeServices(t *testing.T) {
	p := loadCompose(t)
	for _, name := range []string{"nats", "minio", "minio-init", "gateway", "content", "encoder", "segmenter"} {
		if _, ok := p.Services[name]; !ok {
			t.Errorf("docker-compose.yml has no service %s", name)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	nats := p.Services["nats"]
	if !strings.HasPrefix(nats.Image, "nats:2.12") || !strings.Contains(nats.Image, "alpine") {
		t.Errorf("nats image is %q, want nats:2.12-alpine (its health check needs wget, which the scratch image lacks)", nats.Image)
	}
	if !slices.Contains(nats.Command, "-js") {
		t.Errorf("nats command %v does not enable JetStream (-js)", nats.Command)
	}
	if u := healthURL(t, nats); u != nil {
		i := slices.Index(nats.Command, "-m")
		if i < 0 || i+1 >= len(nats.Command) || nats.Command[i+1] != u.Port() {
			t.Errorf("nats health check uses port %s; the command %v must serve monitoring there with -m", u.Port(), nats.Command)
		}
		if u.Path != "/healthz" || u.Query().Get("js-enabled-only") != "true" {
			t.Errorf("nats health check fetches %s, want /healthz?js-enabled-only=true", u)
		}
		if nats.HealthCheck.Test[1] != "wget" {
			t.Errorf("nats health check runs %q; the alpine image has wget", nats.HealthCheck.Test[1])
		}
	}
	if !hasVolumeAt(nats, "/data") || !slices.Contains(nats.Command, "/data") {
		t.Errorf("nats must keep its JetStream store (-sd /data) on a volume at /data")
	}

	minio := p.Services["minio"]
	// Docker Hub's minio/minio or MinIO's own quay.io/minio/minio.
	if !strings.HasPrefix(strings.TrimPrefix(minio.Image, "quay.io/"), "minio/minio:RELEASE.") {
		t.Errorf("minio image %q is not pinned to a RELEASE tag", minio.Image)
	}
	if hc := strings.Join(minio.HealthCheck.Test, " "); minio.HealthCheck == nil || !(strings.Contains(hc, "mc ready") || strings.Contains(hc, "/minio/health/ready")) {
		t.Errorf("minio health check %q: want `mc ready local` or /minio/health/ready", hc)
	}
	if !hasVolumeAt(minio, "/data") {
		t.Errorf("minio keeps no volume at /data")
	}
	minioInit := p.Services["minio-init"]
	if !strings.HasPrefix(strings.TrimPrefix(minioInit.Image, "quay.io/"), "minio/mc:RELEASE.") {
		t.Errorf("minio-init image %q is not minio/mc pinned to a RELEASE tag", minioInit.Image)
	}
	checkDependsOn(t, minioInit, map[string]string{"minio": types.ServiceConditionHealthy})
}

func hasVolumeAt(s types.ServiceConfig, target string) bool {
	for _, v := range s.Volumes {
		if v.Target == target && v.Type == types.VolumeTypeVolume {
			return true
		}
	}
	return false
}

func checkDependsOn(t *testing.T, s types.ServiceConfig, want map[string]string) {
	t.Helper()
	for dep, cond := range want {
		got, ok := s.DependsOn[dep]
		if !ok {
			t.Errorf("service %s does not depend on %s", s.Name, dep)
		} else if got.Condition != cond {
			t.Errorf("service %s depends on %s with condition %q, want %q", s.Name, dep, got.Condition, cond)
		}
	}
}

func TestComposeHLSDServices(t *testing.T) {
	root := repoRoot(t)
	p := loadCompose(t)
	img := loadImage(t)
	known := hlsdEnv(t)
	bucketCmd := strings.Join(p.Services["minio-init"].Command, " ")

	var imageName string
	for _, target := range workerTargets {
		name := string(target)
		s, ok := p.Services[name]
		if !ok {
			t.Errorf("docker-compose.yml has no service %s", name)
			continue
		}
		if !slices.Equal(s.Command, []string{name}) {
			t.Errorf("service %s runs command %v, want [%s] (the hlsd target of the same name)", name, s.Command, name)
		}
		if s.Image != "hlsd:local" {
			t.Errorf("service %s uses image %q, want hlsd:local", name, s.Image)
		}
		if imageName == "" {
			imageName = s.Image
		}
		if s.Build == nil || s.Build.Context != root || s.Build.Dockerfile != "deploy/Dockerfile" {
			t.Errorf("service %s: build is %+v, want context . and dockerfile deploy/Dockerfile", name, s.Build)
		} else if _, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
			t.Errorf("service %s: %v", name, err)
		}
		if s.ContainerName != "" {
			t.Errorf("service %s has container_name %q: it could not be scaled", name, s.ContainerName)
		}
		checkDependsOn(t, s, map[string]string{
			"nats":       types.ServiceConditionHealthy,
			"minio":      types.ServiceConditionHealthy,
			"minio-init": types.ServiceConditionCompletedSuccessfully,
		})

		env := composeEnv(t, s)
		var names []string
		for k := range env {
			names = append(names, k)
		}
		checkEnvNames(t, "service "+name, names, known)
		cfg := parseConfig(t, "service "+name, target, withImageEnv(img, env))
		listen := port(t, cfg.Listen)
		if want := port(t, app.DefaultListen[target]); listen != want {
			t.Errorf("service %s listens on %d, want hlsd's default %d", name, listen, want)
		}

		// Connections: NATS, the S3 store and its bucket.
		if u, err := url.Parse(cfg.NATSURL); err != nil || u.Scheme != "nats" || u.Port() != "4222" || p.Services[u.Hostname()].Name == "" {
			t.Errorf("service %s: HLSD_NATS_URL %q does not point at a compose service on 4222", name, cfg.NATSURL)
		}
		if u, err := url.Parse(cfg.StoreURL); err != nil || u.Scheme != "s3" || p.Services[u.Hostname()].Name == "" {
			t.Errorf("service %s: HLSD_STORE %q is not an s3:// URL of a compose service", name, cfg.StoreURL)
		} else if bucket := strings.Trim(u.Path, "/"); !strings.HasSuffix(bucketCmd, "/"+bucket) {
			t.Errorf("service %s uses bucket %q; minio-init creates it with %q", name, bucket, bucketCmd)
		}
		for _, k := range storeEnv {
			if env[k] == "" {
				t.Errorf("service %s does not set %s", name, k)
			}
		}

		// Health check: /readyz (or /healthz) on the service's own port, with
		// a tool the image has.
		if u := healthURL(t, s); u != nil {
			if u.Path != "/readyz" && u.Path != "/healthz" {
				t.Errorf("service %s health check fetches %s, want /readyz or /healthz", name, u.Path)
			}
			if u.Port() != strconv.Itoa(listen) {
				t.Errorf("service %s health check uses port %s, the service listens on %d", name, u.Port(), listen)
			}
			if tool := s.HealthCheck.Test[1]; !slices.Contains(img.apt, tool) {
				t.Errorf("service %s health check runs %s, which deploy/Dockerfile does not install", name, tool)
			}
		}

		// Ports: the HTTP services publish their default port; workers
		// publish nothing, so `--scale encoder=N` works.
		switch target {
		case app.Gateway, app.Content:
			if len(s.Ports) != 1 || s.Ports[0].Target != uint32(listen) || s.Ports[0].Published != strconv.Itoa(listen) {
				t.Errorf("service %s publishes %+v, want %d:%d", name, s.Ports, listen, listen)
			}
		default:
			if len(s.Ports) != 0 {
				t.Errorf("service %s publishes ports %+v: it could not be scaled", name, s.Ports)
			}
		}

		// Shutdown: docker stop must wait longer than hlsd's drain.
		stop := 10 * time.Second // Docker's default
		if s.StopGracePeriod != nil {
			stop = time.Duration(*s.StopGracePeriod)
		}
		if stop <= cfg.ShutdownGrace {
			t.Errorf("service %s: stop_grace_period is %v, want more than hlsd's shutdown grace %v", name, stop, cfg.ShutdownGrace)
		}

		if target == app.Gateway {
			u, err := url.Parse(cfg.ContentURL)
			if err != nil || u.Hostname() != "localhost" || u.Port() != strconv.Itoa(port(t, app.DefaultListen[app.Content])) {
				t.Errorf("gateway's HLSD_CONTENT_URL is %q, want the content service as the host sees it (http://localhost:%d)",
					cfg.ContentURL, port(t, app.DefaultListen[app.Content]))
			}
		}
	}
}

// The MinIO credentials are set once: hlsd, MinIO and minio-init follow
// MINIO_ROOT_USER / MINIO_ROOT_PASSWORD.
func TestComposeCredentialsFollowMinIO(t *testing.T) {
	for _, env := range [][]string{nil, {"MINIO_ROOT_USER=someone", "MINIO_ROOT_PASSWORD=a-long-secret"}} {
		p := loadCompose(t, env...)
		minio := composeEnv(t, p.Services["minio"])
		minioInitEnv := composeEnv(t, p.Services["minio-init"])
		for _, pair := range [][2]string{{"MINIO_ROOT_USER", "HLSD_S3_ACCESS_KEY"}, {"MINIO_ROOT_PASSWORD", "HLSD_S3_SECRET_KEY"}} {
			want := minio[pair[0]]
			if want == "" || minioInitEnv[pair[0]] != want {
				t.Errorf("env %v: minio's %s is %q, minio-init's %q", env, pair[0], want, minioInitEnv[pair[0]])
			}
			for _, target := range workerTargets {
				if got := composeEnv(t, p.Services[string(target)])[pair[1]]; got != want {
					t.Errorf("env %v: service %s has %s=%q, want minio's %s %q", env, target, pair[1], got, pair[0], want)
				}
			}
		}
	}
}
