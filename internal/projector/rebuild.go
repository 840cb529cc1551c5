package projector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"

	"github.com/accountd/accountd/projections"
)

// Build writes a read model from the whole log into fresh collections
// (named with Suffix) through its own durable consumer, while the live one
// keeps serving.
type Build struct {
	Projector projections.Projector
	JetStream jetstream.JetStream
	Stream    string
	Subject   string
	DB        *mongo.Database
	Logger    *slog.Logger
	// Suffix of the new collections and consumer.
	Suffix string
	// Until, when set, builds the read model as it was at that time.
	Until time.Time
	// Progress, when set, is told how many messages are done of how many.
	Progress func(done, total uint64)
	// Prepare, when set, readies the new collections (indexes) before the
	// build writes them.
	Prepare func(ctx context.Context, collections ...string) error
	// Keys opens personal data for a Personal projector.
	Keys Opener
	// Complete: Run returns only once the build has applied everything the
	// stream held when it started (a copy to compare with the live read
	// model: accountctl verify), not when merely a few hundred messages
	// are left for the generation's next server to drain.
	Complete bool
}

// caughtUp is how few messages may still wait when a build counts as caught
// up: under a steady stream of writes the backlog is never exactly zero,
// and whoever serves the new generation next drains the rest at once.
const caughtUp = 256

// Run builds until the new read model has caught up with the feed (or
// reached Until), then stops its executor. The consumer is left for whoever
// serves the new generation next (it resumes where the build stopped). On
// an error or cancellation, the new collections and consumer are removed.
func (b Build) Run(ctx context.Context) (err error) {
	if b.Logger == nil {
		b.Logger = slog.New(slog.DiscardHandler)
	}
	if err := b.Drop(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	if b.Prepare != nil {
		names := make([]string, len(b.Projector.Collections))
		for i, c := range b.Projector.Collections {
			names[i] = c + b.Suffix
		}
		if err := b.Prepare(ctx, names...); err != nil {
			return err
		}
	}
	defer func() {
		if err != nil {
			_ = b.Drop(context.WithoutCancel(ctx))
		}
	}()
	x := &Executor{Projector: b.Projector, JetStream: b.JetStream, Stream: b.Stream, Subject: b.Subject, DB: b.DB, Logger: b.Logger,
		Suffix: b.Suffix, Fresh: true, Until: b.Until, BatchSize: 1024, Keys: b.Keys}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- x.Run(runCtx) }()
	defer func() { stop(); <-done }()

	var target uint64 // Complete: the stream's last message at the start
	if b.Complete {
		stream, err := b.JetStream.Stream(ctx, b.Stream)
		if err != nil {
			return fmt.Errorf("the feed stream: %w", err)
		}
		info, err := stream.Info(ctx)
		if err != nil {
			return fmt.Errorf("the feed stream: %w", err)
		}
		target = info.State.LastSeq
	}
	var total uint64
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-done:
			done <- err // for the deferred wait
			if err != nil {
				return err
			}
			if !b.Until.IsZero() {
				return nil // the point in time is reached
			}
			return errors.New("the build's executor stopped")
		case <-tick.C:
		}
		info, _, err := x.info(ctx)
		if err != nil {
			continue // not created yet
		}
		pending := info.NumPending + uint64(info.NumAckPending)
		done := info.AckFloor.Consumer
		total = max(total, done+pending)
		if b.Progress != nil {
			b.Progress(min(done, total), total)
		}
		if b.Complete {
			if info.AckFloor.Stream >= target {
				return nil
			}
			continue
		}
		if pending <= caughtUp {
			return nil
		}
	}
}

// Drop removes the build's collections and consumer.
func (b Build) Drop(ctx context.Context) error {
	if b.Suffix == "" {
		return errors.New("refusing to drop the first generation's collections")
	}
	for _, c := range b.Projector.Collections {
		if err := b.DB.Collection(c + b.Suffix).Drop(ctx); err != nil {
			return fmt.Errorf("drop %s: %w", c+b.Suffix, err)
		}
	}
	err := b.JetStream.DeleteConsumer(ctx, b.Stream, b.Projector.Name+b.Suffix)
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("delete consumer %s: %w", b.Projector.Name+b.Suffix, err)
	}
	return nil
}

