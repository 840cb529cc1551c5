package queries_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/testenv"
	"github.com/accountd/accountd/projections"
	"github.com/accountd/accountd/queries"
)

// The public profile takes the account's standing from the one port (the
// credential index), not from the users read model, which may lag: an
// anonymous visitor waits for nobody's writes. Before the port, an account
// enabled again stayed 404 until the projector caught up (the flaky
// TestDisableRefusesTheNextRequest).
func TestProfileStandingComesFromThePortNotTheLaggingReadModel(t *testing.T) {
	a, _ := testenv.App(t, app.Config{}, "")
	ctx := context.Background()
	res, err := a.Commands.RegisterUser(ctx, commands.RegisterUser{Username: "ada", Password: "correct7horse"}, events.Metadata{})
	if err != nil {
		t.Fatal(err)
	}
	id := res.User.ID
	users := a.Platform.DB.Collection(a.Catalog.Collection(projections.UsersCollection))
	// projected waits until the read model records the standing, then
	// makes it lag: it records the other one.
	projected := func(t *testing.T, want projections.Standing, lagging bson.M) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			var doc projections.UserDoc
			if err := users.FindOne(ctx, bson.M{"_id": id}).Decode(&doc); err == nil && doc.Standing() == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the read model never recorded %s", want)
			}
		}
		if _, err := users.UpdateOne(ctx, bson.M{"_id": id}, lagging); err != nil {
			t.Fatal(err)
		}
	}
	admin := events.Metadata{Actor: "an-admin"}

	t.Run("disabled, the read model still says active", func(t *testing.T) {
		if _, err := a.Commands.DisableUser(ctx, commands.DisableUser{UserID: id}, admin); err != nil {
			t.Fatal(err)
		}
		projected(t, projections.StandingDisabled, bson.M{"$unset": bson.M{"disabled": ""}})
		if _, err := a.Queries.GetProfile(ctx, "", "ada"); !errors.Is(err, queries.ErrNotFound) {
			t.Fatalf("a disabled account's profile: %v, want not found", err)
		}
	})
	t.Run("enabled again, the read model still says disabled", func(t *testing.T) {
		if _, err := a.Commands.EnableUser(ctx, commands.EnableUser{UserID: id}, admin); err != nil {
			t.Fatal(err)
		}
		projected(t, projections.StandingActive, bson.M{"$set": bson.M{"disabled": true}})
		p, err := a.Queries.GetProfile(ctx, "", "ada")
		if err != nil || p.UserID != id {
			t.Fatalf("an enabled account's profile: %+v %v", p, err)
		}
	})
}
