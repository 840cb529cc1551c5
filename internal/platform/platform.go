// Package platform connects the account service to its three servers: the
// event store, NATS JetStream and MongoDB. For each one not given by URL it
// starts the embedded stand-in, with its data under one directory, and none
// of them listens without authentication: the event store and NATS take the
// credentials generated into the data directory (the event store over TLS,
// with a generated certificate authority), and FerretDB, which cannot
// authenticate on its SQLite backend, listens only on a Unix socket inside
// the 0700 data directory.
package platform

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	neturl "net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/FerretDB/FerretDB/ferretdb"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
	_ "modernc.org/sqlite" // FerretDB's own SQLite driver, for IndexIDs

	"github.com/accountd/accountd/internal/eventstore"
	"github.com/accountd/accountd/internal/keyring"
)

// Config selects external servers (by URL) or embedded ones.
type Config struct {
	DataDir string

	EventStoreURL string // esdb://user:pass@host:port?tls=true; empty: embedded
	NATSURL       string // nats://user:pass@host:port; empty: embedded
	MongoURI      string // mongodb://user:pass@host:port/; empty: embedded FerretDB

	// Addresses of the embedded event store and NATS (port 0 picks a free
	// one). The embedded FerretDB has no TCP address: its Unix socket is
	// in the data directory.
	EventStoreListen string
	NATSListen       string

	Database string // MongoDB database name
	Logger   *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Database == "" {
		c.Database = "accounts"
	}
}

// External says whether any server is given by URL: the service then
// shares its servers, possibly with other replicas.
func (c Config) External() bool {
	return c.EventStoreURL != "" || c.NATSURL != "" || c.MongoURI != ""
}

