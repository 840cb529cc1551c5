package testenv

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// AssertPrivate checks that everything under a data directory is its
// owner's only: directories 0700, files 0600, anything else (the database
// socket) without group or other permissions. It needs the event store's,
// JetStream's and FerretDB's files there, so an empty directory fails.
func AssertPrivate(t testing.TB, dir string) {
	t.Helper()
	seen := map[string]bool{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path != dir {
				return nil // a temporary file, gone meanwhile
			}
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		perm := info.Mode().Perm()
		switch {
		case d.IsDir() && perm != 0o700:
			t.Errorf("directory %s is %04o, want 0700", rel, perm)
		case info.Mode().IsRegular() && perm != 0o600:
			t.Errorf("file %s is %04o, want 0600", rel, perm)
		case perm&0o077 != 0:
			t.Errorf("%s (%s) is open to others: %04o", rel, info.Mode().Type(), perm)
		}
		if info.Mode().IsRegular() {
			seen[strings.SplitN(filepath.ToSlash(rel), "/", 2)[0]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"eventstore", "nats", "ferretdb"} {
		if !seen[sub] {
			t.Errorf("no file under %s/ to check", sub)
		}
	}
}
