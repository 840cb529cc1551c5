package projector_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/app"
	"github.com/google/uuid"

	"github.com/accountd/accountd/internal/projector"
	"github.com/accountd/accountd/internal/testenv"
	"github.com/accountd/accountd/projections"
)

func ptr(s string) *string { return &s }

// drained waits until a durable consumer has nothing left to deliver or ack.
func drained(t *testing.T, a *app.App, name string) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := a.Platform.JetStream.Consumer(ctx, app.FeedStream, name)
		if err == nil {
			info, err := c.Info(ctx)
			if err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Stream > 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer %s did not drain", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func snapshot(t *testing.T, a *app.App) map[string][]bson.M {
	t.Helper()
	out := map[string][]bson.M{}
	for _, coll := range []string{projections.UsersCollection, projections.UsernamesCollection, projections.SessionsCollection, projections.TokensCollection,
		projections.AuditIndexCollection, projections.AuditBucketCollection, projections.UsernameHistoryCollection, projections.CredentialsCollection} {
		cur, err := a.Platform.DB.Collection(coll).Find(context.Background(), bson.M{}, options.Find().SetSort(bson.M{"_id": 1}))
		if err != nil {
			t.Fatal(err)
		}
		var docs []bson.M
		if err := cur.All(context.Background(), &docs); err != nil {
			t.Fatal(err)
		}
		out[coll] = docs
	}
	return out
}

