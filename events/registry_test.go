package events

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func s(v string) *string { return &v }

// Every type the registry lists decodes to a payload that names that type,
// and encoding then decoding gives the payload back.
func TestRegistryRoundTrips(t *testing.T) {
	samples := map[string]Payload{
		UserRegistered:      UserRegisteredV1{UserID: "u", Username: "ada", PasswordHash: "$argon2id$h", Profile: Profile{"email": "a@b.co", "description": ""}},
		UserRenamed:         UserRenamedV1{UserID: "u", OldUsername: "ada", NewUsername: "grace"},
		UserProfileUpdated:  UserProfileUpdatedV1{UserID: "u", Profile: Profile{"full_name": "G"}, Previous: &Profile{"full_name": ""}},
		UsernameClaimed:     UsernameClaimedV1{Username: "Ada", UserID: "u"},
		UsernameReleased:    UsernameReleasedV1{Username: "Ada", UserID: "u", Reason: ReleaseRenamed},
		SessionStarted:      SessionStartedV1{SessionID: "s", UserID: "u", TokenDigest: "d", ExpiresAt: time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)},
		SessionEnded:        SessionEndedV1{SessionID: "s", UserID: "u", Reason: SessionSignedOut},
		UserPasswordChanged: UserPasswordChangedV1{UserID: "u", PasswordHash: "$argon2id$x", KeptSessionID: "s"},
		SessionSeen:         SessionSeenV1{SessionID: "s", UserID: "u", At: time.Date(2026, 11, 24, 0, 1, 0, 0, time.UTC)},
		TokenCreated: TokenCreatedV1{TokenID: "t", UserID: "u", Title: "CI", Scopes: []string{"profile:read"}, ExpiresAt: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
			Enabled: true, AllowedIPs: []string{"192.0.2.0/24"}, TokenDigest: "d", TokenPrefix: "acp_12345678", IssuedAt: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
		TokenUpdated:               TokenUpdatedV1{TokenID: "t", UserID: "u", Title: s("new"), Enabled: new(bool), AllowedIPs: &[]string{}},
		TokenRotated:               TokenRotatedV1{TokenID: "t", UserID: "u", OldDigest: "d", TokenDigest: "e", TokenPrefix: "acp_87654321", ExpiresAt: time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)},
		TokenRevoked:               TokenRevokedV1{TokenID: "t", UserID: "u", Reason: RevokedReported},
		TokenDeleted:               TokenDeletedV1{TokenID: "t", UserID: "u"},
		TokenReuseDetected:         TokenReuseDetectedV1{TokenID: "t", UserID: "u", OldDigest: "d", ClientIP: "192.0.2.9"},
		TokenUsed:                  TokenUsedV1{TokenID: "t", UserID: "u", At: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), ClientIP: "192.0.2.9"},
		UserRoleGranted:            UserRoleGrantedV1{UserID: "u", Role: RoleAdmin, Source: RoleSourceConfiguration, ConfiguredAs: "margaret"},
		UserRoleRevoked:            UserRoleRevokedV1{UserID: "u", Role: RoleAdmin},
		UserAdminFieldsUpdated:     UserAdminFieldsUpdatedV1{UserID: "u", EmployeeID: s("E1"), DisplayNameLocked: new(bool)},
		UserDisabled:               UserDisabledV1{UserID: "u"},
		UserEnabled:                UserEnabledV1{UserID: "u"},
		UserDeleted:                UserDeletedV1{UserID: "u", Username: "ada"},
		UserPictureChanged:         UserPictureChangedV1{UserID: "u", SHA256: "abc", ContentType: "image/png"},
		PictureStored:              PictureStoredV1{UserID: "u", SHA256: "abc", ContentType: "image/png", Width: 1, Height: 1, Data: "AA=="},
		CredentialCreated:          CredentialCreatedV1{CredentialID: "c", UserID: "u", Service: "git", URL: "https://git.example", Username: "ada", Secret: "s"},
		CredentialUpdated:          CredentialUpdatedV1{CredentialID: "c", UserID: "u", Note: s("n")},
		CredentialDeleted:          CredentialDeletedV1{CredentialID: "c", UserID: "u"},
		CredentialRevealed:         CredentialRevealedV1{CredentialID: "c", UserID: "u"},
		NotificationPreferencesSet: NotificationPreferencesSetV1{UserID: "u", Categories: map[string]Channels{"security": {InApp: true}}, LeadDays: []int{7, 1}},
		NotificationRaised:         NotificationRaisedV1{UserID: "u", NotificationID: "n", Cause: "e", Kind: "password_changed", Category: "security", InApp: true, At: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
		NotificationsRead:          NotificationsReadV1{UserID: "u", IDs: []string{"n"}},
		NotificationEmailed:        NotificationEmailedV1{UserID: "u", NotificationID: "n"},
		NotificationEmailFailed:    NotificationEmailFailedV1{UserID: "u", NotificationID: "n", Attempt: 1, Error: "e", RetryAt: time.Date(2026, 12, 1, 0, 1, 0, 0, time.UTC)},
		ConfiguredAdminResolved:    ConfiguredAdminResolvedV1{ConfiguredAs: "margaret", UserID: "u"},
		RoleHoldersFound:           RoleHoldersFoundV1{Role: RoleAdmin, UserIDs: []string{"u", "v"}},
		RoleGranted:                RoleGrantedV1{Role: RoleAdmin, UserID: "u"},
		RoleRevoked:                RoleRevokedV1{Role: RoleAdmin, UserID: "u", Reason: RoleLeftDeleted},
	}
	for _, typ := range Types() {
		t.Run(typ, func(t *testing.T) {
			p, ok := samples[typ]
			if !ok {
				t.Fatalf("no sample for %s: add one", typ)
			}
			gotType, data, err := Encode(p)
			if err != nil || gotType != typ {
				t.Fatalf("encode: %s %v", gotType, err)
			}
			back, err := Decode(typ, data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, p) || back.EventType() != typ {
				t.Fatalf("round trip %#v, want %#v", back, p)
			}
		})
	}
	if len(samples) != len(Types()) {
		t.Fatalf("%d samples for %d types", len(samples), len(Types()))
	}
}

