package deploy

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/hlsd/hlsd/cmd/hlsd/app"
	"github.com/hlsd/hlsd/cmd/hlsd/cli"
)

// repoRoot is the hlsd repository, the parent of this module.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "hlsd")); err != nil {
		t.Fatalf("%s is not the hlsd repository: %v", root, err)
	}
	return root
}

// storeEnv are read by pkg/store, not by a flag: the S3 keys, kept out of
// HLSD_STORE so they do not show in process listings.
var storeEnv = []string{"HLSD_S3_ACCESS_KEY", "HLSD_S3_SECRET_KEY"}

var usageLine = regexp.MustCompile(`(?m)^  --([a-z0-9-]+) \((HLSD_[A-Z0-9_]+), default ("(?:[^"\\]|\\.)*")\)$`)

// hlsdEnv returns every environment variable hlsd reads, with its default,
// taken from the real binary's usage text (`hlsd all -h`).
func hlsdEnv(t *testing.T) map[string]string {
	t.Helper()
	var buf bytes.Buffer
	_, _, err := cli.Parse(app.All, []string{"-h"}, func(string) (string, bool) { return "", false }, &buf)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("hlsd all -h: got error %v, want flag.ErrHelp", err)
	}
	env := map[string]string{}
	for _, m := range usageLine.FindAllStringSubmatch(buf.String(), -1) {
		if want := cli.EnvName(m[1]); m[2] != want {
			t.Fatalf("usage shows --%s with %s, cli.EnvName says %s", m[1], m[2], want)
		}
		def, err := strconv.Unquote(m[3])
		if err != nil {
			t.Fatalf("usage line for --%s: default %s: %v", m[1], m[3], err)
		}
		env[m[2]] = def
	}
	for _, must := range []string{"HLSD_LISTEN", "HLSD_NATS_URL", "HLSD_STORE", "HLSD_PROFILES", "HLSD_DATA_DIR", "HLSD_SHUTDOWN_GRACE"} {
		if _, ok := env[must]; !ok {
			t.Fatalf("could not find %s in hlsd's usage text (has its format changed?):\n%s", must, buf.String())
		}
	}
	for _, k := range storeEnv {
		env[k] = ""
	}
	return env
}

// checkEnvNames reports every HLSD_* name that is not one hlsd reads.
func checkEnvNames(t *testing.T, where string, names []string, known map[string]string) {
	t.Helper()
	for _, n := range names {
		if !strings.HasPrefix(n, "HLSD_") {
			continue
		}
		if _, ok := known[n]; !ok {
			t.Errorf("%s sets %s, which is no hlsd flag's environment variable (nor one of %v)", where, n, storeEnv)
		}
	}
}

// parseConfig runs hlsd's own flag parsing for target with env as the
// whole environment, as the process would see it.
func parseConfig(t *testing.T, where string, target app.Target, env map[string]string) app.Config {
	t.Helper()
	cfg, _, err := cli.Parse(target, nil, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, io.Discard)
	if err != nil {
		t.Errorf("%s: hlsd %s rejects its environment: %v", where, target, err)
	}
	return cfg
}

// port returns the port of a listen address like ":4444".
func port(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("listen address %q: %v", addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("listen address %q: %v", addr, err)
	}
	return n
}

// workerTargets are the targets run as their own services.
var workerTargets = []app.Target{app.Gateway, app.Content, app.Encoder, app.Segmenter}

// image is what the tests need to know of deploy/Dockerfile.
type image struct {
	env        map[string]string // ENV of the final stage
	apt        []string          // words of the final stage's apt-get install
	copies     map[string]string // final stage: destination -> source, from the context
	entrypoint []string
	cmd        []string
	user       string
	volumes    []string
	expose     []string
	baseImages []string
}

// loadImage parses deploy/Dockerfile with BuildKit's parser, failing on its
// lint warnings too.
func loadImage(t *testing.T) image {
	t.Helper()
	f, err := os.Open("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	for _, w := range res.Warnings {
		t.Errorf("Dockerfile:%d: %s", w.Location.Start.Line, w.Short)
	}
	lint := linter.New(&linter.Config{Warn: func(rule, desc, url, msg string, loc []parser.Range) {
		line := 0
		if len(loc) > 0 {
			line = loc[0].Start.Line
		}
		t.Errorf("Dockerfile:%d: %s: %s", line, rule, msg)
	}})
	stages, _, err := instructions.Parse(res.AST, lint)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and a runtime stage", len(stages))
	}
	img := image{env: map[string]string{}, copies: map[string]string{}}
	for _, s := range stages {
		img.baseImages = append(img.baseImages, s.BaseName)
	}
	for _, c := range stages[len(stages)-1].Commands {
		switch c := c.(type) {
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				img.env[kv.Key] = kv.Value
			}
		case *instructions.RunCommand:
			words := strings.Fields(strings.Join(c.CmdLine, " "))
			for i, w := range words {
				if w == "install" && i > 0 && strings.HasSuffix(words[i-1], "apt-get") {
					img.apt = append(img.apt, words[i+1:]...)
				}
			}
		case *instructions.CopyCommand:
			if c.From == "" {
				for _, src := range c.SourcePaths {
					img.copies[c.DestPath] = src
				}
			}
		case *instructions.EntrypointCommand:
			img.entrypoint = c.CmdLine
		case *instructions.CmdCommand:
			img.cmd = c.CmdLine
		case *instructions.UserCommand:
			img.user = c.User
		case *instructions.VolumeCommand:
			img.volumes = append(img.volumes, c.Volumes...)
		case *instructions.ExposeCommand:
			img.expose = append(img.expose, c.Ports...)
		}
	}
	return img
}

// withImageEnv is env on top of the image's ENV, as a container sees it.
func withImageEnv(img image, env map[string]string) map[string]string {
	out := maps.Clone(img.env)
	maps.Copy(out, env)
	return out
}