// Every event delivered twice more leaves the read models exactly as they
// were; an event no projector can read is parked and the rest go on.
func TestRedeliveryChangesNothing(t *testing.T) {
	a, _ := testenv.App(t, app.Config{}, "")
	ctx := context.Background()
	meta := events.Metadata{CorrelationID: "c", CausationID: "c"}
	var ids []string
	for i := range 5 {
		reg, err := a.Commands.RegisterUser(ctx, commands.RegisterUser{Username: fmt.Sprintf("user%d", i), Password: "correct7horse"}, meta)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, reg.User.ID)
	}
	for i, id := range ids {
		for j := range 3 {
			if _, err := a.Commands.UpdateProfile(ctx, commands.UpdateProfile{UserID: id, Change: commands.ProfileChange{
				"full_name": fmt.Sprintf("Name %d.%d", i, j), "description": fmt.Sprint(j)}}, meta); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := a.Commands.RenameUser(ctx, commands.RenameUser{UserID: ids[0], NewUsername: "renamed"}, meta); err != nil {
		t.Fatal(err)
	}
	// Sessions and tokens: started and ended, created, changed, rotated,
	// deleted.
	for i := range 2 {
		in, err := a.Commands.SignIn(ctx, commands.SignIn{Username: fmt.Sprintf("user%d", i+1), Password: "correct7horse"}, meta)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if _, err := a.Commands.SignOut(ctx, commands.SignOut{UserID: in.UserID, SessionID: in.SessionID}, meta); err != nil {
				t.Fatal(err)
			}
		}
		spec := commands.TokenSpec{Title: "ci", Scopes: []string{"profile:read"}, ExpiresAt: time.Now().Add(time.Hour), Enabled: true}
		kept, err := a.Commands.CreateToken(ctx, commands.CreateToken{Actor: commands.Actor{Session: true}, UserID: in.UserID, Spec: spec}, meta)
		if err != nil {
			t.Fatal(err)
		}
		gone, err := a.Commands.CreateToken(ctx, commands.CreateToken{Actor: commands.Actor{Session: true}, UserID: in.UserID, Spec: spec}, meta)
		if err != nil {
			t.Fatal(err)
		}
		off := false
		if _, err := a.Commands.UpdateToken(ctx, commands.UpdateToken{Actor: commands.Actor{Session: true}, UserID: in.UserID, TokenID: kept.Token.ID, Change: commands.TokenChange{Enabled: &off}}, meta); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Commands.RotateToken(ctx, commands.RotateToken{Actor: commands.Actor{Session: true}, UserID: in.UserID, TokenID: kept.Token.ID}, meta); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Commands.DeleteToken(ctx, commands.DeleteToken{Actor: commands.Actor{Session: true}, UserID: in.UserID, TokenID: gone.Token.ID}, meta); err != nil {
			t.Fatal(err)
		}
	}
	// Service credentials, admin actions and a deletion.
	expires := time.Now().Add(48 * time.Hour)
	cred, err := a.Commands.CreateCredential(ctx, commands.CreateCredential{UserID: ids[2], Spec: commands.CredentialSpec{
		Service: ptr("git"), URL: ptr("https://git.example.com"), Username: ptr("u2"), Secret: ptr("s3cret-value"), ExpiresAt: &expires}}, meta)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Commands.UpdateCredential(ctx, commands.UpdateCredential{UserID: ids[2], CredentialID: cred.Credential.ID,
		Spec: commands.CredentialSpec{Note: ptr("rotated"), Secret: ptr("an0ther"), ClearExpiry: true}}, meta); err != nil {
		t.Fatal(err)
	}
	locked := true
	if _, err := a.Commands.UpdateAdminFields(ctx, commands.UpdateAdminFields{UserID: ids[2], Department: ptr("R&D"), DisplayNameLocked: &locked}, meta); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Commands.GrantRole(ctx, commands.GrantRole{UserID: ids[3], Role: events.RoleAdmin}, meta); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Commands.DisableUser(ctx, commands.DisableUser{UserID: ids[2]}, meta); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Commands.EnableUser(ctx, commands.EnableUser{UserID: ids[2]}, meta); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Commands.DeleteUser(ctx, commands.DeleteUser{UserID: ids[4], ByAdmin: true}, meta); err != nil {
		t.Fatal(err)
	}
	// A corrupt event in a user stream, then a good one after it.
	if _, err := a.Platform.ESDB.AppendToStream(ctx, events.UserStream("corrupt"), esdb.AppendToStreamOptions{}, esdb.EventData{
		EventID: uuid.New(), EventType: events.UserRenamed, ContentType: esdb.ContentTypeJson, Data: []byte(`"not an object"`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Commands.UpdateProfile(ctx, commands.UpdateProfile{UserID: ids[1], Change: commands.ProfileChange{"full_name": "After the bad one"}}, meta); err != nil {
		t.Fatal(err)
	}
	for _, p := range projections.Projectors() {
		drained(t, a, p.Name)
	}
	before := snapshot(t, a)
	if len(before[projections.UsersCollection]) != 5 || len(before[projections.UsernamesCollection]) != 6 ||
		len(before[projections.SessionsCollection]) != 2 || len(before[projections.TokensCollection]) != 2 || len(before[projections.CredentialsCollection]) != 1 {
		t.Fatalf("read models incomplete: %v", before)
	}
	var fixed bson.M
	if err := a.Platform.DB.Collection(projections.UsersCollection).FindOne(ctx, bson.M{"_id": ids[1]}).Decode(&fixed); err != nil || fixed["full_name"] != "After the bad one" {
		t.Fatalf("projector stopped at the bad event: %v %v", fixed, err)
	}
	readers := 0 // projectors of user streams: each parks the corrupt event
	for _, p := range projections.Projectors() {
		if slices.Contains(p.Categories, events.UserCategory) {
			readers++
		}
	}
	parked, err := a.Platform.DB.Collection(projections.ParkedCollection).CountDocuments(ctx, bson.M{})
	if err != nil || parked != int64(readers) {
		t.Fatalf("%d parked events, err %v", parked, err)
	}

	for round := range 2 {
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		names := []string{}
		for _, p := range projections.Projectors() {
			p.Name = fmt.Sprintf("%s-replay-%d", p.Name, round)
			names = append(names, p.Name)
			x := &projector.Executor{Projector: p, JetStream: a.Platform.JetStream, Stream: app.FeedStream, Subject: app.FeedSubject, DB: a.Platform.DB, BatchSize: 7, Keys: a.Keys}
			go func() { _ = x.Run(rctx); done <- struct{}{} }()
		}
		for _, n := range names {
			drained(t, a, n)
		}
		cancel()
		for range names {
			<-done
		}
		if after := snapshot(t, a); !reflect.DeepEqual(before, after) {
			t.Fatalf("round %d of redelivery changed the read models:\nbefore %v\nafter  %v", round, before, after)
		}
	}
}
