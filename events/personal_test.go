package events

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// Every free text a user typed is a personal field: sealing replaces it in
// its own JSON field, bound to the owner and the field, and leaves every
// other field (ids, digests, prefixes, kinds) as it was; the caller's
// payload does not change.
func TestPersonalFieldsOfWhatUsersTyped(t *testing.T) {
	seal := func(aad, v string) (string, error) { return SealedPrefix + aad, nil }
	for _, tt := range []struct {
		name  string
		p     Personal
		typed []string          // values that must not survive sealing
		kept  []string          // values that must
		aads  map[string]string // JSON field -> the AAD its value is sealed under
	}{
		{"token created", TokenCreatedV1{TokenID: "t1", UserID: "u1", Title: "Deploy-Title", TokenPrefix: "acp_12345678", TokenDigest: "d1"},
			[]string{"Deploy-Title"}, []string{"acp_12345678", "d1", "t1"}, map[string]string{"title": "user:u1:token:t1:title"}},
		{"token renamed", TokenUpdatedV1{TokenID: "t1", UserID: "u1", Title: s("Renamed-Title")},
			[]string{"Renamed-Title"}, []string{"t1"}, map[string]string{"title": "user:u1:token:t1:title"}},
		{"token enabled (nothing typed)", TokenUpdatedV1{TokenID: "t1", UserID: "u1", Enabled: new(bool)}, nil, []string{"t1"}, nil},
		{"credential created", CredentialCreatedV1{CredentialID: "c1", UserID: "u1", Service: "Forge-Service", URL: "https://forge.example/x",
			Username: "forge-account", Secret: "forge-secret", Note: "forge note", ProvisionedBy: "admin-id"},
			[]string{"Forge-Service", "https://forge.example/x", "forge-account", "forge-secret", "forge note"}, []string{"c1", "admin-id"},
			map[string]string{"service": "user:u1:credential:c1:service", "url": "user:u1:credential:c1:url", "note": "user:u1:credential:c1:note"}},
		{"credential changed", CredentialUpdatedV1{CredentialID: "c1", UserID: "u1", Service: s("New-Service"), URL: s("https://new.example")},
			[]string{"New-Service", "https://new.example"}, []string{"c1"},
			map[string]string{"service": "user:u1:credential:c1:service", "url": "user:u1:credential:c1:url"}},
		{"admin fields", UserAdminFieldsUpdatedV1{UserID: "u1", EmployeeID: s("E-1815"), Department: s("Analytical Engines"), DisplayNameLocked: new(bool)},
			[]string{"E-1815", "Analytical Engines"}, []string{"display_name_locked"},
			map[string]string{"employee_id": "user:u1:employee_id", "department": "user:u1:department"}},
		{"notification", NotificationRaisedV1{UserID: "u1", NotificationID: "n1", Kind: "token_created", Category: "tokens",
			Params: map[string]string{"title": "Deploy-Title", "address": "192.0.2.1"}, EmailTo: "ada@example.com", EmailBody: "Deploy-Title was made"},
			[]string{"Deploy-Title", "192.0.2.1", "ada@example.com"}, []string{"token_created", "tokens", "n1"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := json.Marshal(tt.p)
			out, err := tt.p.MapPersonal("u1", seal)
			if err != nil {
				t.Fatal(err)
			}
			if after, _ := json.Marshal(tt.p); string(after) != string(before) {
				t.Fatalf("the caller's payload changed: %s", after)
			}
			raw, _ := json.Marshal(out)
			for _, v := range tt.typed {
				if strings.Contains(string(raw), v) {
					t.Errorf("%q not sealed: %s", v, raw)
				}
			}
			for _, v := range tt.kept {
				if !strings.Contains(string(raw), v) {
					t.Errorf("%q lost: %s", v, raw)
				}
			}
			var fields map[string]any
			_ = json.Unmarshal(raw, &fields)
			for f, aad := range tt.aads {
				if fields[f] != SealedPrefix+aad {
					t.Errorf("%s sealed as %v, want under %s", f, fields[f], aad)
				}
			}
			// A sealed event decodes as the type it was: the value is in
			// the field the plaintext was in.
			back, err := Decode(out.EventType(), raw)
			if err != nil || reflect.TypeOf(back) != reflect.TypeOf(tt.p) {
				t.Fatalf("decode: %T %v", back, err)
			}
		})
	}
	out, _ := NotificationRaisedV1{NotificationID: "n1", Params: map[string]string{"service": "git"}}.MapPersonal("u1", seal)
	if got := out.(NotificationRaisedV1).Params["service"]; got != SealedPrefix+NotificationParamAAD("u1", "n1", "service") {
		t.Fatalf("param sealed as %q", got)
	}
}

// The streams whose events carry personal fields are sealed with their
// owner's key: tokens too.
func TestOwner(t *testing.T) {
	for _, tt := range []struct{ stream, want string }{
		{UserStream("u1"), "u1"}, {TokensStream("u1"), "u1"}, {CredentialsStream("u1"), "u1"}, {PicturesStream("u1"), "u1"},
		{InboxStream("u1"), "u1"}, {UsernameStream("ada"), ""}, {SessionStream("s1"), ""},
	} {
		if got := Owner(tt.stream); got != tt.want {
			t.Errorf("Owner(%s) = %q, want %q", tt.stream, got, tt.want)
		}
	}
}
