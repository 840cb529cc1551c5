package projections

import (
	"reflect"
	"testing"
	"time"

	"github.com/accountd/accountd/events"
)

func recorded(stream string, revision, position uint64, p events.Payload) events.Recorded {
	return events.Recorded{Stream: stream, Type: p.EventType(), Revision: revision, Position: position, Payload: p,
		Metadata: events.Metadata{SchemaVersion: 1, Time: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}}
}

func s(v string) *string { return &v }

func TestReduce(t *testing.T) {
	const u = "user-7"
	tests := []struct {
		name      string
		projector Projector
		event     events.Recorded
		want      []Write
	}{
		{"users: registered", UsersProjector(),
			recorded(u, 0, 10, events.UserRegisteredV1{UserID: "7", Username: "ada", PasswordHash: "h", Profile: events.Profile{Email: s("a@b.co")}}),
			[]Write{{UsersCollection, "7", 1, map[string]any{"username": "ada", "email": "a@b.co",
				"registered_at": "2026-11-23T10:00:00Z", "updated_at": "2026-11-23T10:00:00Z"}}}},
		{"users: renamed", UsersProjector(),
			recorded(u, 3, 20, events.UserRenamedV1{UserID: "7", OldUsername: "ada", NewUsername: "grace"}),
			[]Write{{UsersCollection, "7", 4, map[string]any{"username": "grace", "updated_at": "2026-11-23T10:00:00Z"}}}},
		{"users: profile cleared field", UsersProjector(),
			recorded(u, 5, 30, events.UserProfileUpdatedV1{UserID: "7", Profile: events.Profile{Description: s("")}}),
			[]Write{{UsersCollection, "7", 6, map[string]any{"description": "", "updated_at": "2026-11-23T10:00:00Z"}}}},
		{"users: the password hash never reaches the read model", UsersProjector(),
			recorded(u, 0, 10, events.UserRegisteredV1{UserID: "7", Username: "ada", PasswordHash: "$argon2id$secret"}),
			[]Write{{UsersCollection, "7", 1, map[string]any{"username": "ada",
				"registered_at": "2026-11-23T10:00:00Z", "updated_at": "2026-11-23T10:00:00Z"}}}},
		{"users: another category's event gives nothing", UsersProjector(), recorded(u, 1, 2, events.SessionEndedV1{}), nil},
		{"usernames: claimed", UsernamesProjector(),
			recorded("username-ada", 0, 9, events.UsernameClaimedV1{Username: "Ada", UserID: "7"}),
			[]Write{{UsernamesCollection, "ada", 9, map[string]any{"username": "Ada", "user_id": "7", "held": true}}}},
		{"usernames: released keeps a tombstone", UsernamesProjector(),
			recorded("username-ada", 1, 25, events.UsernameReleasedV1{Username: "Ada", UserID: "7", Reason: "renamed"}),
			[]Write{{UsernamesCollection, "ada", 25, map[string]any{"user_id": "", "held": false}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.projector.Reduce(tt.event)
			if err != nil {
				t.Fatalf("err %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestCoalesce(t *testing.T) {
	tests := []struct {
		name string
		in   []Write
		want []Write
	}{
		{"one document, many events: one write with the newest version",
			[]Write{
				{UsersCollection, "7", 1, map[string]any{"username": "ada", "email": "a@b.co"}},
				{UsersCollection, "7", 2, map[string]any{"email": "new@b.co"}},
				{UsersCollection, "7", 3, map[string]any{"full_name": "Ada"}},
			},
			[]Write{{UsersCollection, "7", 3, map[string]any{"username": "ada", "email": "new@b.co", "full_name": "Ada"}}}},
		{"documents and collections stay apart, in first-seen order",
			[]Write{
				{UsersCollection, "7", 1, map[string]any{"a": 1}},
				{UsernamesCollection, "7", 1, map[string]any{"b": 1}},
				{UsersCollection, "8", 1, map[string]any{"c": 1}},
				{UsersCollection, "7", 2, map[string]any{"a": 2}},
			},
			[]Write{
				{UsersCollection, "7", 2, map[string]any{"a": 2}},
				{UsernamesCollection, "7", 1, map[string]any{"b": 1}},
				{UsersCollection, "8", 1, map[string]any{"c": 1}},
			}},
		{"an older redelivery within the batch is dropped",
			[]Write{
				{UsernamesCollection, "ada", 9, map[string]any{"held": false}},
				{UsernamesCollection, "ada", 5, map[string]any{"held": true}},
			},
			[]Write{{UsernamesCollection, "ada", 9, map[string]any{"held": false}}}},
		{"nothing", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Coalesce(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
	// Coalescing must not change its input.
	in := []Write{{UsersCollection, "7", 1, map[string]any{"a": 1}}, {UsersCollection, "7", 2, map[string]any{"a": 2}}}
	Coalesce(in)
	if in[0].Set["a"] != 1 {
		t.Fatal("Coalesce mutated its input")
	}
}
