package testenv

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/password"
	"github.com/accountd/accountd/internal/platform"
)

// CheapHashing keeps tests that register many users fast; the production
// setting is checked in internal/password.
var CheapHashing = password.Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}

// App starts the whole service on embedded servers in dir (a new temporary
// directory when empty) and serves its router through httptest.
func App(t testing.TB, cfg app.Config, dir string) (*app.App, *httptest.Server) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	cfg.Platform = platform.Config{
		DataDir: dir, EventStoreListen: "127.0.0.1:0", NATSListen: "127.0.0.1:0",
	}
	applyTestDefaults(&cfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := app.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start service: %v", err)
	}
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(func() {
		srv.Close()
		a.Close()
	})
	return a, srv
}

// applyTestDefaults sets what every test service has unless the test says
// otherwise: ports picked by the system, cheap hashing, limits out of the
// way.
func applyTestDefaults(cfg *app.Config) {
	cfg.HTTPListen = "127.0.0.1:0"
	if cfg.MetricsListen == "" {
		cfg.MetricsListen = "127.0.0.1:0" // App.MetricsAddr tells where
	}
	// Every test client comes from 127.0.0.1: only throttling tests set
	// per-address limits.
	if cfg.SignInLimits.PerAddress == (commands.Rate{}) {
		cfg.SignInLimits.PerAddress = commands.Rate{Burst: 100_000, Every: time.Millisecond}
	}
	if cfg.RegistrationLimit == (commands.Rate{}) {
		cfg.RegistrationLimit = commands.Rate{Burst: 100_000, Every: time.Millisecond}
	}
	// Tests upload more pictures than an account may an hour: only the
	// limit's own tests set it.
	if cfg.PictureUploadLimit == (commands.Rate{}) {
		cfg.PictureUploadLimit = commands.Rate{Burst: 100_000, Every: time.Millisecond}
	}
	// A loaded CI machine may take longer than production's 2 s to project
	// a write; tests read their own writes, so they wait longer.
	if cfg.ReadYourWritesTimeout == 0 {
		cfg.ReadYourWritesTimeout = 30 * time.Second
	}
	if cfg.PasswordParams == (password.Params{}) {
		cfg.PasswordParams = CheapHashing
	}
}

// Platform starts the embedded servers (event store, NATS, FerretDB) in a
// temporary directory, stopped when the test ends.
func Platform(t testing.TB) *platform.Platform {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := platform.Start(ctx, platform.Config{DataDir: t.TempDir(), EventStoreListen: "127.0.0.1:0", NATSListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("start servers: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}
