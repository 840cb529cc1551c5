package projections

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/accountd/accountd/events"
)

func envelope(t *testing.T, stream, eventType string, revision, position uint64, data any) events.Envelope {
	t.Helper()
	raw, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	return events.Envelope{ID: "e", Stream: stream, Type: eventType, Revision: revision, Position: position, Data: raw,
		Metadata: json.RawMessage(`{"schema_version":1,"time":"2026-11-23T10:00:00Z"}`)}
}

func s(v string) *string { return &v }

func TestReduce(t *testing.T) {
	const u = "user-7"
	tests := []struct {
		name      string
		projector Projector
		event     events.Envelope
		want      []Write
		wantErr   bool
	}{
		{"users: registered", UsersProjector(),
			envelope(t, u, events.UserRegistered, 0, 10, events.UserRegisteredV1{UserID: "7", Username: "ada", PasswordHash: "h", Profile: events.Profile{Email: s("a@b.co")}}),
			[]Write{{UsersCollection, "7", 1, map[string]any{"username": "ada", "email": "a@b.co",
				"registered_at": "2026-11-23T10:00:00Z", "updated_at": "2026-11-23T10:00:00Z"}}}, false},
		{"users: renamed", UsersProjector(),
			envelope(t, u, events.UserRenamed, 3, 20, events.UserRenamedV1{UserID: "7", OldUsername: "ada", NewUsername: "grace"}),
			[]Write{{UsersCollection, "7", 4, map[string]any{"username": "grace", "updated_at": "2026-11-23T10:00:00Z"}}}, false},
		{"users: profile cleared field", UsersProjector(),
			envelope(t, u, events.UserProfileUpdated, 5, 30, events.UserProfileUpdatedV1{UserID: "7", Profile: events.Profile{Description: s("")}}),
			[]Write{{UsersCollection, "7", 6, map[string]any{"description": "", "updated_at": "2026-11-23T10:00:00Z"}}}, false},
		{"users: unknown type ignored", UsersProjector(), envelope(t, u, "user.something_new", 1, 2, map[string]any{}), nil, false},
		{"users: unreadable payload", UsersProjector(), events.Envelope{Stream: u, Type: events.UserRenamed, Data: json.RawMessage(`"x"`)}, nil, true},
		{"usernames: claimed", UsernamesProjector(),
			envelope(t, "username-ada", events.UsernameClaimed, 0, 9, events.UsernameClaimedV1{Username: "Ada", UserID: "7"}),
			[]Write{{UsernamesCollection, "ada", 9, map[string]any{"username": "Ada", "user_id": "7", "held": true}}}, false},
		{"usernames: released keeps a tombstone", UsernamesProjector(),
			envelope(t, "username-ada", events.UsernameReleased, 1, 25, events.UsernameReleasedV1{Username: "Ada", UserID: "7", Reason: "renamed"}),
			[]Write{{UsernamesCollection, "ada", 25, map[string]any{"user_id": "", "held": false}}}, false},
		{"usernames: unreadable", UsernamesProjector(), events.Envelope{Stream: "username-ada", Type: events.UsernameClaimed, Data: json.RawMessage(`[`)}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.projector.Reduce(tt.event)
			if (err != nil) != tt.wantErr {
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

func TestExecutorReduceParksWhatItCannotRead(t *testing.T) {
	x := &Executor{Projector: UsersProjector()}
	good := envelope(t, "user-7", events.UserRenamed, 3, 20, events.UserRenamedV1{NewUsername: "grace"})
	bad := events.Envelope{ID: "bad", Stream: "user-7", Type: events.UserRenamed, Revision: 4, Position: 21, Data: json.RawMessage(`7`)}
	later := envelope(t, "user-7", events.UserProfileUpdated, 5, 22, events.UserProfileUpdatedV1{Profile: events.Profile{FullName: s("G")}})
	writes, parked, last := x.Reduce([]events.Envelope{good, bad, later})
	if len(writes) != 1 || writes[0].Version != 6 || writes[0].Set["username"] != "grace" || writes[0].Set["full_name"] != "G" {
		t.Fatalf("writes %+v", writes)
	}
	if len(parked) != 1 || parked[0].env.ID != "bad" || !strings.Contains(parked[0].err.Error(), events.UserRenamed) {
		t.Fatalf("parked %+v", parked)
	}
	if last != 22 {
		t.Fatalf("last position %d", last)
	}
}
