package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/app"
)

// accountctl admins lists who holds the role now and why, from the log:
// the configured admin under the name it holds today, the admins it made,
// not those who lost the role, were deleted, or took the configured name
// later.
func TestAdmins(t *testing.T) {
	t.Parallel()
	s := start(t, app.Config{Admins: []string{"margaret"}})
	if out := s.mustCtl("admins"); !strings.Contains(out, "nobody holds the admin role") {
		t.Fatalf("no admins yet:\n%s", out)
	}
	margaret := s.register("margaret")
	s.rename(margaret, "maggie")
	s.register("margaret") // the name's next holder
	grace, bob, gone := s.register("grace"), s.register("bob"), s.register("gone")
	ctx := context.Background()
	for _, id := range []string{grace, bob, gone} {
		if _, err := s.app.Commands.GrantRole(ctx, commands.GrantRole{UserID: id, Role: events.RoleAdmin}, meta(margaret)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.app.Commands.RevokeRole(ctx, commands.RevokeRole{UserID: bob, Role: events.RoleAdmin}, meta(grace)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.app.Commands.DisableUser(ctx, commands.DisableUser{UserID: grace}, meta(margaret)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.app.Commands.DeleteUser(ctx, commands.DeleteUser{UserID: gone, ByAdmin: true}, meta(margaret)); err != nil {
		t.Fatal(err)
	}

	var got []adminJSON
	if out := s.mustCtl("admins", "--json"); json.Unmarshal([]byte(out), &got) != nil {
		t.Fatalf("not JSON: %s", out)
	}
	if len(got) != 2 {
		t.Fatalf("admins %+v", got)
	}
	if m := got[0]; m.UserID != margaret || m.Username != "maggie" || m.Source != "configuration" || m.ConfiguredAs != "margaret" || m.GrantedBy != "" || m.GrantedAt == "" {
		t.Fatalf("the configured admin: %+v", m)
	}
	if g := got[1]; g.UserID != grace || g.Username != "grace" || !g.Disabled || g.Source != "admin" || g.GrantedBy != margaret || g.GrantedByUsername != "maggie" {
		t.Fatalf("the granted admin: %+v", g)
	}
	out := s.mustCtl("admins")
	for _, want := range []string{"configuration: --admin margaret", "granted by maggie (" + margaret + ")", "disabled"} {
		if !strings.Contains(out, want) {
			t.Fatalf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "\n") != 3 {
		t.Fatalf("table:\n%s", out)
	}
}
