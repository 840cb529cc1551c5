// Package validate checks account input against the product's documented
// rules. Each failed rule is a Violation with a stable code that the HTTP
// layer translates; nothing here knows about languages or transport.
package validate

import (
	_ "embed"
	"net/mail"
	"strings"
	"time"
	_ "time/tzdata" // IANA names must resolve on machines without a zoneinfo
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"
)

// Violation is one broken rule of one field.
type Violation struct {
	Field  string
	Code   string         // e.g. "username.too_short"
	Params map[string]int // values the message needs, e.g. {"min": 3}
}

// Limits from the product documentation.
const (
	UsernameMinLength    = 3
	UsernameMaxLength    = 39
	PasswordMinLength    = 8
	PasswordMaxLength    = 256
	FullNameMaxLength    = 200
	DescriptionMaxLength = 1000
	EmailMaxLength       = 254
)

// reservedUsernames would clash with routes (every first path segment of
// the API and the console: /{username} is a public profile page), roles
// or support addresses.
var reservedUsernames = wordSet(`
		about abuse account accounts admin administrator api app apps auth billing blog
		contact dashboard docs help home info login logout me mod moderator new null
		oauth openapi owner password postmaster privacy profile profiles register root
		security session sessions settings setup signin signout signup sitemap staff
		static status support system terms token tokens undefined user username users
		v1 v2 webmaster www healthz readyz metrics problems notifications reauth
		robots favicon well-known assets`)

func wordSet(words string) map[string]bool {
	set := map[string]bool{}
	for _, w := range strings.Fields(words) {
		set[w] = true
	}
	return set
}

// CanonicalUsername is the case-folded form that uniqueness is decided on.
func CanonicalUsername(name string) string { return strings.ToLower(name) }

// Username checks a username; all broken rules are reported.
func Username(field, name string) []Violation {
	if name == "" {
		return []Violation{{Field: field, Code: "username.required"}}
	}
	var out []Violation
	n := utf8.RuneCountInString(name)
	if n < UsernameMinLength {
		out = append(out, Violation{Field: field, Code: "username.too_short", Params: map[string]int{"min": UsernameMinLength}})
	}
	if n > UsernameMaxLength {
		out = append(out, Violation{Field: field, Code: "username.too_long", Params: map[string]int{"max": UsernameMaxLength}})
	}
	var space, punct, other bool
	for _, r := range name {
		switch {
		case r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)):
		case unicode.IsSpace(r):
			space = true
		case unicode.IsPunct(r) || unicode.IsSymbol(r):
			punct = true
		default:
			other = true
		}
	}
	if space {
		out = append(out, Violation{Field: field, Code: "username.whitespace"})
	}
	if punct {
		out = append(out, Violation{Field: field, Code: "username.punctuation"})
	}
	if other {
		out = append(out, Violation{Field: field, Code: "username.not_english_letters"})
	}
	if name[0] >= '0' && name[0] <= '9' {
		out = append(out, Violation{Field: field, Code: "username.starts_with_digit"})
	}
	if reservedUsernames[CanonicalUsername(name)] {
		out = append(out, Violation{Field: field, Code: "username.reserved"})
	}
	return out
}

//go:embed common-passwords.txt
var commonPasswordList string

// commonPasswords holds the 10,000 most common passwords (SecLists' "10
// million password list", top 10,000), compared case-insensitively.
var commonPasswords = func() map[string]bool {
	set := make(map[string]bool, 10000)
	for _, p := range strings.Split(commonPasswordList, "\n") {
		if p != "" {
			set[strings.ToLower(p)] = true
		}
	}
	return set
}()

// IsCommonPassword reports whether p is on the common-password list.
func IsCommonPassword(p string) bool { return commonPasswords[strings.ToLower(p)] }

// Password checks a new password for the account called username.
func Password(field, password, username string) []Violation {
	if password == "" {
		return []Violation{{Field: field, Code: "password.required"}}
	}
	var out []Violation
	n := utf8.RuneCountInString(password)
	if n < PasswordMinLength {
		out = append(out, Violation{Field: field, Code: "password.too_short", Params: map[string]int{"min": PasswordMinLength}})
	}
	if n > PasswordMaxLength {
		out = append(out, Violation{Field: field, Code: "password.too_long", Params: map[string]int{"max": PasswordMaxLength}})
	}
	var letter, digit bool
	for _, r := range password {
		letter = letter || unicode.IsLetter(r)
		digit = digit || unicode.IsDigit(r)
	}
	if !letter {
		out = append(out, Violation{Field: field, Code: "password.needs_letter"})
	}
	if !digit {
		out = append(out, Violation{Field: field, Code: "password.needs_digit"})
	}
	if username != "" && strings.Contains(strings.ToLower(password), strings.ToLower(username)) {
		out = append(out, Violation{Field: field, Code: "password.contains_username"})
	}
	if IsCommonPassword(password) {
		out = append(out, Violation{Field: field, Code: "password.too_common"})
	}
	return out
}

// Email checks a bare address such as "ada@example.com".
func Email(field, email string) []Violation {
	bad := []Violation{{Field: field, Code: "email.invalid"}}
	if email == "" || len(email) > EmailMaxLength || !utf8.ValidString(email) {
		return bad
	}
	// net/mail takes any non-ASCII character in the local part, line and
	// paragraph separators and invisible ones included; an address goes
	// into headers and the SMTP envelope.
	if strings.IndexFunc(email, func(r rune) bool { return IsLineBreak(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) >= 0 {
		return bad
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Name != "" || addr.Address != email {
		return bad // display names, comments and angle brackets are not addresses
	}
	at := strings.LastIndexByte(email, '@')
	local, domain := email[:at], email[at+1:]
	if local == "" || !validDomain(domain) {
		return bad
	}
	return nil
}

func validDomain(domain string) bool {
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false // a mailbox needs a qualified domain
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
				return false
			}
		}
	}
	return true
}

