package app

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/mongo"

	"github.com/accountd/accountd/internal/keyring"
	"github.com/accountd/accountd/internal/keystore"
)

// OpenKeys opens the store of the accounts' data keys, under the secret key
// configured (base64) or, with none, the one kept in the data directory
// (generated on first use when generate is set).
func OpenKeys(db *mongo.Database, secretKey, dataDir string, generate bool) (*keystore.Store, error) {
	if secretKey == "" {
		if dataDir == "" {
			return nil, errors.New("a secret key is required (ACCOUNTD_SECRET_KEY) when there is no data directory")
		}
		var err error
		if generate {
			secretKey, err = keyring.EnsureSecretKey(dataDir)
		} else {
			secretKey, err = keyring.LoadSecretKey(dataDir)
		}
		if err != nil {
			return nil, fmt.Errorf("secret key: %w", err)
		}
	}
	raw, err := keystore.ParseKey(secretKey)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	return keystore.New(db, raw)
}

// openKeys opens the data keys for the service and checks that its secret
// key opens those already stored, before any projector or command runs: a
// replica with another key would park every event it cannot open and seal
// data no other replica can read. A key is generated only when every
// server is embedded (Validate refuses external servers without one).
func (a *App) openKeys(ctx context.Context) error {
	var err error
	a.Keys, err = OpenKeys(a.Platform.DB, a.cfg.SecretKey, a.cfg.Platform.DataDir, !a.cfg.Platform.External())
	if err != nil {
		return err
	}
	return a.Keys.CheckSecretKey(ctx)
}