// Rebuild builds the next generation of a read model and swaps it in: the
// service (this one or another) switches to it on its next catalog
// refresh. The previous generation is left for the service to drop once it
// has switched.
func Rebuild(ctx context.Context, b Build, version int) (Generation, error) {
	live, err := LiveGeneration(ctx, b.DB, b.Projector.Name)
	if err != nil {
		return Generation{}, err
	}
	next := Generation{Projector: b.Projector.Name, Number: live.Number + 1, Version: version}
	b.Suffix = next.Suffix()
	b.Until = time.Time{}
	if err := b.Run(ctx); err != nil {
		return Generation{}, err
	}
	if err := Swap(ctx, b.DB, next); err != nil {
		_ = b.Drop(context.WithoutCancel(ctx))
		return Generation{}, err
	}
	return next, nil
}

// DropOtherGenerations removes the generations of a read model older than
// the live one. Newer ones may be a build in progress elsewhere (a build
// drops what an interrupted one left before it starts); scratch copies
// (suffixes other than __g<n>) stay.
func DropOtherGenerations(ctx context.Context, db *mongo.Database, js jetstream.JetStream, stream string, p projections.Projector, live Generation) error {
	names, err := db.ListCollectionNames(ctx, bson.M{})
	if err != nil {
		return err
	}
	for _, name := range names {
		for _, c := range p.Collections {
			suffix, ok := strings.CutPrefix(name, c)
			if n, gen := generationOf(suffix); !ok || !gen || n >= live.Number {
				continue
			}
			if err := db.Collection(name).Drop(ctx); err != nil {
				return err
			}
		}
	}
	feed, err := js.Stream(ctx, stream)
	if err != nil {
		return err
	}
	lister := feed.ConsumerNames(ctx)
	for name := range lister.Name() {
		suffix, ok := strings.CutPrefix(name, p.Name)
		if n, gen := generationOf(suffix); ok && gen && n < live.Number {
			if err := js.DeleteConsumer(ctx, stream, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
				return err
			}
		}
	}
	return lister.Err()
}

// generationOf reads a generation's suffix: "" is 0, "__g<n>" is n.
func generationOf(suffix string) (int, bool) {
	if suffix == "" {
		return 0, true
	}
	digits, ok := strings.CutPrefix(suffix, "__g")
	n, err := strconv.Atoi(digits)
	return n, ok && err == nil && n > 0 && GenerationSuffix(n) == suffix
}

// PruneAudit removes audit buckets whose newest entry is older than cutoff,
// oldest first, never an account's newest bucket. It runs in the
// background, never on a request's path; it writes only the index
// documents' "first" field, which the audit projector never writes.
func PruneAudit(ctx context.Context, db *mongo.Database, suffix string, cutoff time.Time) error {
	index, buckets := db.Collection(projections.AuditIndexCollection+suffix), db.Collection(projections.AuditBucketCollection+suffix)
	cur, err := index.Find(ctx, bson.M{})
	if err != nil {
		return err
	}
	defer cur.Close(ctx)
	limit := cutoff.UTC().Format(time.RFC3339Nano)
	for cur.Next(ctx) {
		var idx projections.AuditIndexDoc
		if err := cur.Decode(&idx); err != nil {
			return err
		}
		first := idx.First
		for ; first < idx.Seq; first++ {
			var b projections.AuditBucketDoc
			err := buckets.FindOne(ctx, bson.M{"_id": projections.AuditBucketID(idx.ID, first)}).Decode(&b)
			if errors.Is(err, mongo.ErrNoDocuments) {
				continue
			}
			if err != nil {
				return err
			}
			newest := ""
			for _, e := range b.Entries {
				newest = max(newest, e.Time)
			}
			if newest >= limit {
				break
			}
			if _, err := buckets.DeleteOne(ctx, bson.M{"_id": b.ID}); err != nil {
				return err
			}
		}
		if first != idx.First {
			if _, err := index.UpdateOne(ctx, bson.M{"_id": idx.ID}, bson.M{"$set": bson.M{"first": first}}); err != nil {
				return err
			}
		}
	}
	return cur.Err()
}
