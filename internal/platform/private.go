package platform

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// makePrivate makes everything under the data directory its owner's
// only: every directory 0700, every file without group or other
// permissions (0600). The embedded servers' files hold the log, the read
// models (with e-mail addresses in clear) and their credentials. New files
// get these modes from the process's umask (restrictUmask); the walk
// tightens what an older version left (0755 directories, 0644 files).
// Symbolic links are left alone: the socket's link to a temporary
// directory is not its target.
func makePrivate(dataDir string) error {
	restrictUmask()
	return filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path != dataDir {
				return nil // gone meanwhile
			}
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		perm := info.Mode().Perm()
		want := perm &^ 0o077
		if d.IsDir() {
			want = 0o700
		}
		if perm == want {
			return nil
		}
		return os.Chmod(path, want)
	})
}
