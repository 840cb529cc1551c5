package projections

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/accountd/accountd/events"
)

func recorded(stream string, revision, position uint64, p events.Payload) events.Recorded {
	return events.Recorded{Stream: stream, Type: p.EventType(), Revision: revision, Position: position, Payload: p,
		Metadata: events.Metadata{SchemaVersion: 1, Time: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}}
}

func s(v string) *string { return &v }

func ptrBool(v bool) *bool { return &v }

func TestReduce(t *testing.T) {
	const u = "user-7"
	tests := []struct {
		name      string
		projector Projector
		event     events.Recorded
		want      []Write
	}{
		{"users: registered", UsersProjector(),
			recorded(u, 0, 10, events.UserRegisteredV1{UserID: "7", Username: "ada", PasswordHash: "h", Profile: events.Profile{"email": "a@b.co"}}),
			[]Write{{UsersCollection, "7", 1, map[string]any{"username": "ada", "email": "a@b.co",
				"registered_at": "2026-11-23T10:00:00Z", "updated_at": "2026-11-23T10:00:00Z"}, nil}}},
		{"users: renamed", UsersProjector(),
			recorded(u, 3, 20, events.UserRenamedV1{UserID: "7", OldUsername: "ada", NewUsername: "grace"}),
			[]Write{{UsersCollection, "7", 4, map[string]any{"username": "grace", "updated_at": "2026-11-23T10:00:00Z"}, nil}}},
		{"users: profile cleared field", UsersProjector(),
			recorded(u, 5, 30, events.UserProfileUpdatedV1{UserID: "7", Profile: events.Profile{"description": ""}}),
			[]Write{{UsersCollection, "7", 6, map[string]any{"description": "", "updated_at": "2026-11-23T10:00:00Z"}, nil}}},
		{"users: the password hash never reaches the read model", UsersProjector(),
			recorded(u, 0, 10, events.UserRegisteredV1{UserID: "7", Username: "ada", PasswordHash: "$argon2id$secret"}),
			[]Write{{UsersCollection, "7", 1, map[string]any{"username": "ada",
				"registered_at": "2026-11-23T10:00:00Z", "updated_at": "2026-11-23T10:00:00Z"}, nil}}},
		{"users: a password change moves only the version", UsersProjector(),
			recorded(u, 6, 40, events.UserPasswordChangedV1{UserID: "7", PasswordHash: "$argon2id$secret"}),
			[]Write{{UsersCollection, "7", 7, map[string]any{}, nil}}},
		{"users: admin fields, a cleared one removed", UsersProjector(),
			recorded(u, 7, 41, events.UserAdminFieldsUpdatedV1{UserID: "7", EmployeeID: s(""), Department: s("R&D"), DisplayNameLocked: ptrBool(false)}),
			[]Write{{UsersCollection, "7", 8, map[string]any{"employee_id": Removal{}, "department": "R&D", "display_name_locked": false, "updated_at": "2026-11-23T10:00:00Z"}, nil}}},
		{"users: disabled", UsersProjector(),
			recorded(u, 8, 42, events.UserDisabledV1{UserID: "7"}),
			[]Write{{UsersCollection, "7", 9, map[string]any{"disabled": true}, nil}}},
		{"users: role granted", UsersProjector(),
			recorded(u, 9, 43, events.UserRoleGrantedV1{UserID: "7", Role: "admin"}),
			[]Write{{UsersCollection, "7", 10, map[string]any{"role_admin": true, "role_admin_source": "admin", "role_admin_configured_as": Removal{}}, nil}}},
		{"users: role granted by configuration says so", UsersProjector(),
			recorded(u, 9, 43, events.UserRoleGrantedV1{UserID: "7", Role: "admin", Source: events.RoleSourceConfiguration, ConfiguredAs: "margaret"}),
			[]Write{{UsersCollection, "7", 10, map[string]any{"role_admin": true, "role_admin_source": "configuration", "role_admin_configured_as": "margaret"}, nil}}},
		{"users: role revoked forgets its source", UsersProjector(),
			recorded(u, 9, 43, events.UserRoleRevokedV1{UserID: "7", Role: "admin"}),
			[]Write{{UsersCollection, "7", 10, map[string]any{"role_admin": false, "role_admin_source": Removal{}, "role_admin_configured_as": Removal{}}, nil}}},
		{"users: deleted leaves nothing personal", UsersProjector(),
			recorded(u, 10, 44, events.UserDeletedV1{UserID: "7", Username: "ada"}),
			[]Write{{UsersCollection, "7", 11, withEveryProfileFieldRemoved(map[string]any{"deleted_at": "2026-11-23T10:00:00Z", "updated_at": "2026-11-23T10:00:00Z",
				"picture_sha256": Removal{}, "picture_type": Removal{}, "picture_rev": Removal{}, "employee_id": Removal{}, "department": Removal{}, "display_name_locked": Removal{}, "disabled": Removal{},
				"role_admin": Removal{}, "role_admin_source": Removal{}, "role_admin_configured_as": Removal{}}), nil}}},
		{"credentials: created, never the secret", CredentialsProjector(),
			recorded("credentials-7", 0, 50, events.CredentialCreatedV1{CredentialID: "c1", UserID: "7", Service: "git", URL: "https://g.example", Secret: "s3cret"}),
			[]Write{{CredentialsCollection, "7", 50, map[string]any{"credentials.c1.service": "git", "credentials.c1.url": "https://g.example",
				"credentials.c1.secret_set": true, "credentials.c1.secret_changed_at": "2026-11-23T10:00:00Z", "credentials.c1.created_at": "2026-11-23T10:00:00Z",
				"credentials.c1.updated_at": "2026-11-23T10:00:00Z"}, nil}}},
		{"credentials: expiry and note cleared", CredentialsProjector(),
			recorded("credentials-7", 1, 51, events.CredentialUpdatedV1{CredentialID: "c1", UserID: "7", Note: s(""), ClearExpiry: true}),
			[]Write{{CredentialsCollection, "7", 51, map[string]any{"credentials.c1.updated_at": "2026-11-23T10:00:00Z",
				"credentials.c1.expires_at": Removal{}, "credentials.c1.note": Removal{}}, nil}}},
		{"credentials: deleted", CredentialsProjector(),
			recorded("credentials-7", 2, 52, events.CredentialDeletedV1{CredentialID: "c1", UserID: "7"}),
			[]Write{{CredentialsCollection, "7", 52, map[string]any{"credentials.c1": Removal{}}, nil}}},
		{"usernames: claimed", UsernamesProjector(),
			recorded("username-ada", 0, 9, events.UsernameClaimedV1{Username: "Ada", UserID: "7"}),
			[]Write{{UsernamesCollection, "ada", 9, map[string]any{"username": "Ada", "user_id": "7", "held": true}, nil}}},
		{"usernames: released keeps a tombstone", UsernamesProjector(),
			recorded("username-ada", 1, 25, events.UsernameReleasedV1{Username: "Ada", UserID: "7", Reason: "renamed"}),
			[]Write{{UsernamesCollection, "ada", 25, map[string]any{"user_id": "", "held": false}, nil}}},
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
				{UsersCollection, "7", 1, map[string]any{"username": "ada", "email": "a@b.co"}, nil},
				{UsersCollection, "7", 2, map[string]any{"email": "new@b.co"}, nil},
				{UsersCollection, "7", 3, map[string]any{"full_name": "Ada"}, nil},
			},
			[]Write{{UsersCollection, "7", 3, map[string]any{"username": "ada", "email": "new@b.co", "full_name": "Ada"}, nil}}},
		{"documents and collections stay apart, in first-seen order",
			[]Write{
				{UsersCollection, "7", 1, map[string]any{"a": 1}, nil},
				{UsernamesCollection, "7", 1, map[string]any{"b": 1}, nil},
				{UsersCollection, "8", 1, map[string]any{"c": 1}, nil},
				{UsersCollection, "7", 2, map[string]any{"a": 2}, nil},
			},
			[]Write{
				{UsersCollection, "7", 2, map[string]any{"a": 2}, nil},
				{UsernamesCollection, "7", 1, map[string]any{"b": 1}, nil},
				{UsersCollection, "8", 1, map[string]any{"c": 1}, nil},
			}},
		{"an older redelivery within the batch is dropped",
			[]Write{
				{UsernamesCollection, "ada", 9, map[string]any{"held": false}, nil},
				{UsernamesCollection, "ada", 5, map[string]any{"held": true}, nil},
			},
			[]Write{{UsernamesCollection, "ada", 9, map[string]any{"held": false}, nil}}},
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
	in := []Write{{UsersCollection, "7", 1, map[string]any{"a": 1}, nil}, {UsersCollection, "7", 2, map[string]any{"a": 2}, nil}}
	Coalesce(in)
	if in[0].Set["a"] != 1 {
		t.Fatal("Coalesce mutated its input")
	}
}

