package commands_test

import (
	"slices"
	"testing"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
)

// Every single-line field of every command refuses a line break, naming
// the field, and writes nothing.
func TestSingleLineFieldsRefuseLineBreaks(t *testing.T) {
	hs, _ := newCredentialHarness(t)
	user := hs.givenUser("ada")
	admin := hs.givenUser("margaret")
	tok, err := hs.h.CreateToken(hs.ctx, commands.CreateToken{Actor: commands.Actor{Session: true}, UserID: user, Spec: spec("profile:read")}, meta())
	if err != nil {
		t.Fatal(err)
	}
	at := hs.now.Add(24 * time.Hour)
	cred, err := hs.h.CreateCredential(hs.ctx, commands.CreateCredential{UserID: user, Spec: commands.CredentialSpec{
		Service: ptr("git"), URL: ptr("https://git.example.com"), Secret: ptr("s1"), ExpiresAt: &at}}, meta())
	if err != nil {
		t.Fatal(err)
	}
	streams := []string{events.UserStream(user), events.TokensStream(user), events.CredentialsStream(user)}
	lengths := func() []int {
		var out []int
		for _, s := range streams {
			out = append(out, len(hs.then(s, commands.NoStream)))
		}
		return out
	}
	before := lengths()
	newCred := func(s commands.CredentialSpec) commands.CredentialSpec {
		if s.Service == nil {
			s.Service = ptr("git")
		}
		s.URL, s.Secret = ptr("https://git.example.com"), ptr("s1")
		return s
	}
	for _, brk := range []struct{ name, value string }{
		{"crlf", "Ada\r\nInjected: yes"}, {"lf", "Ada\nLovelace"}, {"cr", "Ada\rLovelace"},
		{"vertical tab", "Ada\vLovelace"}, {"form feed", "Ada\fLovelace"}, {"next line", "Ada\u0085Lovelace"},
		{"line separator", "Ada\u2028Lovelace"}, {"paragraph separator", "Ada\u2029Lovelace"},
	} {
		for _, tt := range []struct {
			name, code string
			run        func(v string) error
		}{
			{"full name", "full_name.line_break", func(v string) error {
				_, err := hs.h.UpdateProfile(hs.ctx, commands.UpdateProfile{UserID: user, Change: commands.ProfileChange{"full_name": v}}, meta())
				return err
			}},
			{"full name at registration", "full_name.line_break", func(v string) error {
				_, err := hs.h.RegisterUser(hs.ctx, commands.RegisterUser{Username: "grace", Password: "correct7horse", Profile: commands.ProfileChange{"full_name": v}}, meta())
				return err
			}},
			{"full name by an admin", "full_name.line_break", func(v string) error {
				_, err := hs.h.UpdateProfile(hs.ctx, commands.UpdateProfile{UserID: user, Change: commands.ProfileChange{"full_name": v}, ByAdmin: true}, asAdmin(admin))
				return err
			}},
			{"new token's title", "title.line_break", func(v string) error {
				s := spec("profile:read")
				s.Title = v
				_, err := hs.h.CreateToken(hs.ctx, commands.CreateToken{Actor: commands.Actor{Session: true}, UserID: user, Spec: s}, meta())
				return err
			}},
			{"token's new title", "title.line_break", func(v string) error {
				_, err := hs.h.UpdateToken(hs.ctx, commands.UpdateToken{Actor: commands.Actor{Session: true}, UserID: user, TokenID: tok.Token.ID, Change: commands.TokenChange{Title: &v}}, meta())
				return err
			}},
			{"new credential's service", "service.line_break", func(v string) error {
				_, err := hs.h.CreateCredential(hs.ctx, commands.CreateCredential{UserID: user, Spec: newCred(commands.CredentialSpec{Service: &v})}, meta())
				return err
			}},
			{"new credential's account name", "username.line_break", func(v string) error {
				_, err := hs.h.CreateCredential(hs.ctx, commands.CreateCredential{UserID: user, Spec: newCred(commands.CredentialSpec{Username: &v})}, meta())
				return err
			}},
			{"credential's service", "service.line_break", func(v string) error {
				_, err := hs.h.UpdateCredential(hs.ctx, commands.UpdateCredential{UserID: user, CredentialID: cred.Credential.ID, Spec: commands.CredentialSpec{Service: &v}}, meta())
				return err
			}},
			{"credential's account name", "username.line_break", func(v string) error {
				_, err := hs.h.UpdateCredential(hs.ctx, commands.UpdateCredential{UserID: user, CredentialID: cred.Credential.ID, Spec: commands.CredentialSpec{Username: &v}}, meta())
				return err
			}},
			{"employee id", "employee_id.line_break", func(v string) error {
				_, err := hs.h.UpdateAdminFields(hs.ctx, commands.UpdateAdminFields{UserID: user, EmployeeID: &v}, asAdmin(admin))
				return err
			}},
			{"department", "department.line_break", func(v string) error {
				_, err := hs.h.UpdateAdminFields(hs.ctx, commands.UpdateAdminFields{UserID: user, Department: &v}, asAdmin(admin))
				return err
			}},
		} {
			t.Run(brk.name+"/"+tt.name, func(t *testing.T) {
				if got := violationCodes(tt.run(brk.value)); !slices.Equal(got, []string{tt.code}) {
					t.Fatalf("%q: violations %v, want %s", brk.value, got, tt.code)
				}
			})
		}
	}
	// A credential URL is one line too (url.Parse takes U+2028 and NEL).
	for _, u := range []string{"https://git.example.com/\u2028x", "https://git.example.com/\u0085x", "https://git.example.com/\r\nx"} {
		_, err := hs.h.UpdateCredential(hs.ctx, commands.UpdateCredential{UserID: user, CredentialID: cred.Credential.ID, Spec: commands.CredentialSpec{URL: &u}}, meta())
		if got := violationCodes(err); !slices.Equal(got, []string{"url.invalid"}) {
			t.Errorf("url %q: %v", u, got)
		}
	}
	if after := lengths(); !slices.Equal(after, before) {
		t.Fatalf("refused input wrote events: %v -> %v", before, after)
	}
	if evs := hs.then(events.UsernameStream("grace"), commands.NoStream); len(evs) != 0 {
		t.Fatalf("a refused registration claimed its name: %v", types(evs))
	}
}