// The two kinds of free text. Every free-text field is one or the other,
// and goes through SingleLine or MultiLine; nothing else decides what a
// line break is.
//
// Both refuse control characters and invisible format characters
// (bidirectional overrides and isolates, zero-width spaces, byte order
// marks...) with which a name could pass for another; joiners stay
// allowed (scripts and emoji need them), and so does a tab.

// SingleLine checks a one-line field (a full name, a token's title, a
// credential's service or account name, a department...): a value that
// ends up in a header, a log line, a CSV cell or an e-mail subject must not
// be able to start a line of its own. Any line or paragraph break is
// refused with <field>.line_break: CR, LF, VT, FF, NEL (U+0085), the line
// separator U+2028 and the paragraph separator U+2029 (Unicode Zl, Zp).
func SingleLine(field, value string, maxLength int) []Violation {
	return checkText(field, value, maxLength, true)
}

// MultiLine checks a field that may hold several lines (a description, a
// credential's note) and returns it with every line ending made LF:
// CRLF, a lone CR, NEL (U+0085) and the line and paragraph separators
// U+2028 and U+2029 each become one LF, so a stored text has one kind of
// line break whatever sent it (browsers send CRLF from a textarea). VT
// and FF are page controls, not line endings, and stay refused. The
// length is that of the normalised text.
func MultiLine(field, value string, maxLength int) (string, []Violation) {
	if !utf8.ValidString(value) {
		return value, []Violation{{Field: field, Code: field + ".invalid_utf8"}}
	}
	value = NormalizeLineEndings(value)
	return value, checkText(field, value, maxLength, false)
}

// NormalizeLineEndings makes every line ending LF: CRLF, lone CR, NEL,
// U+2028 and U+2029 each become one LF.
func NormalizeLineEndings(s string) string {
	if !strings.ContainsAny(s, "\r\u0085\u2028\u2029") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\r' && strings.HasPrefix(s[i+size:], "\n"):
			// CRLF: the LF that follows is written next
		case r == '\r' || r == '\u0085' || r == '\u2028' || r == '\u2029':
			b.WriteByte('\n')
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// IsLineBreak reports whether r breaks a line or a paragraph: CR, LF, VT,
// FF, NEL, and the Unicode categories Zl and Zp.
func IsLineBreak(r rune) bool {
	switch r {
	case '\n', '\r', '\v', '\f', '\u0085':
		return true
	}
	return unicode.In(r, unicode.Zl, unicode.Zp)
}

// checkText applies the common rules, and the single-line one when asked;
// each broken rule is reported once.
func checkText(field, value string, maxLength int, singleLine bool) []Violation {
	if !utf8.ValidString(value) {
		return []Violation{{Field: field, Code: field + ".invalid_utf8"}}
	}
	var out []Violation
	if utf8.RuneCountInString(value) > maxLength {
		out = append(out, Violation{Field: field, Code: field + ".too_long", Params: map[string]int{"max": maxLength}})
	}
	var lineBreak, invalid bool
	for _, r := range value {
		switch {
		case singleLine && IsLineBreak(r):
			lineBreak = true
		case r == '\n' || r == '\t':
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r) && r != '\u200c' && r != '\u200d', unicode.In(r, unicode.Zl, unicode.Zp):
			invalid = true
		}
	}
	if lineBreak {
		out = append(out, Violation{Field: field, Code: field + ".line_break"})
	}
	if invalid {
		out = append(out, Violation{Field: field, Code: field + ".invalid_characters"})
	}
	return out
}

// SupportedLanguages are the languages the service has messages in.
var SupportedLanguages = []language.Tag{language.English, language.Turkish}

// Language checks a BCP 47 tag and returns its canonical form. Only tags
// whose language is one the service has messages in are accepted: "und"
// (undetermined) and "mul" are not languages one can be answered in.
func Language(field, tag string) (string, []Violation) {
	t, err := language.Parse(tag)
	if err != nil || tag == "" {
		return "", []Violation{{Field: field, Code: "preferred_language.invalid"}}
	}
	base, confidence := t.Base()
	if confidence == language.Exact {
		for _, s := range SupportedLanguages {
			if sb, _ := s.Base(); sb == base {
				return t.String(), nil
			}
		}
	}
	return "", []Violation{{Field: field, Code: "preferred_language.unsupported"}}
}

// Timezone checks an IANA time zone name of a place, such as
// "Europe/Istanbul", or "UTC". The tz database's other entries (Factory,
// posixrules, Etc/GMT+3, EST5EDT, the legacy US/... aliases) are not
// places one lives in.
func Timezone(field, name string) []Violation {
	bad := []Violation{{Field: field, Code: "preferred_timezone.unknown"}}
	if name == "UTC" {
		return nil
	}
	area, _, ok := strings.Cut(name, "/")
	if !ok || !locationAreas[area] || strings.Contains(name, "..") {
		return bad
	}
	if _, err := time.LoadLocation(name); err != nil {
		return bad
	}
	return nil
}

// locationAreas are the tz database's areas of places.
var locationAreas = wordSet("Africa America Antarctica Arctic Asia Atlantic Australia Europe Indian Pacific")
