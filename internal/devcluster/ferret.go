package devcluster

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// ferret is FerretDB v1 in this process, on the cluster's PostgreSQL.
type ferret struct {
	addr string
	stop func()
}

// ferretNew serialises ferretdb.New, which writes a package-level variable
// of FerretDB's: clusters starting at once in one process would race.
var ferretNew sync.Mutex

// startFerret serves MongoDB's protocol on a loopback port. FerretDB v1 on
// PostgreSQL has no users of its own: it connects to PostgreSQL as whoever
// signed in (PLAIN), so PostgreSQL checks every password, and a client that
// does not sign in gets no connection at all (its base URL has no login).
func (c *Cluster) startFerret(ctx context.Context, port int) (*ferret, error) {
	logFile, err := os.OpenFile(c.logPath("ferretdb"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	ferretNew.Lock()
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: addr},
		Handler:       "postgresql",
		PostgreSQLURL: "postgres://" + c.pg.addr + "/ferretdb",
		Logger:        slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	ferretNew.Unlock()
	if err != nil {
		logFile.Close()
		return nil, fmt.Errorf("FerretDB: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = f.Run(runCtx) }()
	fd := &ferret{addr: addr, stop: func() { cancel(); <-done; logFile.Close() }}
	// Ready: the cluster's login reaches PostgreSQL through it.
	for {
		err := fd.ping(ctx, c.mongoURI(addr))
		if err == nil {
			return fd, nil
		}
		select {
		case <-ctx.Done():
			fd.stop()
			return nil, fmt.Errorf("FerretDB not ready: %w (last: %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (*ferret) ping(ctx context.Context, uri string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	client, err := mongo.Connect(ctx, options.Client().ApplyURI(uri).SetServerSelectionTimeout(2*time.Second))
	if err != nil {
		return err
	}
	defer client.Disconnect(context.Background())
	return client.Ping(ctx, nil)
}