func TestUndecodableIsOneError(t *testing.T) {
	for name, tt := range map[string]struct{ typ, data string }{
		"unknown type":      {"user.from_the_future", `{}`},
		"broken payload":    {UserRenamed, `{"user_id":`},
		"payload not a map": {SessionStarted, `"x"`},
		"wrong field type":  {UsernameClaimed, `{"username":7}`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Decode(tt.typ, []byte(tt.data))
			var ue *UndecodableError
			if !errors.Is(err, ErrUndecodable) || !errors.As(err, &ue) || ue.Type != tt.typ {
				t.Fatalf("err %v", err)
			}
		})
	}
}

func TestProfileMergeAndChanges(t *testing.T) {
	current := Profile{"email": "a@b.co", "full_name": "Ada"}
	change := Profile{"email": "a@b.co", "full_name": "", "description": "new"}
	diff, changed := change.ChangesFrom(current)
	if !changed || !reflect.DeepEqual(diff, Profile{"full_name": "", "description": "new"}) {
		t.Fatalf("changes %+v", diff)
	}
	merged := current.Merge(diff)
	if !reflect.DeepEqual(merged, Profile{"email": "a@b.co", "full_name": "", "description": "new"}) {
		t.Fatalf("merged %+v", merged)
	}
	if current["full_name"] != "Ada" {
		t.Fatal("Merge changed its receiver")
	}
	if _, changed := (Profile{"preferred_timezone": ""}).ChangesFrom(Profile{}); changed {
		t.Fatal("clearing an unset field is a change")
	}
}

// Events written when the profile was a struct decode as they did: the
// fields inline, "" a cleared field, previous values beside them.
func TestProfileEventsOfBeforeTheTableDecode(t *testing.T) {
	for name, tt := range map[string]struct {
		typ, data string
		want      Payload
	}{
		"registered": {UserRegistered, `{"user_id":"u","username":"ada","password_hash":"$h","email":"a@b.co","description":""}`,
			UserRegisteredV1{UserID: "u", Username: "ada", PasswordHash: "$h", Profile: Profile{"email": "a@b.co", "description": ""}}},
		"updated, no previous": {UserProfileUpdated, `{"user_id":"u","full_name":"G"}`,
			UserProfileUpdatedV1{UserID: "u", Profile: Profile{"full_name": "G"}}},
		"updated, previous": {UserProfileUpdated, `{"user_id":"u","preferred_language":"tr","previous":{"preferred_language":""}}`,
			UserProfileUpdatedV1{UserID: "u", Profile: Profile{"preferred_language": "tr"}, Previous: &Profile{"preferred_language": ""}}},
		"a field not in the table is not read": {UserProfileUpdated, `{"user_id":"u","full_name":null,"shoe_size":"42"}`,
			UserProfileUpdatedV1{UserID: "u", Profile: Profile{}}},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := Decode(tt.typ, []byte(tt.data))
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("decoded %#v %v, want %#v", got, err, tt.want)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, typ := range Types() {
		f.Add(typ, []byte(`{"user_id":"u","username":"ada"}`))
	}
	f.Add("nope", []byte(`{`))
	f.Fuzz(func(t *testing.T, typ string, data []byte) {
		p, err := Decode(typ, data)
		if err != nil {
			if !errors.Is(err, ErrUndecodable) {
				t.Fatalf("error %v is not ErrUndecodable", err)
			}
			return
		}
		if p.EventType() != typ {
			t.Fatalf("decoded %s as %s", typ, p.EventType())
		}
	})
}
