package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// FileStore keeps objects as files under a root directory. Put writes to a
// temporary file, syncs it and renames it into place, so readers never see a
// partial object and a crash never leaves one behind.
type FileStore struct {
	root string
}

// NewFileStore creates root if needed.
func NewFileStore(root string) (*FileStore, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("store: create %s: %w", abs, err)
	}
	return &FileStore{root: abs}, nil
}

func (s *FileStore) path(key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	return filepath.Join(s.root, filepath.FromSlash(key)), nil
}

// Path returns the local file behind key, so that a caller on the same
// machine (ffmpeg reading a source) can skip a copy. Optional ability: check
// for it with a type assertion on LocalPather.
func (s *FileStore) Path(key string) (string, error) { return s.path(key) }

// LocalPather is implemented by stores whose objects are local files.
type LocalPather interface {
	Path(key string) (string, error)
}

func (s *FileStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	var tmp *os.File
	for attempt := 0; ; attempt++ {
		err = os.MkdirAll(filepath.Dir(p), 0o755)
		if err == nil {
			tmp, err = os.CreateTemp(filepath.Dir(p), ".tmp-*")
		}
		// A Delete elsewhere may have pruned a directory on the way, empty,
		// while MkdirAll walked down or before the file was made: make it
		// again. (Once the temporary file is in, its directory is not
		// empty, and no prune removes it.)
		if err == nil || !errors.Is(err, fs.ErrNotExist) || attempt == 9 {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("store: put %s: %w", key, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	n, err := io.Copy(tmp, ctxReader{ctx, r})
	if err == nil && size >= 0 && n != size {
		err = fmt.Errorf("wrote %d bytes, expected %d", n, size)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		return fmt.Errorf("store: put %s: %w", key, err)
	}
	return nil
}

func (s *FileStore) Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, wrapFSErr("get", key, err)
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("store: get %s: %w", key, ErrNotFound)
	}
	if off > 0 {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("store: get %s: %w", key, err)
		}
	}
	if length < 0 {
		return f, nil
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(f, length), f}, nil
}

func (s *FileStore) Stat(ctx context.Context, key string) (Info, error) {
	p, err := s.path(key)
	if err != nil {
		return Info{}, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return Info{}, wrapFSErr("stat", key, err)
	}
	if st.IsDir() {
		return Info{}, fmt.Errorf("store: stat %s: %w", key, ErrNotFound)
	}
	return fileInfo(key, st), nil
}

func fileInfo(key string, st fs.FileInfo) Info {
	// Size and mtime change whenever the bytes do (Put always renames a new file in).
	h := sha256.Sum256([]byte(key + "\x00" + strconv.FormatInt(st.Size(), 10) + "\x00" + strconv.FormatInt(st.ModTime().UnixNano(), 10)))
	return Info{Key: key, Size: st.Size(), ModTime: st.ModTime(), ETag: `"` + hex.EncodeToString(h[:8]) + `"`}
}

func (s *FileStore) List(ctx context.Context, prefix string, fn func(Info) error) error {
	// Walk only the directory that can contain the prefix.
	dir := s.root
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		dir = filepath.Join(s.root, filepath.FromSlash(prefix[:i]))
	}
	var infos []Info
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".tmp-") {
			return nil
		}
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		st, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		infos = append(infos, fileInfo(key, st))
		return ctx.Err()
	})
	if err != nil {
		return fmt.Errorf("store: list %s: %w", prefix, err)
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Key < infos[j].Key })
	for _, i := range infos {
		if err := fn(i); err != nil {
			return err
		}
	}
	return nil
}

func (s *FileStore) Delete(ctx context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store: delete %s: %w", key, err)
	}
	// Directories left empty go too (a deleted video leaves none behind);
	// the first that is not empty stops it.
	for dir := filepath.Dir(p); dir != s.root && strings.HasPrefix(dir, s.root+string(filepath.Separator)); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break
		}
	}
	return nil
}

func wrapFSErr(op, key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store: %s %s: %w", op, key, ErrNotFound)
	}
	return fmt.Errorf("store: %s %s: %w", op, key, err)
}

// ctxReader stops a long copy when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
