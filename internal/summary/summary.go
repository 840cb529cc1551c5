// Package summary says in words, in English or Turkish, what an audit
// entry records. The HTTP API and accountctl share it.
package summary

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/accountd/accountd/projections"
)

// templates per language: {name} is a detail or a change's field.
func templates(lang string) map[string]string {
	if lang == "tr" {
		return map[string]string{
			"user.registered":              "Hesap {username} adıyla açıldı",
			"user.renamed":                 "Kullanıcı adı değişti",
			"user.profile_updated":         "Profil değişti",
			"user.password_changed":        "Parola değişti; diğer oturumlar kapandı",
			"username.claimed":             "{username} kullanıcı adı ayrıldı",
			"username.released":            "{username} kullanıcı adı bırakıldı ({reason})",
			"session.started":              "Oturum açıldı",
			"session.ended":                "Oturum kapandı ({reason})",
			"session.seen":                 "Oturum kullanıldı",
			"token.created":                "\"{title}\" erişim belirteci oluşturuldu, kapsamlar: {scopes}",
			"token.updated":                "Erişim belirteci değişti",
			"token.rotated":                "Erişim belirteci yenilendi (yeni önek {token_prefix})",
			"token.revoked":                "Erişim belirteci iptal edildi ({reason})",
			"token.deleted":                "Erişim belirteci silindi",
			"token.reuse_detected":         "Yenilenmiş bir belirtecin eski değeri {address} adresinden yeniden kullanıldı; belirteç iptal edildi",
			"token.used":                   "Erişim belirteci {address} adresinden kullanıldı",
			"user.role_granted":            "{role} rolü verildi",
			"user.role_revoked":            "{role} rolü geri alındı",
			"user.admin_fields_updated":    "Yöneticinin yönettiği alanlar değişti",
			"user.disabled":                "Hesap bir yönetici tarafından devre dışı bırakıldı",
			"user.enabled":                 "Hesap yeniden etkinleştirildi",
			"user.deleted":                 "Hesap silindi; kişisel veriler silindi",
			"user.picture_changed":         "Profil resmi değişti",
			"picture.stored":               "Profil resmi kaydedildi",
			"credential.created":           "{service} hizmeti için kimlik bilgisi oluşturuldu ({url})",
			"credential.updated":           "Hizmet kimlik bilgisi değişti",
			"credential.deleted":           "Hizmet kimlik bilgisi silindi",
			"credential.revealed":          "Hizmet kimlik bilgisinin gizli değeri gösterildi",
			"notification.preferences_set": "Bildirim tercihleri değişti",
			"notification.raised":          "Bildirim: {kind}",
			"notification.read":            "Bildirimler okundu",
			"notification.emailed":         "Bildirim e-postayla gönderildi",
			"notification.email_failed":    "Bildirim e-postası gönderilemedi; yeniden denenecek",
			"config.admin_resolved":        "Yapılandırmadaki {configured_as} yöneticisi bu hesap olarak belirlendi",
			"role.holders_found":           "{role} rolünün sahipleri kayıttan belirlendi",
			"role.granted":                 "{role} rolü verildi",
			"role.revoked":                 "{role} rolü geri alındı",
		}
	}
	return map[string]string{
		"user.registered":              "Account registered as {username}",
		"user.renamed":                 "Username changed",
		"user.profile_updated":         "Profile changed",
		"user.password_changed":        "Password changed; other sessions ended",
		"username.claimed":             "Username {username} reserved",
		"username.released":            "Username {username} released ({reason})",
		"session.started":              "Signed in",
		"session.ended":                "Session ended ({reason})",
		"session.seen":                 "Session used",
		"token.created":                "Access token \"{title}\" created with scopes {scopes}",
		"token.updated":                "Access token changed",
		"token.rotated":                "Access token rotated (new prefix {token_prefix})",
		"token.revoked":                "Access token revoked ({reason})",
		"token.deleted":                "Access token deleted",
		"token.reuse_detected":         "A rotated-away secret of an access token was used again from {address}; the token was revoked",
		"token.used":                   "Access token used from {address}",
		"user.role_granted":            "Role {role} granted",
		"user.role_revoked":            "Role {role} revoked",
		"user.admin_fields_updated":    "Admin-managed fields changed",
		"user.disabled":                "Account disabled by an admin",
		"user.enabled":                 "Account enabled again",
		"user.deleted":                 "Account deleted; its personal data erased",
		"user.picture_changed":         "Profile picture changed",
		"picture.stored":               "Profile picture stored",
		"credential.created":           "Service credential for {service} created ({url})",
		"credential.updated":           "Service credential changed",
		"credential.deleted":           "Service credential deleted",
		"credential.revealed":          "Service credential secret shown",
		"notification.preferences_set": "Notification preferences changed",
		"notification.raised":          "Notification: {kind}",
		"notification.read":            "Notifications read",
		"notification.emailed":         "Notification e-mailed",
		"notification.email_failed":    "Notification e-mail not sent; it will be retried",
		"config.admin_resolved":        "The configured admin {configured_as} was found to be this account",
		"role.holders_found":           "Holders of role {role} found in the log",
		"role.granted":                 "Role {role} granted",
		"role.revoked":                 "Role {role} revoked",
	}
}