func TestReduceCredentials(t *testing.T) {
	yes, no := true, false
	meta := events.Metadata{Time: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), ClientIP: "192.0.2.1", UserAgent: "curl/8"}
	at := func(stream string, position uint64, p events.Payload) events.Recorded {
		return events.Recorded{Stream: stream, Position: position, Type: p.EventType(), Payload: p, Metadata: meta}
	}
	exp := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		p     Projector
		event events.Recorded
		want  []Write
	}{
		{"session started: the sign-in's address and agent", SessionsProjector(),
			at("session-s1", 5, events.SessionStartedV1{SessionID: "s1", UserID: "u", TokenDigest: "secret-digest", ExpiresAt: exp}),
			[]Write{{SessionsCollection, "u", 5, map[string]any{"sessions.s1.created_at": "2026-11-23T10:00:00Z", "sessions.s1.expires_at": "2026-11-24T10:00:00Z",
				"sessions.s1.last_seen_at": "2026-11-23T10:00:00Z", "sessions.s1.client_ip": "192.0.2.1", "sessions.s1.user_agent": "curl/8"}, nil}}},
		{"session seen", SessionsProjector(), at("session-s1", 6, events.SessionSeenV1{SessionID: "s1", UserID: "u", At: exp}),
			[]Write{{SessionsCollection, "u", 6, map[string]any{"sessions.s1.last_seen_at": "2026-11-24T10:00:00Z"}, nil}}},
		{"session ended: removed", SessionsProjector(), at("session-s1", 7, events.SessionEndedV1{SessionID: "s1", UserID: "u"}),
			[]Write{{SessionsCollection, "u", 7, map[string]any{"sessions.s1": Removal{}}, nil}}},
		{"token created: never the digest", TokensProjector(),
			at("tokens-u", 8, events.TokenCreatedV1{TokenID: "t1", UserID: "u", Title: "ci", Scopes: []string{"profile:read"}, ExpiresAt: exp, Enabled: true,
				TokenDigest: "secret-digest", TokenPrefix: "acp_12345678", IssuedAt: meta.Time}),
			[]Write{{TokensCollection, "u", 8, map[string]any{"tokens.t1.title": "ci", "tokens.t1.scopes": bson.A{"profile:read"}, "tokens.t1.expires_at": "2026-11-24T10:00:00Z",
				"tokens.t1.enabled": true, "tokens.t1.allowed_ips": bson.A{}, "tokens.t1.token_prefix": "acp_12345678", "tokens.t1.created_at": "2026-11-23T10:00:00Z",
				"tokens.t1.revoked": false}, nil}}},
		{"token disabled", TokensProjector(), at("tokens-u", 9, events.TokenUpdatedV1{TokenID: "t1", UserID: "u", Enabled: &no}),
			[]Write{{TokensCollection, "u", 9, map[string]any{"tokens.t1.enabled": false}, nil}}},
		{"token revoked", TokensProjector(), at("tokens-u", 10, events.TokenRevokedV1{TokenID: "t1", UserID: "u", Reason: "reported"}),
			[]Write{{TokensCollection, "u", 10, map[string]any{"tokens.t1.revoked": yes}, nil}}},
		{"token used", TokensProjector(), at("tokens-u", 11, events.TokenUsedV1{TokenID: "t1", UserID: "u", At: exp, ClientIP: "198.51.100.1"}),
			[]Write{{TokensCollection, "u", 11, map[string]any{"tokens.t1.last_used_at": "2026-11-24T10:00:00Z", "tokens.t1.last_used_ip": "198.51.100.1"}, nil}}},
		{"token deleted: removed", TokensProjector(), at("tokens-u", 12, events.TokenDeletedV1{TokenID: "t1", UserID: "u"}),
			[]Write{{TokensCollection, "u", 12, map[string]any{"tokens.t1": Removal{}}, nil}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.p.Reduce(tt.event)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v %v\nwant %#v", got, err, tt.want)
			}
		})
	}
}

