// Package notices says what a notification is about, in English or
// Turkish: a one-line title for the feed and the e-mail's subject, and a
// body for the e-mail. Commands render the e-mail once, when the
// notification is raised, in the user's language; the feed renders the
// title in the reader's.
package notices

import (
	"slices"
	"strings"
)

// Kinds of notification and their categories.
const (
	PasswordChanged    = "password_changed"
	EmailChanged       = "email_changed"
	UsernameChanged    = "username_changed"
	TokenCreated       = "token_created"
	TokenExpiring      = "token_expiring"
	TokenNewAddress    = "token_new_address"
	TokenReused        = "token_reused"
	CredentialChanged  = "credential_changed"
	CredentialExpiring = "credential_expiring"
	AccountDisabled    = "account_disabled"
)

// Category of each kind.
var categories = map[string]string{
	PasswordChanged: "security", EmailChanged: "security", TokenReused: "security", CredentialChanged: "security", AccountDisabled: "security",
	UsernameChanged: "account", CredentialExpiring: "account",
	TokenCreated: "tokens", TokenExpiring: "tokens", TokenNewAddress: "tokens",
}

// Category is the kind's category ("" for an unknown kind).
func Category(kind string) string { return categories[kind] }

// Kinds lists every kind.
func Kinds() []string {
	out := make([]string, 0, len(categories))
	for k := range categories {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

type text struct{ title, body string }

var texts = map[string]map[string]text{
	"en": {
		PasswordChanged:    {"Your password was changed", "The password of your account {username} was changed, and your other sessions were signed out. If this was not you, reset your password and contact support."},
		EmailChanged:       {"Your e-mail address was changed", "The e-mail address of your account {username} was changed. If this was not you, contact support at once."},
		UsernameChanged:    {"Your username is now {new}", "Your account's username changed from {old} to {new}. The old name is free for others to take."},
		TokenCreated:       {"New access token \"{title}\"", "An access token \"{title}\" was created for your account {username}. If this was not you, delete it and change your password."},
		TokenExpiring:      {"Access token \"{title}\" expires in {days} days", "Your access token \"{title}\" expires on {expires_at}. Rotate it before then to keep what uses it working."},
		TokenNewAddress:    {"Access token \"{title}\" used from a new address", "Your access token \"{title}\" was used from {address}, an address it had not been used from before. If this was not you, revoke it."},
		TokenReused:        {"A replaced secret of \"{title}\" was used; the token was revoked", "A secret that access token \"{title}\" had before it was rotated was used from {address}. Someone may hold a copy, so the token was revoked."},
		CredentialChanged:  {"Service credential for {service} changed", "The service credential for {service} on your account {username} was changed. If this was not you, contact support."},
		CredentialExpiring: {"Service credential for {service} expires in {days} days", "Your service credential for {service} expires on {expires_at}. Renew it before then."},
		AccountDisabled:    {"Your account was disabled", "An administrator disabled your account {username}. You cannot sign in until it is enabled again; contact support."},
	},
	"tr": {
		PasswordChanged:    {"Parolanız değiştirildi", "{username} hesabınızın parolası değiştirildi ve diğer oturumlarınız kapatıldı. Bu siz değilseniz parolanızı sıfırlayın ve destekle görüşün."},
		EmailChanged:       {"E-posta adresiniz değiştirildi", "{username} hesabınızın e-posta adresi değiştirildi. Bu siz değilseniz hemen destekle görüşün."},
		UsernameChanged:    {"Kullanıcı adınız artık {new}", "Hesabınızın kullanıcı adı {old} yerine {new} oldu. Eski ad artık başkaları tarafından alınabilir."},
		TokenCreated:       {"Yeni erişim belirteci \"{title}\"", "{username} hesabınız için \"{title}\" erişim belirteci oluşturuldu. Bu siz değilseniz belirteci silin ve parolanızı değiştirin."},
		TokenExpiring:      {"\"{title}\" erişim belirtecinin süresi {days} gün içinde doluyor", "\"{title}\" erişim belirtecinizin süresi {expires_at} tarihinde doluyor. Onu kullananlar çalışmaya devam etsin diye o zamandan önce yenileyin."},
		TokenNewAddress:    {"\"{title}\" erişim belirteci yeni bir adresten kullanıldı", "\"{title}\" erişim belirteciniz daha önce kullanılmadığı {address} adresinden kullanıldı. Bu siz değilseniz belirteci iptal edin."},
		TokenReused:        {"\"{title}\" belirtecinin eski gizli değeri kullanıldı; belirteç iptal edildi", "\"{title}\" erişim belirtecinin yenilenmeden önceki gizli değeri {address} adresinden kullanıldı. Birinin elinde kopyası olabilir; belirteç iptal edildi."},
		CredentialChanged:  {"{service} hizmet kimlik bilgisi değişti", "{username} hesabınızdaki {service} hizmet kimlik bilgisi değiştirildi. Bu siz değilseniz destekle görüşün."},
		CredentialExpiring: {"{service} hizmet kimlik bilgisinin süresi {days} gün içinde doluyor", "{service} hizmet kimlik bilginizin süresi {expires_at} tarihinde doluyor. O zamandan önce yenileyin."},
		AccountDisabled:    {"Hesabınız devre dışı bırakıldı", "Bir yönetici {username} hesabınızı devre dışı bıraktı. Yeniden etkinleştirilene kadar oturum açamazsınız; destekle görüşün."},
	},
}

// Lang is "tr" for Turkish tags, else "en".
func Lang(tag string) string {
	if tag == "tr" || strings.HasPrefix(tag, "tr-") {
		return "tr"
	}
	return "en"
}

// Title is the notification's one line, in lang.
func Title(kind, lang string, params map[string]string) string {
	return fill(lookup(kind, lang).title, params)
}

// FeedTitle is Title for the feed, where the params erased with the
// account (a token's title, a service) read as erased.
func FeedTitle(kind, lang string, params map[string]string, erased []string) string {
	s := lookup(kind, lang).title
	gone := "(" + erasedWord[Lang(lang)] + ")"
	for _, k := range erased {
		s = strings.ReplaceAll(strings.ReplaceAll(s, "\"{"+k+"}\"", gone), "{"+k+"}", gone)
	}
	return fill(s, params)
}

var erasedWord = map[string]string{"en": "erased", "tr": "silindi"}

// Body is the e-mail's text, in lang.
func Body(kind, lang string, params map[string]string) string {
	return fill(lookup(kind, lang).body, params)
}

func lookup(kind, lang string) text {
	if t, ok := texts[Lang(lang)][kind]; ok {
		return t
	}
	if t, ok := texts["en"][kind]; ok {
		return t
	}
	return text{kind, kind}
}

func fill(s string, params map[string]string) string {
	for k, v := range params {
		s = strings.ReplaceAll(s, "{"+k+"}", v)
	}
	return s
}
