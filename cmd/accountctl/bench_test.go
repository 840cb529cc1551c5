package main

// Benchmarks of the investigation tools and the audit log, each a single
// measured run on embedded servers (run with -benchtime=1x):
//
//	go test -run X -bench . -benchtime 1x ./cmd/accountctl

import (
	"context"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/benchkit"
	"github.com/accountd/accountd/internal/projector"
	"github.com/accountd/accountd/internal/testenv"
	"github.com/accountd/accountd/projections"
	"github.com/accountd/accountd/queries"
)

// appendEvents writes n profile updates across users accounts straight to
// the event store, in batches, as the service would write them.
func appendEvents(b *testing.B, client *esdb.Client, n, users int) {
	b.Helper()
	ids := make([]string, users)
	for i := range ids {
		ids[i] = uuid.NewString()
	}
	meta, _ := events.EncodeMetadata(events.Metadata{Actor: ids[0], CorrelationID: "c", CausationID: "c", ClientIP: "192.0.2.1", UserAgent: "bench", Time: time.Now().UTC()})
	const batch = 100
	for i := 0; i < n; i += batch {
		id := ids[(i/batch)%users]
		evs := make([]esdb.EventData, 0, batch)
		for j := range min(batch, n-i) {
			name := fmt.Sprintf("Name %d", i+j)
			var p events.Payload = events.UserProfileUpdatedV1{UserID: id, Profile: events.Profile{"full_name": name}}
			if i == 0 && j == 0 {
				p = events.UserRegisteredV1{UserID: id, Username: "bench0"}
			}
			typ, data, _ := events.Encode(p)
			evs = append(evs, esdb.EventData{EventID: uuid.New(), EventType: typ, ContentType: esdb.ContentTypeJson, Data: data, Metadata: meta})
		}
		if _, err := client.AppendToStream(context.Background(), events.UserStream(id), esdb.AppendToStreamOptions{}, evs...); err != nil {
			b.Fatal(err)
		}
	}
}

func startBench(b *testing.B) *service {
	b.Helper()
	dir := b.TempDir()
	a, srv := testenv.App(b, app.Config{}, dir)
	return &service{app: a, base: srv.URL, args: []string{"--data", dir,
		"--eventstore-listen", a.Platform.EventStore.Addr(), "--nats-listen", a.Platform.NATSURL[len("nats://"):]}}
}

// BenchmarkReplay: accountctl replay to /dev/null over 100,000 events
// (target: at least 150,000 events/s).
func BenchmarkReplay(b *testing.B) {
	s := startBench(b)
	appendEvents(b, s.app.Platform.ESDB, 100_000, 1000)
	waitForFeed(b, s, 100_000)
	waitForProjectors(b, s)
	args := append(append([]string{}, s.args...), "replay")
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		var counted countingWriter
		if code := run(context.Background(), args, func(string) string { return "" }, &counted, io.Discard); code != 0 {
			b.Fatalf("exit %d", code)
		}
		el := time.Since(start)
		if counted.lines < 100_000 {
			b.Fatalf("%d lines", counted.lines)
		}
		b.ReportMetric(float64(counted.lines)/el.Seconds(), "events/s")
	}
}

type countingWriter struct{ lines int }

func (c *countingWriter) Write(p []byte) (int, error) {
	for _, x := range p {
		if x == '\n' {
			c.lines++
		}
	}
	return len(p), nil
}