// labels per language: field names, detail keys and reasons as words.
func labels(lang string) map[string]string {
	if lang == "tr" {
		return map[string]string{
			"username": "kullanıcı adı", "email": "e-posta adresi", "full_name": "tam ad", "description": "açıklama",
			"preferred_language": "tercih edilen dil", "preferred_timezone": "tercih edilen saat dilimi", "picture": "profil resmi",
			"expires_at": "bitiş", "enabled": "etkin", "allowed_ips": "izinli adresler", "title": "ad", "scopes": "kapsamlar",
			"service": "hizmet", "url": "adres", "secret": "gizli değer", "note": "not", "account_username": "hesap adı",
			"changed": "değişen", "provisioned_by": "sağlayan yönetici", "employee_id": "sicil numarası", "department": "birim",
			"display_name_locked": "tam ad kilitli", "channel": "nereden", "sha256": "SHA-256", "token_prefix": "önek",
			"channels": "kanallar", "lead_days": "hatırlatma günleri", "in_app": "uygulamada", "by_email": "e-postayla",
			"security": "güvenlik", "tokens": "erişim belirteçleri", "account": "hesap", "product": "ürün haberleri",
			"signed_out": "oturum kapatıldı", "revoked": "sonlandırıldı", "password_changed": "parola değişti",
			"account_deleted": "hesap silindi", "account_disabled": "hesap devre dışı bırakıldı", "reported": "sızdığı bildirildi", "reuse_detected": "eski değeri yeniden kullanıldı",
			"renamed": "ad değişti", "abandoned_claim": "yarım kalmış ayırma", "browser": "web konsolu",
			"true": "evet", "false": "hayır", "erased": "silindi",
			"configured_as": "yapılandırmayla, şu adla",
		}
	}
	return map[string]string{
		"full_name": "full name", "email": "e-mail address", "preferred_language": "preferred language",
		"preferred_timezone": "preferred time zone", "expires_at": "expires", "allowed_ips": "allowed addresses",
		"url": "URL", "account_username": "account name", "provisioned_by": "provisioned by", "employee_id": "employee ID",
		"display_name_locked": "full name locked", "channel": "from", "sha256": "SHA-256", "token_prefix": "prefix",
		"lead_days": "reminder days", "in_app": "in the app", "by_email": "by e-mail", "tokens": "access tokens", "product": "product news",
		"signed_out": "signed out", "password_changed": "password changed", "account_deleted": "account deleted", "account_disabled": "account disabled",
		"reuse_detected": "a replaced secret was used", "abandoned_claim": "abandoned claim", "browser": "the web console",
		"true": "yes", "false": "no",
		"configured_as": "by configuration, as",
	}
}

// Text is the entry in words, in lang, with times in zone: what happened,
// and each changed field's old and new value ("" stands for empty).
func Text(e projections.AuditEntry, lang string, zone *time.Location) string {
	words := labels(lang)
	say := func(s string) string {
		if w, ok := words[s]; ok {
			return w
		}
		return s
	}
	// value renders a detail the service wrote (a time, a reason, a
	// flag) in words; what a user typed (a title, a name) stays as typed.
	value := func(key, v string) string {
		if strings.HasSuffix(key, "_at") {
			if at, err := time.Parse(time.RFC3339, v); err == nil {
				return at.In(zone).Format("2006-01-02 15:04 MST")
			}
		}
		switch key {
		case "reason", "enabled", "channel", "display_name_locked":
			return say(v)
		}
		return v
	}
	t, ok := templates(lang)[e.Type]
	if !ok {
		t = e.Type
	}
	var extras []string
	for _, k := range slices.Sorted(maps.Keys(e.Details)) {
		v := e.Details[k]
		if slices.Contains(e.ErasedDetails, k) {
			// What the user typed is gone with the account: the
			// sentence says so, without the quotes it had around it.
			gone := "(" + say("erased") + ")"
			if strings.Contains(t, "{"+k+"}") {
				t = strings.ReplaceAll(strings.ReplaceAll(t, "\"{"+k+"}\"", gone), "{"+k+"}", gone)
			} else {
				extras = append(extras, say(k)+": "+gone)
			}
			continue
		}
		switch {
		case strings.Contains(t, "{"+k+"}"):
			t = strings.ReplaceAll(t, "{"+k+"}", value(k, v))
		case k == "changed": // a list of field names
			names := strings.Fields(v)
			for i, n := range names {
				names[i] = say(n)
			}
			extras = append(extras, say(k)+": "+strings.Join(names, ", "))
		case k == "channels": // "security:in_app tokens:email ..."
			var on []string
			for _, pair := range strings.Fields(v) {
				category, channel, _ := strings.Cut(pair, ":")
				if channel == "email" {
					channel = "by_email"
				}
				on = append(on, say(category)+" "+say(channel))
			}
			extras = append(extras, say(k)+": "+strings.Join(on, ", "))
		case k == "lead_days":
			extras = append(extras, say(k)+": "+strings.Join(strings.Fields(v), ", "))
		case k != "token" && k != "session" && k != "kept_session" && k != "credential":
			extras = append(extras, say(k)+": "+value(k, v)) // what changed, where the sentence does not say
		}
	}
	if len(extras) > 0 {
		t += " (" + strings.Join(extras, "; ") + ")"
	}
	var changes []string
	for _, c := range e.Changes {
		if c.Erased {
			changes = append(changes, say(c.Field)+" ("+say("erased")+")")
			continue
		}
		changes = append(changes, fmt.Sprintf("%s %q → %q", say(c.Field), c.From, c.To)) // values as typed
	}
	if len(changes) > 0 {
		t += ": " + strings.Join(changes, ", ")
	}
	return t
}