// Validate reports every problem of the configuration at once: external
// servers are given by URL, embedded ones need a data directory and a
// listen address.
func (c Config) Validate() error {
	var errs []error
	embedded := c.EventStoreURL == "" || c.NATSURL == "" || c.MongoURI == ""
	if embedded && c.DataDir == "" {
		errs = append(errs, errors.New("a data directory is required for the embedded servers"))
	}
	check := func(name, url, listen string) {
		if url != "" {
			return
		}
		if _, _, err := net.SplitHostPort(listen); err != nil {
			errs = append(errs, fmt.Errorf("%s listen address %q: %w", name, listen, err))
		}
	}
	check("event store", c.EventStoreURL, c.EventStoreListen)
	check("NATS", c.NATSURL, c.NATSListen)
	if c.EventStoreURL != "" {
		if _, err := esdb.ParseConnectionString(c.EventStoreURL); err != nil {
			errs = append(errs, fmt.Errorf("event store URL: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Platform holds the connected clients.
type Platform struct {
	ESDB *esdb.Client
	// EventStore is the embedded event store (nil when external).
	EventStore *eventstore.Server
	NATS       *nats.Conn
	JetStream  jetstream.JetStream
	Mongo      *mongo.Client
	DB         *mongo.Database

	EventStoreURL, NATSURL, MongoURI string

	// sqliteFile is the embedded FerretDB's database file ("" when external).
	sqliteFile string
	creds      keyring.Credentials
	closers    []func() // run in reverse order
}

// Start connects to or starts every server. On error, whatever was started
// is stopped again.
func Start(ctx context.Context, cfg Config) (_ *Platform, err error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Platform{}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	if cfg.EventStoreURL == "" || cfg.NATSURL == "" {
		if p.creds, err = keyring.Ensure(cfg.DataDir); err != nil {
			return nil, fmt.Errorf("credentials: %w", err)
		}
	} else if cfg.MongoURI == "" {
		if err := keyring.PrivateDir(cfg.DataDir); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
	}
	if cfg.EventStoreURL == "" || cfg.NATSURL == "" || cfg.MongoURI == "" {
		if err := makePrivate(cfg.DataDir); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
	}
	if err := p.startEventStore(cfg); err != nil {
		return nil, err
	}
	if err := p.startNATS(cfg); err != nil {
		return nil, err
	}
	if err := p.startMongo(ctx, cfg); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Platform) startEventStore(cfg Config) error {
	url := cfg.EventStoreURL
	if url == "" {
		host, _, _ := net.SplitHostPort(cfg.EventStoreListen)
		dir, err := filepath.Abs(filepath.Join(cfg.DataDir, "tls"))
		if err != nil {
			return err
		}
		files, err := keyring.EnsureTLS(dir, []string{host})
		if err != nil {
			return fmt.Errorf("event store TLS: %w", err)
		}
		login := p.creds.EventStore
		srv, err := eventstore.Start(eventstore.Config{
			Listen:      cfg.EventStoreListen,
			DataDir:     filepath.Join(cfg.DataDir, "eventstore"),
			Logger:      cfg.Logger.With("component", "eventstore"),
			Users:       map[string]string{login.Username: login.Password},
			TLSCertFile: files.Cert, TLSKeyFile: files.Key, CAFile: files.CA,
		})
		if err != nil {
			return err
		}
		p.closers = append(p.closers, func() { _ = srv.Close() })
		p.EventStore = srv
		url = srv.URLFor(login.Username, login.Password)
	}
	esCfg, err := esdb.ParseConnectionString(url)
	if err != nil {
		return fmt.Errorf("event store URL: %w", err)
	}
	esCfg.Logger = esdbLogger(cfg.Logger)
	client, err := esdb.NewClient(esCfg)
	if err != nil {
		return fmt.Errorf("event store client: %w", err)
	}
	p.closers = append(p.closers, func() { _ = client.Close() })
	p.ESDB, p.EventStoreURL = client, redact(url)
	return nil
}

// redact hides the passwords of a URL, or of each URL in a comma-separated
// list (a NATS cluster is given as several), for logs and banners. What it
// cannot parse it hides from "://" to the last "@" rather than show a
// password.
func redact(raw string) string {
	parts := strings.Split(raw, ",")
	for i, part := range parts {
		parts[i] = redactOne(part)
	}
	return strings.Join(parts, ",")
}

func redactOne(raw string) string {
	u, err := neturl.Parse(raw)
	if err != nil {
		start, end := strings.Index(raw, "://"), strings.LastIndex(raw, "@")
		if start < 0 || end < start {
			return raw
		}
		return raw[:start+3] + "xxxxx" + raw[end:]
	}
	if u.User == nil {
		return raw
	}
	if _, set := u.User.Password(); set {
		u.User = neturl.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

func esdbLogger(l *slog.Logger) esdb.LoggingFunc {
	return func(level esdb.LogLevel, format string, args ...any) {
		if level == esdb.LogError || level == esdb.LogWarn {
			l.Debug(fmt.Sprintf(format, args...), "component", "esdb-client")
		}
	}
}

func (p *Platform) startNATS(cfg Config) error {
	url := cfg.NATSURL
	opts := []nats.Option{nats.Name("accountd"), nats.MaxReconnects(-1)}
	if url == "" {
		host, port, err := splitHostPort(cfg.NATSListen)
		if err != nil {
			return fmt.Errorf("NATS listen address: %w", err)
		}
		login := p.creds.NATS
		srv, err := natsserver.NewServer(&natsserver.Options{
			Host:      host,
			Port:      port,
			JetStream: true,
			StoreDir:  filepath.Join(cfg.DataDir, "nats"),
			NoSigs:    true,
			NoLog:     true,
			Username:  login.Username,
			Password:  login.Password,
		})
		if err != nil {
			return fmt.Errorf("NATS: %w", err)
		}
		srv.Start()
		p.closers = append(p.closers, func() { srv.Shutdown(); srv.WaitForShutdown() })
		if !srv.ReadyForConnections(10 * time.Second) {
			return errors.New("NATS did not become ready (is the port in use?)")
		}
		url = srv.ClientURL()
		opts = append(opts, nats.UserInfo(login.Username, login.Password))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return fmt.Errorf("connect to NATS at %s: %w", redact(url), err)
	}
	p.closers = append(p.closers, func() { nc.Close() })
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	p.NATS, p.JetStream, p.NATSURL = nc, js, redact(url)
	return nil
}

func (p *Platform) startMongo(ctx context.Context, cfg Config) error {
	uri := cfg.MongoURI
	var sock string
	if uri == "" {
		dir := filepath.Join(cfg.DataDir, "ferretdb")
		if err := keyring.PrivateDir(dir); err != nil {
			return err
		}
		var err error
		if sock, err = socketPath(dir, cfg.Logger); err != nil {
			return err
		}
		p.sqliteFile = filepath.Join(dir, cfg.Database+".sqlite")
		if err := scrubOnce(p.sqliteFile, cfg.Logger); err != nil {
			return fmt.Errorf("FerretDB's database: %w", err)
		}
		ferretNew.Lock()
		f, err := ferretdb.New(&ferretdb.Config{
			Listener: ferretdb.ListenerConfig{Unix: sock},
			Handler:  "sqlite",
			// secure_delete: SQLite overwrites what it deletes with zeros,
			// so a document's old version (an erased account's data) is
			// not left readable in the file's free space. The WAL's old
			// frames go when it is truncated (truncateWALEvery).
			SQLiteURL: "file:" + dir + "/?_pragma=secure_delete(1)",
			Logger:    slog.New(slog.DiscardHandler),
		})
		ferretNew.Unlock()
		if err != nil {
			return fmt.Errorf("FerretDB: %w", err)
		}
		runCtx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = f.Run(runCtx) }()
		p.closers = append(p.closers, func() { cancel(); <-done })
		stopCheckpoints := truncateWALEvery(time.Second, p.sqliteFile, cfg.Logger)
		p.closers = append(p.closers, stopCheckpoints)
	}
	opts := options.Client().SetMaxPoolSize(64)
	if uri == "" {
		opts = SocketClientOptions(sock)
		uri = "unix:" + sock
	} else {
		opts.ApplyURI(uri)
	}
	client, err := mongo.Connect(ctx, opts)
	if err != nil {
		return fmt.Errorf("connect to MongoDB at %s: %w", redact(uri), err)
	}
	p.closers = append(p.closers, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = client.Disconnect(ctx)
	})
	pingCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := client.Ping(pingCtx, nil); err != nil {
		return fmt.Errorf("MongoDB at %s: %w", redact(uri), err)
	}
	p.Mongo, p.DB, p.MongoURI = client, client.Database(cfg.Database), redact(uri)
	return nil
}

// socketPath is where the embedded FerretDB listens: mongo.sock in its
// 0700 directory. A Unix socket path must fit in 107 bytes; a deeper data
// directory gets its socket in a private temporary directory instead, with a
// link from the usual place for tools to find it.
func socketPath(dir string, log *slog.Logger) (string, error) {
	sock := filepath.Join(dir, "mongo.sock") // the driver knows a socket by the "sock" ending
	if abs, err := filepath.Abs(sock); err == nil {
		sock = abs
	}
	_ = os.Remove(sock) // a socket left by a crash would block the listener
	if len(sock) <= 100 {
		return sock, nil
	}
	short, err := os.MkdirTemp("", "accountd-")
	if err != nil {
		return "", err
	}
	target := filepath.Join(short, "mongo.sock")
	if err := os.Symlink(target, sock); err != nil {
		return "", err
	}
	log.Debug("data directory path too long for a Unix socket; FerretDB listens in a private temporary directory", "socket", target)
	return target, nil
}

// SocketClientOptions are MongoDB client options that reach a server on a
// Unix socket. The driver's own socket URIs lower-case the path, so the
// connection is dialled here instead, whatever address the driver names.
func SocketClientOptions(sock string) *options.ClientOptions {
	return options.Client().ApplyURI("mongodb://localhost/?directConnection=true").SetMaxPoolSize(64).
		SetDialer(socketDialer(sock))
}

type socketDialer string

func (d socketDialer) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	var nd net.Dialer
	return nd.DialContext(ctx, "unix", string(d))
}

// MongoSocket returns the Unix socket of the embedded FerretDB under
// dataDir, for tools that reach a running service's read models.
func MongoSocket(dataDir string) (string, error) {
	sock := filepath.Join(dataDir, "ferretdb", "mongo.sock")
	if target, err := os.Readlink(sock); err == nil {
		return target, nil
	}
	if _, err := os.Stat(sock); err != nil {
		return "", err
	}
	return filepath.Abs(sock)
}

// IndexIDs makes lookups by _id use an index on the embedded FerretDB.
// FerretDB v1's SQLite backend indexes _id under one JSON expression but
// queries it under another, so without this every lookup by _id scans the
// whole collection. Real MongoDB indexes _id itself; there this does nothing.
func (p *Platform) IndexIDs(ctx context.Context, collections ...string) error {
	if p.sqliteFile == "" {
		return nil
	}
	for _, c := range collections {
		err := p.DB.CreateCollection(ctx, c)
		var cmdErr mongo.CommandError
		if err != nil && !(errors.As(err, &cmdErr) && cmdErr.Name == "NamespaceExists") {
			return fmt.Errorf("create collection %s: %w", c, err)
		}
	}
	db, err := sql.Open("sqlite", "file:"+p.sqliteFile+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
	for _, c := range collections {
		var table string
		if err := db.QueryRowContext(ctx, `SELECT table_name FROM _ferretdb_collections WHERE name = ?`, c).Scan(&table); err != nil {
			return fmt.Errorf("find table of %s: %w", c, err)
		}
		stmt := fmt.Sprintf(`CREATE UNIQUE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`, table+"_id_lookup", table)
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("index %s: %w", c, err)
		}
	}
	return nil
}

// truncateWALEvery keeps the embedded database's write-ahead log small.
// FerretDB keeps a reader open through each update, so SQLite's own
// checkpoints never restart the log and the file grows without end under
// steady writes. A short busy timeout makes a busy tick skip rather than
// stall the writers.
func truncateWALEvery(interval time.Duration, file string, log *slog.Logger) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		db, err := sql.Open("sqlite", "file:"+file+"?mode=rw&_pragma=busy_timeout(20)") // never create it: FerretDB would take an empty file for its own
		if err != nil {
			log.Warn("WAL checkpoints disabled", "err", err)
			return
		}
		defer db.Close()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_, _ = db.Exec("PRAGMA wal_checkpoint(TRUNCATE)") // busy: next tick
			}
		}
	}()
	return func() { close(done); <-finished }
}

