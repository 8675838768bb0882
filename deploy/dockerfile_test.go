package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hlsd/hlsd/cmd/hlsd/app"
)

func TestDockerfile(t *testing.T) {
	img := loadImage(t)
	known := hlsdEnv(t)

	if want := []string{"golang:1.26-bookworm", "debian:bookworm-slim"}; !slices.Equal(img.baseImages, want) {
		t.Errorf("stages are built FROM %v, want %v", img.baseImages, want)
	}
	for _, pkg := range []string{"ffmpeg", "ca-certificates", "curl"} {
		if !slices.Contains(img.apt, pkg) {
			t.Errorf("the runtime stage does not apt-get install %s (installs %v)", pkg, img.apt)
		}
	}
	if !slices.Equal(img.entrypoint, []string{"hlsd"}) {
		t.Errorf("ENTRYPOINT is %v, want [hlsd]", img.entrypoint)
	}
	if len(img.cmd) != 1 || !slices.Contains(app.Targets, app.Target(img.cmd[0])) {
		t.Errorf("CMD is %v, want one hlsd target", img.cmd)
	}
	if img.user == "" || strings.HasPrefix(img.user, "0") || strings.HasPrefix(img.user, "root") {
		t.Errorf("USER is %q, want a non-root user", img.user)
	}
	uid, _, _ := strings.Cut(img.user, ":")
	if _, err := strconv.Atoi(uid); err != nil {
		t.Errorf("USER %q: use a numeric uid, so Kubernetes' runAsNonRoot can check it", img.user)
	}

	var names []string
	for k := range img.env {
		names = append(names, k)
	}
	checkEnvNames(t, "Dockerfile ENV", names, known)
	cfg := parseConfig(t, "Dockerfile ENV", app.All, img.env)
	if cfg.ProfilesPath != "/etc/hlsd/profiles.json" {
		t.Errorf("HLSD_PROFILES is %q, want /etc/hlsd/profiles.json", cfg.ProfilesPath)
	}
	if src := img.copies[cfg.ProfilesPath]; src != "profiles.json" {
		t.Errorf("the image's %s comes from %q, want the repository's profiles.json", cfg.ProfilesPath, src)
	}
	if cfg.DataDir != "/var/lib/hlsd" || !slices.Contains(img.volumes, cfg.DataDir) {
		t.Errorf("HLSD_DATA_DIR is %q and the VOLUMEs are %v; want /var/lib/hlsd, a volume", cfg.DataDir, img.volumes)
	}
	for _, target := range app.Targets {
		p := strconv.Itoa(port(t, app.DefaultListen[target]))
		if !slices.Contains(img.expose, p) {
			t.Errorf("EXPOSE %v lacks %s, the port of hlsd %s", img.expose, p, target)
		}
	}
}

func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile("Dockerfile.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, filepath.Clean(strings.TrimPrefix(l, "/")))
		}
	}
	for _, want := range []string{".git", "data", "bin", "test/browser/node_modules"} {
		if !slices.Contains(patterns, want) {
			t.Errorf("Dockerfile.dockerignore does not exclude %s (has %v)", want, patterns)
		}
	}
	// The build uses the workspace (go.work lists ./deploy) and the ladder.
	for _, must := range []string{"go.mod", "go.sum", "go.work", "go.work.sum", "deploy", "profiles.json", "cmd", "pkg", "services"} {
		if slices.Contains(patterns, must) {
			t.Errorf("Dockerfile.dockerignore excludes %s, which the build needs", must)
		}
	}
}
