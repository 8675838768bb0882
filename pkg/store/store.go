// Package store is hlsd's object store: the one place where uploads, intermediate
// transport streams and published HLS live. Keys are the same on every backend
// (see docs/architecture.md, "Object layout"), so a deployment can move from the local
// disk to MinIO without touching anything else.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
)

// ErrNotFound is returned (wrapped) when a key does not exist.
var ErrNotFound = errors.New("object not found")

// ErrInvalidKey is returned (wrapped) for keys that could escape the store's namespace.
var ErrInvalidKey = errors.New("invalid object key")

// Info describes a stored object.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time
	// ETag identifies this version of the object's bytes (quoted, as HTTP wants it).
	ETag string
}

// Store is what every hlsd service needs from object storage. Implementations
// must make Put atomic: a reader sees either no object or all of it, never a
// partial one — the pipeline relies on this to never publish half a playlist.
type Store interface {
	// Put stores r under key. size is the exact length, or -1 when unknown.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Get opens the object for reading from offset off; length -1 reads to the end.
	Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error)
	Stat(ctx context.Context, key string) (Info, error)
	// List calls fn for every object whose key starts with prefix, in key order.
	List(ctx context.Context, prefix string, fn func(Info) error) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// ValidateKey rejects keys that are empty, absolute, contain "." or ".."
// segments, backslashes, control characters or anything outside a small
// alphabet. Keys are always built by hlsd, never taken from users; this check
// is the backstop that keeps a bug from reaching outside the store.
func ValidateKey(key string) error {
	if key == "" || len(key) > 512 || strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") {
		return fmt.Errorf("%w: %q", ErrInvalidKey, key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w: %q", ErrInvalidKey, key)
		}
	}
	for _, c := range key {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '/', c == '_', c == '-', c == '.':
		default:
			return fmt.Errorf("%w: %q", ErrInvalidKey, key)
		}
	}
	return nil
}

// DeletePrefix removes every object under prefix.
func DeletePrefix(ctx context.Context, s Store, prefix string) error {
	var keys []string
	if err := s.List(ctx, prefix, func(i Info) error { keys = append(keys, i.Key); return nil }); err != nil {
		return err
	}
	for _, k := range keys {
		if err := s.Delete(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// DeletePrefixes deletes every object under each prefix, going on past a
// failure; it returns the first.
func DeletePrefixes(ctx context.Context, s Store, prefixes ...string) error {
	var first error
	for _, p := range prefixes {
		if err := DeletePrefix(ctx, s, p); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Open builds a store from a URL:
//
//	file:///var/lib/hlsd/store  or a plain path   → the local disk
//	s3://ACCESS:SECRET@host:9000/bucket?secure=false → S3/MinIO
func Open(ctx context.Context, rawURL string) (Store, error) {
	if !strings.Contains(rawURL, "://") {
		return NewFileStore(rawURL)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("store: parse %q: %w", rawURL, err)
	}
	switch u.Scheme {
	case "file":
		return NewFileStore(u.Host + u.Path)
	case "s3":
		cfg, err := ParseS3URL(u)
		if err != nil {
			return nil, err
		}
		return NewS3Store(ctx, cfg)
	default:
		return nil, fmt.Errorf("store: unknown scheme %q in %q (want file:// or s3://)", u.Scheme, rawURL)
	}
}
