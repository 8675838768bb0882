// Package deploy holds hlsd's deployment files: the container image
// (Dockerfile), the compose file's tests (docker-compose.yml lives at the
// repository root), Kubernetes manifests (kubernetes/) and the Grafana
// dashboard (grafana/).
//
// It is a module of its own so that the dependencies its tests need (the
// compose-spec loader, Kubernetes API types, BuildKit's Dockerfile parser)
// stay out of hlsd's go.mod. The tests check the files against the real
// binary: every HLSD_* variable they set must be one of hlsd's flags, every
// value must pass hlsd's own flag parsing, and ports, probes and grace
// periods must match hlsd's defaults.
package deploy
