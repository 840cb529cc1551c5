package platform

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/FerretDB/FerretDB/ferretdb"

	"github.com/accountd/accountd/internal/keyring"
)

// StartFerretTCP runs FerretDB on SQLite in dir, listening on a free
// loopback TCP port without authentication, for tests that run several
// replicas of the service in one process against one set of servers (the
// embedded FerretDB listens on a Unix socket, which the driver's URIs cannot
// name reliably). It returns the MongoDB URI and a function that stops it.
func StartFerretTCP(dir string) (string, func(), error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", nil, err
	}
	if err := keyring.PrivateDir(dir); err != nil {
		return "", nil, err
	}
	ferretNew.Lock()
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: "127.0.0.1:0"},
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
		Logger:    slog.New(slog.DiscardHandler),
	})
	ferretNew.Unlock()
	if err != nil {
		return "", nil, fmt.Errorf("FerretDB: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx) }()
	return f.MongoDBURI(), func() { cancel(); <-done }, nil
}
