package devcluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// BuildOptions say where the binaries come from and go.
type BuildOptions struct {
	// ModuleDir is the accountd module; empty: found upwards from the
	// working directory.
	ModuleDir string
	// BinDir receives the binaries; empty: a directory per module (and
	// build flags) under the user's cache directory, so the next start
	// finds them up to date and go build only checks them.
	BinDir string
	// Flags are extra go build flags, e.g. -race.
	Flags []string
}

// Build builds accountd, accountctl, eventstored and nats-server into the
// binary directory and returns it. Up-to-date binaries are left alone (go build
// compares build ids), so this takes seconds after the first time.
func Build(ctx context.Context, opts BuildOptions) (string, error) {
	mod, err := moduleDir(opts.ModuleDir)
	if err != nil {
		return "", err
	}
	bin := opts.BinDir
	if bin == "" {
		cache, err := os.UserCacheDir()
		if err != nil { // no $HOME: a directory of this user's under /tmp
			cache = filepath.Join(os.TempDir(), "cache-"+strconv.Itoa(os.Getuid()))
		}
		key := sha256.Sum256([]byte(mod + "\x00" + strings.Join(opts.Flags, "\x00")))
		bin = filepath.Join(cache, "accountd-devcluster", hex.EncodeToString(key[:6]))
	}
	if err := os.MkdirAll(filepath.Join(bin, "tmp"), 0o700); err != nil {
		return "", err
	}
	// Clusters of one module build into one directory: one build at a
	// time, and its temporary files on the same file system so that each
	// binary is renamed into place, never rewritten under a running one.
	lock, err := os.OpenFile(filepath.Join(bin, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) // closing releases it anyway
	goTool, err := exec.LookPath("go")
	if err != nil {
		if root := os.Getenv("GOROOT"); root != "" {
			goTool = filepath.Join(root, "bin", "go")
		} else {
			return "", fmt.Errorf("the go command is needed to build the cluster's binaries: %w", err)
		}
	}
	args := append([]string{"build", "-o", bin + string(filepath.Separator)}, opts.Flags...)
	// nats-server comes from the module cache: it is a dependency already.
	args = append(args, "./cmd/accountd", "./cmd/accountctl", "./cmd/eventstored", "github.com/nats-io/nats-server/v2")
	cmd := exec.CommandContext(ctx, goTool, args...)
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), "GOTMPDIR="+filepath.Join(bin, "tmp"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	return bin, nil
}

// moduleDir is the accountd module's root: dir if given, else the first
// directory upwards from the working directory whose go.mod declares it.
func moduleDir(dir string) (string, error) {
	if dir != "" {
		return filepath.Abs(dir)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		raw, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && bytes.HasPrefix(raw, []byte("module github.com/accountd/accountd\n")) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("not inside the accountd module (run from its directory, or give its path)")
		}
	}
}