// BenchmarkUsernameHistory: a name with 1,000 past holders, from the event
// store (target <= 100 ms) and from the read model (target <= 20 ms).
func BenchmarkUsernameHistory(b *testing.B) {
	s := startBench(b)
	client := s.app.Platform.ESDB
	holders := make([]string, 1000)
	for i := range holders {
		holders[i] = uuid.NewString()
		meta := events.Metadata{Actor: holders[i], CorrelationID: "c", CausationID: "c", Time: time.Now().UTC()}
		metaJSON, _ := events.EncodeMetadata(meta)
		_, reg, _ := events.Encode(events.UserRegisteredV1{UserID: holders[i], Username: "popular"})
		if _, err := client.AppendToStream(context.Background(), events.UserStream(holders[i]), esdb.AppendToStreamOptions{},
			esdb.EventData{EventID: uuid.New(), EventType: events.UserRegistered, ContentType: esdb.ContentTypeJson, Data: reg, Metadata: metaJSON}); err != nil {
			b.Fatal(err)
		}
		var evs []esdb.EventData
		for _, p := range []events.Payload{events.UsernameClaimedV1{Username: "popular", UserID: holders[i]}, events.UsernameReleasedV1{Username: "popular", UserID: holders[i], Reason: events.ReleaseRenamed}} {
			typ, data, _ := events.Encode(p)
			evs = append(evs, esdb.EventData{EventID: uuid.New(), EventType: typ, ContentType: esdb.ContentTypeJson, Data: data, Metadata: metaJSON})
		}
		if _, err := client.AppendToStream(context.Background(), events.UsernameStream("popular"), esdb.AppendToStreamOptions{}, evs...); err != nil {
			b.Fatal(err)
		}
	}
	reader := queries.NewReader(s.app.Platform.DB, nil, time.Second)
	reader.Collections(s.app.Catalog.Collection)
	deadline := time.Now().Add(5 * time.Minute)
	for {
		hs, err := reader.UsernameHistory(context.Background(), "", "popular")
		if err == nil && len(hs) == 1000 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("read model has %d holdings", len(hs))
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.ResetTimer()
	for range b.N {
		var fromLog, fromModel []time.Duration
		for range 20 {
			start := time.Now()
			code := run(context.Background(), append(append([]string{}, s.args...), "username-history", "popular", "--json"), func(string) string { return "" }, io.Discard, io.Discard)
			if code != 0 {
				b.Fatalf("exit %d", code)
			}
			fromLog = append(fromLog, time.Since(start))
			start = time.Now()
			if hs, err := reader.UsernameHistory(context.Background(), "", "popular"); err != nil || len(hs) != 1000 {
				b.Fatalf("%d %v", len(hs), err)
			}
			fromModel = append(fromModel, time.Since(start))
		}
		slices.Sort(fromLog)
		slices.Sort(fromModel)
		b.ReportMetric(float64(benchkit.Percentile(fromLog, 50).Microseconds())/1000, "ms-log-p50")
		b.ReportMetric(float64(benchkit.Percentile(fromModel, 50).Microseconds())/1000, "ms-model-p50")
		b.ReportMetric(float64(benchkit.Percentile(fromModel, 99).Microseconds())/1000, "ms-model-p99")
	}
}

// BenchmarkAuditFirstPage: the first page of one account's security log
// with 1,000,000 entries across 10,000 accounts in the collections (target
// p99 <= 20 ms): the page reads only that account's documents.
func BenchmarkAuditFirstPage(b *testing.B) {
	s := startBench(b)
	db := s.app.Platform.DB
	const accounts, perAccount = 10_000, 100
	index, buckets := db.Collection(projections.AuditIndexCollection), db.Collection(projections.AuditBucketCollection)
	now := time.Now().UTC()
	var idxDocs, bucketDocs []mongo.WriteModel
	flush := func(force bool) {
		for _, w := range []struct {
			c    *mongo.Collection
			docs *[]mongo.WriteModel
		}{{index, &idxDocs}, {buckets, &bucketDocs}} {
			if len(*w.docs) >= 64 || force && len(*w.docs) > 0 {
				if _, err := w.c.BulkWrite(context.Background(), *w.docs, options.BulkWrite().SetOrdered(true)); err != nil {
					b.Fatal(err)
				}
				*w.docs = (*w.docs)[:0]
			}
		}
	}
	pos := uint64(0)
	var probe string
	for a := range accounts {
		account := uuid.NewString()
		if a == accounts/2 {
			probe = account
		}
		entries := bson.M{}
		for range perAccount {
			pos++
			entries[projections.AuditKey(pos)] = projections.AuditEntry{EventID: uuid.NewString(), Position: int64(pos), Time: now.Format(time.RFC3339Nano),
				Type: "user.profile_updated", Actor: account, ClientIP: "192.0.2.1", Changes: []projections.AuditChange{{Field: "full_name", From: "a", To: "b"}}}
		}
		bucketDocs = append(bucketDocs, mongo.NewInsertOneModel().SetDocument(bson.M{"_id": projections.AuditBucketID(account, 0), "entries": entries, "_v": int64(pos)}))
		idxDocs = append(idxDocs, mongo.NewInsertOneModel().SetDocument(bson.M{"_id": account, "seq": int64(0), "count": int64(perAccount), "_v": int64(pos)}))
		flush(false)
	}
	flush(true)
	reader := queries.NewReader(db, nil, time.Second)
	b.ResetTimer()
	for range b.N {
		var lat []time.Duration
		for range 200 {
			start := time.Now()
			page, err := reader.AuditLog(context.Background(), probe, queries.AuditFilter{Limit: 50})
			if err != nil || len(page.Entries) != 50 || page.NextCursor == "" {
				b.Fatalf("%d entries %v", len(page.Entries), err)
			}
			lat = append(lat, time.Since(start))
		}
		slices.Sort(lat)
		b.ReportMetric(float64(benchkit.Percentile(lat, 50).Microseconds())/1000, "ms-p50")
		b.ReportMetric(float64(benchkit.Percentile(lat, 99).Microseconds())/1000, "ms-p99")
	}
}

// appendRegistrations writes n registrations, each opening its own user
// stream: every event is a document of its own for the users read model.
func appendRegistrations(b *testing.B, client *esdb.Client, n int) {
	b.Helper()
	meta, _ := events.EncodeMetadata(events.Metadata{Actor: "bench", CorrelationID: "c", CausationID: "c", ClientIP: "192.0.2.1", UserAgent: "bench", Time: time.Now().UTC()})
	sem := make(chan struct{}, 64)
	errs := make(chan error, n)
	for i := range n {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			id := uuid.NewString()
			name := fmt.Sprintf("Name %d", i)
			typ, data, _ := events.Encode(events.UserRegisteredV1{UserID: id, Username: fmt.Sprintf("user%d", i), Profile: events.Profile{"full_name": name}})
			_, err := client.AppendToStream(context.Background(), events.UserStream(id), esdb.AppendToStreamOptions{},
				esdb.EventData{EventID: uuid.New(), EventType: typ, ContentType: esdb.ContentTypeJson, Data: data, Metadata: meta})
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRebuild: rebuilding the users read model after 100,000 events,
// each its own document, and its write rate as a share of a raw bulk upsert
// of as many documents into the same MongoDB (target at least 80%).
func BenchmarkRebuild(b *testing.B) {
	s := startBench(b)
	appendRegistrations(b, s.app.Platform.ESDB, 100_000)
	waitForFeed(b, s, 100_000)
	waitForProjectors(b, s)
	b.ResetTimer()
	for range b.N {
		p := s.app.Platform
		start := time.Now()
		build := projector.Build{Projector: projections.UsersProjector(), JetStream: p.JetStream, Stream: app.FeedStream, Subject: app.FeedSubject,
			DB: p.DB, Suffix: fmt.Sprintf("__bench%d", time.Now().UnixNano()), Prepare: p.IndexIDs, Keys: s.app.Keys}
		if err := build.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		docs, _ := p.DB.Collection(projections.UsersCollection+build.Suffix).CountDocuments(context.Background(), bson.M{})
		// The same number of documents, upserted raw in bulks of the same size.
		raw := p.DB.Collection(fmt.Sprintf("rawbench%d", time.Now().UnixNano()))
		_ = p.IndexIDs(context.Background(), raw.Name())
		start = time.Now()
		var models []mongo.WriteModel
		for i := range docs {
			models = append(models, mongo.NewUpdateOneModel().SetFilter(bson.M{"_id": fmt.Sprint("doc", i)}).
				SetUpdate(bson.M{"$set": bson.M{"_v": int64(i), "full_name": "Name", "updated_at": time.Now().UTC().Format(time.RFC3339Nano)}}).SetUpsert(true))
			if len(models) == 64 {
				if _, err := raw.BulkWrite(context.Background(), models, options.BulkWrite().SetOrdered(true)); err != nil {
					b.Fatal(err)
				}
				models = models[:0]
			}
		}
		if len(models) > 0 {
			if _, err := raw.BulkWrite(context.Background(), models); err != nil {
				b.Fatal(err)
			}
		}
		rawTook := time.Since(start)
		b.ReportMetric(took.Seconds(), "s-rebuild")
		b.ReportMetric(float64(docs), "documents")
		b.ReportMetric(100_000/took.Seconds(), "events/s")
		b.ReportMetric(float64(docs)/took.Seconds(), "docs/s")
		b.ReportMetric(float64(docs)/rawTook.Seconds(), "raw-docs/s")
		b.ReportMetric(100*rawTook.Seconds()/took.Seconds(), "%-of-raw")
	}
}

// waitForProjectors waits until the service's projectors have caught up, so
// that a measurement does not share the machine with their backlog.
func waitForProjectors(b *testing.B, s *service) {
	b.Helper()
	deadline := time.Now().Add(10 * time.Minute)
	for {
		idle := true
		for _, p := range projections.Projectors() {
			c, err := s.app.Platform.JetStream.Consumer(context.Background(), app.FeedStream, p.Name+s.app.Catalog.Suffix(p.Name))
			if err != nil {
				idle = false
				break
			}
			info, err := c.Info(context.Background())
			if err != nil || info.NumPending+uint64(info.NumAckPending) > 0 {
				idle = false
				break
			}
		}
		if idle {
			return
		}
		if time.Now().After(deadline) {
			b.Fatal("the projectors did not catch up")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitForFeed waits until the relay has forwarded n events.
func waitForFeed(b *testing.B, s *service, n uint64) {
	b.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		st, err := s.app.Platform.JetStream.Stream(context.Background(), app.FeedStream)
		if err == nil {
			if info, err := st.Info(context.Background()); err == nil && info.State.Msgs >= n {
				return
			}
		}
		if time.Now().After(deadline) {
			b.Fatal("the relay did not forward the events")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
