package devcluster

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoPostgres means PostgreSQL's server programs (initdb, postgres) are
// not installed: on Debian, apt-get install postgresql.
var ErrNoPostgres = errors.New("PostgreSQL (initdb and postgres) not found on PATH nor in /usr/lib/postgresql/*/bin: install it (Debian: apt-get install postgresql)")

// findPostgres returns the directory holding initdb and postgres: dir if
// given, else the one on PATH, else Debian's newest /usr/lib/postgresql/N/bin
// (where the package puts them, off PATH).
func findPostgres(dir string) (string, error) {
	has := func(d string) bool {
		for _, prog := range []string{"initdb", "postgres"} {
			if info, err := os.Stat(filepath.Join(d, prog)); err != nil || info.IsDir() {
				return false
			}
		}
		return true
	}
	if dir != "" {
		if !has(dir) {
			return "", fmt.Errorf("%w (looked in %s)", ErrNoPostgres, dir)
		}
		return dir, nil
	}
	if initdb, err := exec.LookPath("initdb"); err == nil {
		if d := filepath.Dir(initdb); has(d) {
			return d, nil
		}
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(d string) int {
		n, _ := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		return n
	}
	sort.Slice(found, func(i, j int) bool { return version(found[i]) > version(found[j]) })
	for _, d := range found {
		if has(d) {
			return d, nil
		}
	}
	return "", ErrNoPostgres
}

// postgresUser is who runs PostgreSQL: ourselves, except as root, which
// PostgreSQL refuses; then the postgres system user (Debian's package
// makes it), else nobody.
func postgresUser() (*syscall.Credential, string, error) {
	if os.Geteuid() != 0 {
		return nil, "", nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, name, nil
	}
	return nil, "", errors.New("running as root, and PostgreSQL refuses root: no postgres or nobody user to run it as")
}

// reachableBy checks that the user can walk down to dir: every directory
// above it must let them search it.
func reachableBy(dir string, cred *syscall.Credential) error {
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		var st syscall.Stat_t
		if err := syscall.Stat(d, &st); err != nil {
			return err
		}
		ok := st.Mode&0o001 != 0 ||
			st.Uid == cred.Uid && st.Mode&0o100 != 0 ||
			st.Gid == cred.Gid && st.Mode&0o010 != 0
		if !ok {
			return fmt.Errorf("%s is closed to uid %d", d, cred.Uid)
		}
		if filepath.Dir(d) == d {
			return nil
		}
	}
}

// postgres prepares a new database cluster in dir, with password (SCRAM)
// authentication only, for the one superuser login, and returns its server
// process (not started). It listens on loopback TCP only: no Unix socket.
func (c *Cluster) postgres(ctx context.Context, binDir, dir string, port int) (*Process, error) {
	cred, _, err := postgresUser()
	if err != nil {
		return nil, err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, err
	}
	if cred != nil { // makeDir checked that it can reach dir
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	pwfile := filepath.Join(dir, "initdb-password")
	if err := os.WriteFile(pwfile, []byte(c.pgPassword+"\n"), 0o600); err != nil {
		return nil, err
	}
	defer os.Remove(pwfile)
	if cred != nil {
		if err := os.Chown(pwfile, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	env := []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "TZ=UTC"}
	initdb := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"), "-D", data,
		"--auth=scram-sha-256", "--username="+c.pgUser, "--pwfile="+pwfile,
		"--encoding=UTF8", "--no-locale", "--no-sync")
	initdb.Dir, initdb.Env = dir, env
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	p := &Process{
		name: "postgres",
		path: filepath.Join(binDir, "postgres"),
		args: []string{"-D", data, "-p", strconv.Itoa(port),
			"-c", "listen_addresses=127.0.0.1",
			"-c", "unix_socket_directories=", // TCP only: every login needs the password
			"-c", "max_connections=200", // FerretDB pools up to 50 per login
			// Survives any process being killed (the WAL reaches the
			// kernel at commit); only a machine crash could lose data.
			"-c", "fsync=off"},
		env:     env,
		dir:     dir,
		addr:    "127.0.0.1:" + strconv.Itoa(port),
		cred:    cred,
		stopSig: syscall.SIGINT, // fast shutdown: ends sessions, then stops cleanly
		// Immediate shutdown when devcluster dies: unlike SIGKILL, it takes
		// its backends and its shared memory with it.
		deathSig: syscall.SIGQUIT,
		stopWait: 20 * time.Second,
		logFile:  c.logPath("postgres"),
		spawner:  c.spawner,
		onExit:   c.exited,
	}
	p.ready = func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, c.postgresURL("postgres"))
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		return conn.Ping(ctx)
	}
	return p, nil
}

// postgresURL is a connection string for the superuser to database db.
func (c *Cluster) postgresURL(db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(c.pgUser, c.pgPassword), Host: c.pg.addr, Path: "/" + db}
	return u.String()
}

// createDatabase makes FerretDB's database (FerretDB v1 needs one that
// exists; it keeps each MongoDB database as a schema in it).
func (c *Cluster) createDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, c.postgresURL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	if err != nil && !strings.Contains(err.Error(), "already exists") {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}