// A removal in a batch drops the fields set under it before, and fields
// set under a path drop an earlier removal of it.
func TestCoalesceDottedPaths(t *testing.T) {
	got := Coalesce([]Write{
		{TokensCollection, "u", 1, map[string]any{"tokens.a.title": "x", "tokens.b.title": "y"}, nil},
		{TokensCollection, "u", 2, map[string]any{"tokens.a": Removal{}}, nil},
		{TokensCollection, "u", 3, map[string]any{"tokens.b.enabled": false}, nil},
	})
	want := []Write{{TokensCollection, "u", 3, map[string]any{"tokens.a": Removal{}, "tokens.b.title": "y", "tokens.b.enabled": false}, nil}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v", got)
	}
}

func TestReduceAuditAndHistory(t *testing.T) {
	meta := events.Metadata{Time: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), Actor: "u", ClientIP: "192.0.2.1", CredentialKind: "session", CredentialID: "s1"}
	name := "Ada"
	prev := ""
	profile := events.Recorded{Stream: "user-u", Revision: 3, Position: 40, Type: events.UserProfileUpdated, Metadata: meta,
		Payload: events.UserProfileUpdatedV1{UserID: "u", Profile: events.Profile{"full_name": name}, Previous: &events.Profile{"full_name": prev}}}
	ws, err := AuditProjector().Reduce(profile)
	if err != nil || len(ws) != 1 || ws[0].Collection != AuditIndexCollection || ws[0].ID != "u" || ws[0].Append == nil ||
		ws[0].Append.Key != AuditKey(40) || ws[0].Append.Buckets != AuditBucketCollection {
		t.Fatalf("audit writes %+v %v", ws, err)
	}
	entry := ws[0].Append.Value
	if entry["type"] != events.UserProfileUpdated || entry["credential_id"] != "s1" || entry["client_ip"] != "192.0.2.1" {
		t.Fatalf("entry %v", entry)
	}
	// A password change says so, and carries no hash.
	changed := events.Recorded{Stream: "user-u", Revision: 4, Position: 41, Type: events.UserPasswordChanged, Metadata: meta,
		Payload: events.UserPasswordChangedV1{UserID: "u", PasswordHash: "$argon2id$secret"}}
	ws, _ = AuditProjector().Reduce(changed)
	if raw, _ := bson.MarshalExtJSON(ws[0].Append.Value, false, false); strings.Contains(string(raw), "argon2id") {
		t.Fatalf("a hash in the audit log: %s", raw)
	}
	// Username holdings: a claim opens one, a release ends it, an abandoned
	// claim is removed.
	claim := events.Recorded{Stream: "username-ada", Revision: 4, Position: 50, Type: events.UsernameClaimed, Metadata: meta, Payload: events.UsernameClaimedV1{Username: "Ada", UserID: "u"}}
	release := events.Recorded{Stream: "username-ada", Revision: 5, Position: 60, Type: events.UsernameReleased, Metadata: meta, Payload: events.UsernameReleasedV1{Username: "Ada", UserID: "u", Reason: events.ReleaseRenamed}}
	abandoned := release
	abandoned.Payload = events.UsernameReleasedV1{Username: "Ada", UserID: "u", Reason: events.ReleaseAbandonedClaim}
	for _, tt := range []struct {
		e    events.Recorded
		want map[string]any
	}{
		{claim, map[string]any{"holdings.0000000004": "u Ada 2026-11-23T10:00:00Z"}},
		{release, map[string]any{"ends.0000000004": "2026-11-23T10:00:00Z"}},
		{abandoned, map[string]any{"holdings.0000000004": Removal{}, "ends.0000000004": Removal{}}},
	} {
		ws, err := UsernameHistoryProjector().Reduce(tt.e)
		if err != nil || len(ws) != 1 || ws[0].ID != "ada" || !reflect.DeepEqual(ws[0].Set, tt.want) {
			t.Fatalf("history writes %+v %v, want %v", ws, err, tt.want)
		}
	}
}