// Multi-line fields are stored with LF line endings, whatever was sent;
// the same text sent with other endings again changes nothing.
func TestMultiLineFieldsAreStoredWithLF(t *testing.T) {
	hs, _ := newCredentialHarness(t)
	user := hs.givenUser("ada")
	sent := "Analyst\r\nof engines\rand\u2028numbers\u2029\u0085end"
	want := "Analyst\nof engines\nand\nnumbers\n\nend"
	res, err := hs.h.UpdateProfile(hs.ctx, commands.UpdateProfile{UserID: user, Change: commands.ProfileChange{"description": sent}}, meta())
	if err != nil {
		t.Fatal(err)
	}
	evs := hs.then(events.UserStream(user), 0)
	if len(evs) != 1 || evs[0].Payload.(events.UserProfileUpdatedV1).Get("description") != want || res.User.Profile.Get("description") != want {
		t.Fatalf("stored %+v", evs)
	}
	lf := "Analyst\nof engines\nand\nnumbers\n\nend"
	if same, err := hs.h.UpdateProfile(hs.ctx, commands.UpdateProfile{UserID: user, Change: commands.ProfileChange{"description": lf}}, meta()); err != nil || same.Position != 0 {
		t.Fatalf("the same text with LF: %+v %v", same, err)
	}

	c, err := hs.h.CreateCredential(hs.ctx, commands.CreateCredential{UserID: user, Spec: commands.CredentialSpec{
		Service: ptr("git"), URL: ptr("https://git.example.com"), Secret: ptr("-----BEGIN KEY-----\r\nabc\r\n-----END KEY-----"), Note: ptr("first\r\nsecond")}}, meta())
	if err != nil {
		t.Fatal(err)
	}
	created := hs.then(events.CredentialsStream(user), commands.NoStream)[0].Payload.(events.CredentialCreatedV1)
	if created.Note != "first\nsecond" || c.Credential.Note != "first\nsecond" {
		t.Fatalf("note stored as %q", created.Note)
	}
	if created.Secret != "-----BEGIN KEY-----\r\nabc\r\n-----END KEY-----" {
		t.Fatalf("the secret was changed: %q", created.Secret)
	}
	if _, err := hs.h.UpdateCredential(hs.ctx, commands.UpdateCredential{UserID: user, CredentialID: c.Credential.ID, Spec: commands.CredentialSpec{Note: ptr("first\rsecond")}}, meta()); err != nil {
		t.Fatal(err)
	}
	if evs := hs.then(events.CredentialsStream(user), commands.NoStream); len(evs) != 1 {
		t.Fatalf("the same note with other endings wrote %v", types(evs))
	}
	if _, err := hs.h.UpdateCredential(hs.ctx, commands.UpdateCredential{UserID: user, CredentialID: c.Credential.ID, Spec: commands.CredentialSpec{Note: ptr("one\u2028two")}}, meta()); err != nil {
		t.Fatal(err)
	}
	updated := hs.then(events.CredentialsStream(user), commands.NoStream)[1].Payload.(events.CredentialUpdatedV1)
	if updated.Note == nil || *updated.Note != "one\ntwo" {
		t.Fatalf("updated note %v", updated.Note)
	}
}

// The rule is for new input: an account whose log already holds a full
// name with a line break loads, and takes other changes.
func TestOldFullNameWithLineBreakStillLoads(t *testing.T) {
	hs := newHarness(t)
	user := hs.givenUser("ada")
	old := "Ada\r\nInjected: yes"
	hs.given(events.UserStream(user), hs.now.Add(-time.Minute), events.UserProfileUpdatedV1{UserID: user, Profile: events.Profile{"full_name": old}})
	res, err := hs.h.UpdateProfile(hs.ctx, commands.UpdateProfile{UserID: user, Change: commands.ProfileChange{"description": "Analyst"}}, meta())
	if err != nil {
		t.Fatal(err)
	}
	if res.User.Profile.Get("full_name") != old || res.User.Profile.Get("description") != "Analyst" {
		t.Fatalf("profile %+v", res.User.Profile)
	}
	if _, err := hs.h.UpdateProfile(hs.ctx, commands.UpdateProfile{UserID: user, Change: commands.ProfileChange{"full_name": "Ada Lovelace"}}, meta()); err != nil {
		t.Fatalf("replacing the old name: %v", err)
	}
}
