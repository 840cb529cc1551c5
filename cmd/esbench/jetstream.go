package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const benchStream = "BENCH"

// startNATS runs an in-process NATS server with JetStream on a random
// loopback port, file storage in dir and an fsync after every write
// (sync_interval: always), so an ack means the message is on disk.
func startNATS(dir string) (*server.Server, error) {
	ns, err := server.NewServer(&server.Options{
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		JetStream:  true,
		StoreDir:   dir,
		SyncAlways: true,
		NoLog:      true,
		NoSigs:     true,
	})
	if err != nil {
		return nil, err
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, errors.New("nats server did not become ready")
	}
	return ns, nil
}

func stopNATS(ns *server.Server) {
	ns.Shutdown()
	ns.WaitForShutdown()
}

// jetStreamAppender publishes one message to subject per call and waits for
// the stream's ack.
func jetStreamAppender(js jetstream.JetStream, subject string, payload []byte) appendFunc {
	return func(ctx context.Context) error {
		_, err := js.Publish(ctx, subject, payload)
		return err
	}
}

// benchJetStream runs the append workload against a file-backed, single
// replica JetStream stream; all writers share one connection.
func benchJetStream(ctx context.Context, cfg config, dir string) ([]levelResult, error) {
	ns, err := startNATS(dir)
	if err != nil {
		return nil, err
	}
	defer stopNATS(ns)
	nc, err := nats.Connect(ns.ClientURL(), nats.Name("esbench"))
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name:     benchStream,
		Subjects: []string{"bench.>"},
		Storage:  jetstream.FileStorage,
		Replicas: 1,
	}); err != nil {
		return nil, fmt.Errorf("create stream: %w", err)
	}
	payload := makePayload(cfg.payload)
	var out []levelResult
	for _, writers := range cfg.writers {
		settle(3 * time.Second)
		res, err := runLevel(ctx, writers, cfg.warmup, cfg.duration, func(i int) (appendFunc, error) {
			return jetStreamAppender(js, fmt.Sprintf("bench.w%d.%d", writers, i), payload), nil
		})
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}
