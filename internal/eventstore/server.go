// Package eventstore serves the storage package over EventStoreDB's gRPC
// protocol (the Streams, ServerFeatures and Gossip services, single node),
// so the official EventStoreDB client works against it unchanged.
package eventstore

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/gossip"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/serverfeatures"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/accountd/accountd/internal/eventstore/storage"
)

// Config configures an embedded event store server.
type Config struct {
	// Listen is the TCP address to serve on; "127.0.0.1:0" picks a free port.
	Listen string
	// Advertise is the host:port that gossip (esdb+discover:// URLs) tells
	// clients to dial; empty: the address listened on.
	Advertise string
	// DataDir holds the database.
	DataDir string
	// Logger receives operational messages; nil discards them.
	Logger *slog.Logger
	// Now stamps events; nil means time.Now.
	Now func() time.Time
	// Users may connect (name -> password), over TLS: the official client
	// sends credentials only on TLS connections. Without users, Start
	// refuses unless Insecure is set.
	Users map[string]string
	// TLSCertFile and TLSKeyFile serve TLS (PEM); CAFile is the authority
	// that signed the certificate, named in URL for clients.
	TLSCertFile, TLSKeyFile, CAFile string
	// Insecure serves without authentication: any local process could
	// then append any event. Tests and explicit opt-in only.
	Insecure bool
	// ScavengeEvery is how often events that reads no longer return ($tb,
	// $maxCount) are removed from disk (storage.Store.Scavenge); 0: every
	// hour, negative: never.
	ScavengeEvery time.Duration
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("eventstore: a data directory is required"))
	}
	if !c.Insecure && len(c.Users) == 0 {
		errs = append(errs, errors.New("eventstore: no users: give users (with TLS) or choose insecure mode explicitly"))
	}
	if len(c.Users) > 0 && (c.TLSCertFile == "" || c.TLSKeyFile == "") {
		errs = append(errs, errors.New("eventstore: users need TLS (a certificate and key): the client sends credentials only over TLS"))
	}
	if c.Advertise != "" {
		if _, err := newGossipService(c.Advertise, time.Now); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Insecure && len(c.Users) > 0 {
		errs = append(errs, errors.New("eventstore: insecure mode and users exclude each other"))
	}
	for u, p := range c.Users {
		if u == "" || strings.Contains(u, ":") || p == "" {
			errs = append(errs, fmt.Errorf("eventstore: user %q needs a name without ':' and a password", u))
		}
	}
	return errors.Join(errs...)
}

// Server is a running event store.
type Server struct {
	cfg      Config
	store    *storage.Store
	streams  *streamsService
	grpc     *grpc.Server
	listener net.Listener
	// advertised is the address gossip names (host:port).
	advertised string
	served     chan error
	stop       chan struct{} // closed on Close: ends subscriptions
	jobs       sync.WaitGroup
	once       sync.Once
	closeErr   error
}

// Start opens the store and serves it until Close.
func Start(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts := []grpc.ServerOption{}
	if !cfg.Insecure {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("eventstore: TLS: %w", err)
		}
		auth := newAuthenticator(cfg.Users)
		opts = append(opts,
			grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})),
			grpc.ChainUnaryInterceptor(auth.unary),
			grpc.ChainStreamInterceptor(auth.stream))
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	store, err := storage.Open(cfg.DataDir, storage.Options{Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("eventstore: listen on %s: %w", cfg.Listen, err)
	}
	gossiper, err := newGossipService(advertisedAddress(cfg.Advertise, ln.Addr()), time.Now)
	if err != nil {
		ln.Close()
		store.Close()
		return nil, err
	}
	srv := &Server{
		cfg:      cfg,
		store:    store,
		listener: ln,
		served:   make(chan error, 1),
		stop:     make(chan struct{}),
	}
	srv.grpc = grpc.NewServer(append(opts,
		// The official client pings every 10 s even when idle; the default
		// policy would answer with GOAWAY and drop idle subscriptions.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		// Room for one maximum-size append plus framing; the append limit
		// itself is enforced per request with EventStoreDB's error.
		// Close must not return while a handler may still read the store.
		grpc.WaitForHandlers(true),
		grpc.MaxRecvMsgSize(storage.MaxAppendSize+(64<<10)),
		grpc.ForceServerCodecV2(newRawCodec()), // passes pre-encoded events through
	)...)
	srv.streams = &streamsService{store: store, stop: srv.stop, log: logger}
	streams.RegisterStreamsServer(srv.grpc, srv.streams)
	serverfeatures.RegisterServerFeaturesServer(srv.grpc, featuresService{})
	gossip.RegisterGossipServer(srv.grpc, gossiper)
	srv.advertised = net.JoinHostPort(gossiper.host, strconv.Itoa(int(gossiper.port)))
	go func() { srv.served <- srv.grpc.Serve(ln) }()
	if every := cmp.Or(cfg.ScavengeEvery, time.Hour); every > 0 {
		srv.jobs.Go(func() { srv.scavengeEvery(every, logger) })
	}
	logger.Info("event store listening", "addr", ln.Addr().String(), "advertised", srv.advertised, "data", cfg.DataDir)
	return srv, nil
}

// scavengeEvery scavenges the store now and then until Close.
func (s *Server) scavengeEvery(every time.Duration, logger *slog.Logger) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.stop
		cancel()
	}()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		res, err := s.store.Scavenge(ctx)
		if err != nil && ctx.Err() == nil {
			logger.Warn("scavenge failed", "err", err)
		} else if res.Events > 0 {
			logger.Info("scavenged", "streams", res.Streams, "events", res.Events)
		}
	}
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// URL is a connection string for the official client, without
// credentials (see URLFor).
func (s *Server) URL() string {
	if s.cfg.Insecure {
		return "esdb://" + s.Addr() + "?tls=false"
	}
	u := "esdb://" + s.Addr() + "?tls=true"
	if s.cfg.CAFile != "" {
		u += "&tlsCAFile=" + url.QueryEscape(s.cfg.CAFile)
	}
	return u
}

// DiscoverURL is a connection string that finds the node through gossip
// (esdb+discover://), as for an EventStoreDB cluster, without credentials.
func (s *Server) DiscoverURL() string {
	return strings.Replace(s.URL(), "esdb://", "esdb+discover://", 1)
}

// Advertised is the host:port gossip tells clients to dial.
func (s *Server) Advertised() string { return s.advertised }

// URLFor is a connection string that signs in as user.
func (s *Server) URLFor(user, password string) string {
	return strings.Replace(s.URL(), "esdb://", "esdb://"+url.UserPassword(user, password).String()+"@", 1)
}

// StreamReads counts the reads of single streams served so far.
func (s *Server) StreamReads() uint64 { return s.streams.streamReads.Load() }

// Store gives in-process access to the log (benchmarks, tools).
func (s *Server) Store() *storage.Store { return s.store }

// Close stops serving, ends open calls and closes the store. Appends already
// acknowledged are on disk; appends in flight either finish or fail.
func (s *Server) Close() error {
	s.once.Do(func() {
		close(s.stop)
		done := make(chan struct{})
		go func() { s.grpc.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			s.grpc.Stop()
			<-done
		}
		<-s.served
		s.jobs.Wait()
		s.closeErr = s.store.Close()
	})
	return s.closeErr
}

// Wait blocks until ctx ends, then closes the server.
func (s *Server) Wait(ctx context.Context) error {
	<-ctx.Done()
	return s.Close()
}
