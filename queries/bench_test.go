package queries_test

// Run with: go test -run X -bench NotificationFeed -benchtime 1x ./queries

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/benchkit"
	"github.com/accountd/accountd/internal/testenv"
	"github.com/accountd/accountd/projections"
	"github.com/accountd/accountd/queries"
)

// BenchmarkNotificationFeedFirstPage: the first page (20) of one user's
// feed with 100,000 notifications across 1,000 users in the collections,
// as the notifications projector writes them (target p99 <= 20 ms).
func BenchmarkNotificationFeedFirstPage(b *testing.B) {
	a, _ := testenv.App(b, app.Config{}, "")
	db := a.Platform.DB
	const users, perUser = 1_000, 100
	index, buckets, state := db.Collection(projections.NotificationIndexCollection), db.Collection(projections.NotificationBucketCollection),
		db.Collection(projections.NotificationStateCollection)
	var idxDocs, bucketDocs, stateDocs []mongo.WriteModel
	flush := func(force bool) {
		for _, w := range []struct {
			c    *mongo.Collection
			docs *[]mongo.WriteModel
		}{{index, &idxDocs}, {buckets, &bucketDocs}, {state, &stateDocs}} {
			if len(*w.docs) >= 64 || force && len(*w.docs) > 0 {
				if _, err := w.c.BulkWrite(context.Background(), *w.docs, options.BulkWrite().SetOrdered(true)); err != nil {
					b.Fatal(err)
				}
				*w.docs = (*w.docs)[:0]
			}
		}
	}
	at := time.Now().UTC()
	pos, probe := uint64(0), ""
	for u := range users {
		user := uuid.NewString()
		if u == users/2 {
			probe = user
		}
		entries := bson.M{}
		read := bson.M{}
		for i := range perUser {
			pos++
			id := uuid.NewString()
			entries[projections.AuditKey(pos)] = projections.NotificationEntry{ID: id, Kind: "token_new_address", Category: "tokens",
				Params: map[string]string{"title": "ci", "address": "198.51.100.7"}, At: at.Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano)}
			if i%3 == 0 {
				read[id] = true
			}
		}
		bucketDocs = append(bucketDocs, mongo.NewInsertOneModel().SetDocument(bson.M{"_id": projections.AuditBucketID(user, 0), "entries": entries, "_v": int64(pos)}))
		idxDocs = append(idxDocs, mongo.NewInsertOneModel().SetDocument(bson.M{"_id": user, "seq": int64(0), "count": int64(perUser), "_v": int64(pos)}))
		stateDocs = append(stateDocs, mongo.NewInsertOneModel().SetDocument(bson.M{"_id": user, "read": read, "_v": int64(pos)}))
		flush(false)
	}
	flush(true)
	if n, _ := buckets.CountDocuments(context.Background(), bson.M{}); n != users {
		b.Fatalf("%d bucket documents", n)
	}
	reader := queries.NewReader(db, nil, time.Second)
	b.ResetTimer()
	for range b.N {
		var lat []time.Duration
		for range 300 {
			start := time.Now()
			page, err := reader.ListNotifications(context.Background(), probe, "", 20)
			if err != nil || len(page.Notifications) != 20 || page.NextCursor == "" {
				b.Fatalf("%d notifications %v", len(page.Notifications), err)
			}
			lat = append(lat, time.Since(start))
		}
		slices.Sort(lat)
		b.ReportMetric(float64(benchkit.Percentile(lat, 50).Microseconds())/1000, "ms-p50")
		b.ReportMetric(float64(benchkit.Percentile(lat, 99).Microseconds())/1000, "ms-p99")
	}
}
