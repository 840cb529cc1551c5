// Package summary says in words, in English or Turkish, what an audit
// entry records. The HTTP API and accountctl share it.
package summary

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/accountd/accountd/projections"
)

// templates per language: {name} is a detail or a change's field.
func templates(lang string) map[string]string {
	if lang == "tr" {
		return map[string]string{
			"user.registered":       "Hesap {username} adıyla açıldı",
			"user.renamed":          "Kullanıcı adı değişti",
			"user.profile_updated":  "Profil değişti",
			"user.password_changed": "Parola değişti; diğer oturumlar kapandı",
			"username.claimed":      "{username} kullanıcı adı ayrıldı",
			"username.released":     "{username} kullanıcı adı bırakıldı ({reason})",
			"session.started":       "Oturum açıldı",
			"session.ended":         "Oturum kapandı ({reason})",
			"session.seen":          "Oturum kullanıldı",
			"token.created":         "\"{title}\" erişim belirteci oluşturuldu, kapsamlar: {scopes}",
			"token.updated":         "Erişim belirteci değişti",
			"token.rotated":         "Erişim belirteci yenilendi (yeni önek {token_prefix})",
			"token.revoked":         "Erişim belirteci iptal edildi ({reason})",
			"token.deleted":         "Erişim belirteci silindi",
			"token.reuse_detected":  "Yenilenmiş bir belirtecin eski değeri {address} adresinden yeniden kullanıldı; belirteç iptal edildi",
			"token.used":            "Erişim belirteci {address} adresinden kullanıldı",
		}
	}
	return map[string]string{
		"user.registered":       "Account registered as {username}",
		"user.renamed":          "Username changed",
		"user.profile_updated":  "Profile changed",
		"user.password_changed": "Password changed; other sessions ended",
		"username.claimed":      "Username {username} reserved",
		"username.released":     "Username {username} released ({reason})",
		"session.started":       "Signed in",
		"session.ended":         "Session ended ({reason})",
		"session.seen":          "Session used",
		"token.created":         "Access token \"{title}\" created with scopes {scopes}",
		"token.updated":         "Access token changed",
		"token.rotated":         "Access token rotated (new prefix {token_prefix})",
		"token.revoked":         "Access token revoked ({reason})",
		"token.deleted":         "Access token deleted",
		"token.reuse_detected":  "A rotated-away secret of an access token was used again from {address}; the token was revoked",
		"token.used":            "Access token used from {address}",
	}
}

// Text is the entry in words: what happened, and each changed field's old
// and new value ("" stands for empty).
func Text(e projections.AuditEntry, lang string) string {
	t, ok := templates(lang)[e.Type]
	if !ok {
		t = e.Type
	}
	var extras []string
	for _, k := range slices.Sorted(maps.Keys(e.Details)) {
		v := e.Details[k]
		switch {
		case strings.Contains(t, "{"+k+"}"):
			t = strings.ReplaceAll(t, "{"+k+"}", v)
		case k != "token" && k != "session" && k != "kept_session":
			extras = append(extras, k+": "+v) // what changed, where the sentence does not say
		}
	}
	if len(extras) > 0 {
		t += " (" + strings.Join(extras, ", ") + ")"
	}
	var changes []string
	for _, c := range e.Changes {
		changes = append(changes, fmt.Sprintf("%s %q → %q", c.Field, c.From, c.To))
	}
	if len(changes) > 0 {
		t += ": " + strings.Join(changes, ", ")
	}
	return t
}
