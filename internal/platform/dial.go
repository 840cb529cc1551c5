package platform

import (
	"context"
	"fmt"
	neturl "net/url"
	"path/filepath"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/accountd/accountd/internal/keyring"
)

// Servers names the servers a tool needs.
type Servers int

const (
	NeedEventStore Servers = 1 << iota
	NeedNATS
	NeedMongo
)

// Dial connects to servers that are already running, without starting
// any: the ones given by URL, else the embedded servers of an accountd
// using cfg.DataDir and the listen addresses, with the credentials it keeps
// there. A tool uses this to reach a running service's servers.
func Dial(ctx context.Context, cfg Config, need Servers) (_ *Platform, err error) {
	cfg.setDefaults()
	p := &Platform{}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	var creds keyring.Credentials
	embedded := need&NeedEventStore != 0 && cfg.EventStoreURL == "" || need&NeedNATS != 0 && cfg.NATSURL == ""
	if embedded {
		if creds, err = keyring.Load(cfg.DataDir); err != nil {
			return nil, fmt.Errorf("no credentials of an embedded accountd in %s (is --data right?): %w", cfg.DataDir, err)
		}
	}
	if need&NeedEventStore != 0 {
		url := cfg.EventStoreURL
		if url == "" {
			ca, err := filepath.Abs(filepath.Join(cfg.DataDir, "tls", "ca.pem"))
			if err != nil {
				return nil, err
			}
			url = "esdb://" + neturl.UserPassword(creds.EventStore.Username, creds.EventStore.Password).String() + "@" + cfg.EventStoreListen +
				"?tls=true&tlsCAFile=" + neturl.QueryEscape(ca)
		}
		esCfg, err := esdb.ParseConnectionString(url)
		if err != nil {
			return nil, fmt.Errorf("event store URL: %w", err)
		}
		esCfg.Logger = esdbLogger(cfg.Logger)
		esCfg.MaxDiscoverAttempts = 3
		client, err := esdb.NewClient(esCfg)
		if err != nil {
			return nil, fmt.Errorf("event store: %w", err)
		}
		p.closers = append(p.closers, func() { _ = client.Close() })
		p.ESDB, p.EventStoreURL = client, redact(url)
		// The client connects lazily: make sure the server answers now.
		if _, err := client.GetServerVersion(); err != nil {
			return nil, fmt.Errorf("event store at %s does not answer: %w", redact(url), err)
		}
	}
	if need&NeedNATS != 0 {
		url := cfg.NATSURL
		opts := []nats.Option{nats.Name("accountctl"), nats.Timeout(5 * time.Second)}
		if url == "" {
			url = "nats://" + cfg.NATSListen
			opts = append(opts, nats.UserInfo(creds.NATS.Username, creds.NATS.Password))
		}
		nc, err := nats.Connect(url, opts...)
		if err != nil {
			return nil, fmt.Errorf("NATS at %s: %w", redact(url), err)
		}
		p.closers = append(p.closers, nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			return nil, err
		}
		p.NATS, p.JetStream, p.NATSURL = nc, js, redact(url)
	}
	if need&NeedMongo != 0 {
		opts, shown := options.Client().ApplyURI(cfg.MongoURI), cfg.MongoURI
		if cfg.MongoURI == "" {
			sock, err := MongoSocket(cfg.DataDir)
			if err != nil {
				return nil, fmt.Errorf("no embedded FerretDB socket in %s (is accountd running with --data %s?): %w", cfg.DataDir, cfg.DataDir, err)
			}
			opts, shown = SocketClientOptions(sock), "unix:"+sock
			p.sqliteFile = filepath.Join(cfg.DataDir, "ferretdb", cfg.Database+".sqlite")
		}
		client, err := mongo.Connect(ctx, opts.SetServerSelectionTimeout(5*time.Second))
		if err != nil {
			return nil, fmt.Errorf("MongoDB at %s: %w", redact(shown), err)
		}
		p.closers = append(p.closers, func() { _ = client.Disconnect(context.Background()) })
		if err := client.Ping(ctx, nil); err != nil {
			return nil, fmt.Errorf("MongoDB at %s does not answer: %w", redact(shown), err)
		}
		p.Mongo, p.DB, p.MongoURI = client, client.Database(cfg.Database), redact(shown)
	}
	return p, nil
}
