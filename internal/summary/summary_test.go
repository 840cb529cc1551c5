package summary

import (
	"testing"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/projections"
)

func TestText(t *testing.T) {
	for _, tt := range []struct {
		e          projections.AuditEntry
		lang, want string
	}{
		{projections.AuditEntry{Type: "user.renamed", Changes: []projections.AuditChange{{Field: "username", From: "ada", To: "countess"}}}, "en",
			`Username changed: username "ada" → "countess"`},
		{projections.AuditEntry{Type: "token.updated", Details: map[string]string{"token": "t1", "enabled": "false"}}, "en", "Access token changed (enabled: false)"},
		{projections.AuditEntry{Type: "session.ended", Details: map[string]string{"session": "s", "reason": "signed_out"}}, "tr", "Oturum kapandı (signed_out)"},
		{projections.AuditEntry{Type: "something.new"}, "en", "something.new"},
	} {
		if got := Text(tt.e, tt.lang); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.e.Type, got, tt.want)
		}
	}
	// Every event type has a sentence in both languages.
	en, tr := templates("en"), templates("tr")
	for _, k := range events.Types() {
		if en[k] == "" || tr[k] == "" {
			t.Errorf("no sentence for %s", k)
		}
	}
}