func TestHoldingsOfAStream(t *testing.T) {
	at := func(m int) events.Metadata { return events.Metadata{Time: time.Date(2026, 1, 1, 0, m, 0, 0, time.UTC)} }
	stream := []events.Recorded{
		{Metadata: at(0), Payload: events.UsernameClaimedV1{Username: "ada", UserID: "1"}},
		{Metadata: at(1), Payload: events.UsernameReleasedV1{Username: "ada", UserID: "1", Reason: events.ReleaseRenamed}},
		{Metadata: at(2), Payload: events.UsernameClaimedV1{Username: "Ada", UserID: "ghost"}},
		{Metadata: at(3), Payload: events.UsernameReleasedV1{Username: "Ada", UserID: "ghost", Reason: events.ReleaseAbandonedClaim}},
		{Metadata: at(3), Payload: events.UsernameClaimedV1{Username: "ADA", UserID: "2"}},
	}
	hs := HoldingsOf(stream)
	if len(hs) != 2 || hs[0].UserID != "1" || !hs[0].Until.Equal(at(1).Time) || hs[1].UserID != "2" || !hs[1].Until.IsZero() {
		t.Fatalf("%+v", hs)
	}
	for _, tt := range []struct {
		m    int
		want string
	}{{0, "1"}, {1, ""}, {2, ""}, {3, "2"}, {59, "2"}} {
		h, ok := HolderAt(hs, at(tt.m).Time)
		if got := map[bool]string{true: h.UserID}[ok]; got != tt.want {
			t.Errorf("at minute %d: %q, want %q", tt.m, got, tt.want)
		}
	}
}

// withEveryProfileFieldRemoved adds a removal of every field of the profile
// table to set: a deleted account keeps none of them, whatever the table
// holds (a new field needs no edit here).
func withEveryProfileFieldRemoved(set map[string]any) map[string]any {
	for _, f := range events.ProfileFields {
		set[f.Name] = Removal{}
	}
	return set
}