// scrubbed is the embedded database's user_version once scrubOnce has
// compacted it: every deletion since has been zeroed (secure_delete). It
// lives in the database's own header, so it travels with the file (a
// restored backup is scrubbed again).
const scrubbed = 1

// scrubOnce compacts an embedded database that older versions wrote
// without secure_delete: their deletions (accounts erased, documents
// rewritten) may have left old content readable in free pages and free
// space inside pages; VACUUM rewrites the file without them, and the WAL
// is truncated after it. It runs once per database, before FerretDB opens
// it; a database not made yet has nothing to scrub.
func scrubOnce(file string, log *slog.Logger) error {
	if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	db, err := sql.Open("sqlite", "file:"+file+"?mode=rw&_pragma=busy_timeout(10000)&_pragma=secure_delete(1)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // the pragmas below are the connection's
	var version int
	if err := db.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		return err
	}
	if version >= scrubbed {
		return nil
	}
	start := time.Now()
	for _, stmt := range []string{"VACUUM", fmt.Sprintf("PRAGMA user_version = %d", scrubbed), "PRAGMA wal_checkpoint(TRUNCATE)"} {
		if _, err := db.Exec(stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	log.Info("compacted the read-model database once, so that nothing deleted before is left readable in it", "file", file,
		"duration_ms", float64(time.Since(start).Microseconds())/1000)
	return nil
}

// ferretNew serialises ferretdb.New, which writes a package-level variable
// of FerretDB's; two instances starting at once in one process would race.
var ferretNew sync.Mutex

// Close disconnects and stops everything started, newest first.
func (p *Platform) Close() {
	for i := len(p.closers) - 1; i >= 0; i-- {
		p.closers[i]()
	}
	p.closers = nil
}

func splitHostPort(addr string) (string, int, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return "", 0, err
	}
	if port == 0 {
		port = natsserver.RANDOM_PORT
	}
	return host, port, nil
}
