package summary

import (
	"testing"
	"time"

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
		{projections.AuditEntry{Type: "token.updated", Details: map[string]string{"token": "t1", "enabled": "false"}}, "en", "Access token changed (enabled: no)"},
		{projections.AuditEntry{Type: "session.ended", Details: map[string]string{"session": "s", "reason": "signed_out"}}, "tr", "Oturum kapandı (oturum kapatıldı)"},
		{projections.AuditEntry{Type: "user.profile_updated", Changes: []projections.AuditChange{{Field: "full_name", From: "", To: "Ada"}, {Field: "email", Erased: true}}}, "tr",
			`Profil değişti: tam ad "" → "Ada", e-posta adresi (silindi)`},
		{projections.AuditEntry{Type: "session.started", Details: map[string]string{"session": "s", "expires_at": "2026-12-02T09:00:00Z", "channel": "browser"}}, "en",
			"Signed in (from: the web console; expires: 2026-12-02 09:00 UTC)"},
		{projections.AuditEntry{Type: "credential.updated", Details: map[string]string{"credential": "c", "changed": "secret note expires_at"}}, "en",
			"Service credential changed (changed: secret, note, expires)"},
		{projections.AuditEntry{Type: "something.new"}, "en", "something.new"},
		{projections.AuditEntry{Type: "user.profile_updated", Changes: []projections.AuditChange{{Field: "full_name", From: "changed", To: "true"},
			{Field: "description", From: "", To: "2030-01-01T00:00:00Z"}}}, "tr",
			`Profil değişti: tam ad "changed" → "true", açıklama "" → "2030-01-01T00:00:00Z"`},
		{projections.AuditEntry{Type: "token.created", Details: map[string]string{"title": "true", "scopes": "profile:read", "expires_at": "2027-01-01T00:00:00Z", "token_prefix": "acp_x"}}, "en",
			`Access token "true" created with scopes profile:read (expires: 2027-01-01 00:00 UTC; prefix: acp_x)`},
		{projections.AuditEntry{Type: "token.created", Details: map[string]string{"title": "", "scopes": "profile:read", "token_prefix": "acp_x"}, ErasedDetails: []string{"title"}}, "en",
			`Access token (erased) created with scopes profile:read (prefix: acp_x)`},
		{projections.AuditEntry{Type: "token.created", Details: map[string]string{"title": "", "scopes": "profile:read"}, ErasedDetails: []string{"title"}}, "tr",
			`(silindi) erişim belirteci oluşturuldu, kapsamlar: profile:read`},
		{projections.AuditEntry{Type: "credential.updated", Details: map[string]string{"credential": "c", "changed": "service url", "service": "", "url": ""},
			ErasedDetails: []string{"service", "url"}}, "en",
			"Service credential changed (changed: service, URL; service: (erased); URL: (erased))"},
		{projections.AuditEntry{Type: "notification.preferences_set", Details: map[string]string{"channels": "security:in_app tokens:email", "lead_days": "7 1"}}, "tr",
			"Bildirim tercihleri değişti (kanallar: güvenlik uygulamada, erişim belirteçleri e-postayla; hatırlatma günleri: 7, 1)"},
	} {
		if got := Text(tt.e, tt.lang, time.UTC); got != tt.want {
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
