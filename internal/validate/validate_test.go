package validate

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func codes(vs []Violation) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Code)
	}
	return out
}

func TestUsername(t *testing.T) {
	tests := []struct {
		name, input string
		want        []string
	}{
		{"plain", "ada", nil},
		{"letters and digits", "Ada1815", nil},
		{"max length", strings.Repeat("a", 39), nil},
		{"empty", "", []string{"username.required"}},
		{"too short", "ab", []string{"username.too_short"}},
		{"too long", strings.Repeat("a", 40), []string{"username.too_long"}},
		{"space", "ada lovelace", []string{"username.whitespace"}},
		{"tab", "ada\tl", []string{"username.whitespace"}},
		{"punctuation", "ada.l", []string{"username.punctuation"}},
		{"hyphen", "ada-l", []string{"username.punctuation"}},
		{"underscore", "ada_l", []string{"username.punctuation"}},
		{"symbol", "ada+l", []string{"username.punctuation"}},
		{"turkish letter", "çağrı", []string{"username.not_english_letters"}},
		{"leading digit", "1ada", []string{"username.starts_with_digit"}},
		{"reserved", "admin", []string{"username.reserved"}},
		{"reserved any case", "Settings", []string{"username.reserved"}},
		{"several rules", "1 a", []string{"username.whitespace", "username.starts_with_digit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := codes(Username("username", tt.input))
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Username(%q) = %v, want %v", tt.input, got, tt.want)
			}
		})
	}
}

func TestPassword(t *testing.T) {
	tests := []struct {
		name, password, username string
		want                     []string
	}{
		{"good", "correct7horse", "ada", nil},
		{"empty", "", "ada", []string{"password.required"}},
		{"too short", "abc1", "ada", []string{"password.too_short"}},
		{"max length", strings.Repeat("a", 255) + "1", "ada", nil},
		{"too long", strings.Repeat("a", 256) + "1", "ada", []string{"password.too_long"}},
		{"no digit", "correcthorse", "ada", []string{"password.needs_digit"}},
		{"no letter", "1234567890123", "ada", []string{"password.needs_letter"}},
		{"username", "Lovelace1815", "lovelace1815", []string{"password.contains_username"}},
		{"contains the username", "my-LOVELACE1815-pw", "Lovelace1815", []string{"password.contains_username"}},
		{"common", "password1", "ada", []string{"password.too_common"}},
		{"common any case", "PASSWORD1", "ada", []string{"password.too_common"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := codes(Password("password", tt.password, tt.username))
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Password(%q) = %v, want %v", tt.password, got, tt.want)
			}
		})
	}
}

func TestCommonPasswordListIsTheTop10000(t *testing.T) {
	if n := len(commonPasswords); n < 9900 || n > 10000 {
		t.Fatalf("list has %d distinct entries", n)
	}
	for _, p := range []string{"123456", "qwerty", "iloveyou"} {
		if !IsCommonPassword(p) {
			t.Errorf("%q should be common", p)
		}
	}
}

func TestEmail(t *testing.T) {
	tests := []struct {
		name, input string
		ok          bool
	}{
		{"plain", "ada@example.com", true},
		{"plus", "ada+news@mail.example.org", true},
		{"idn", "ada@örnek.com.tr", true},
		{"empty", "", false},
		{"no at", "ada.example.com", false},
		{"no domain dot", "ada@localhost", false},
		{"display name", "Ada <ada@example.com>", false},
		{"space", "ada @example.com", false},
		{"double dot domain", "ada@example..com", false},
		{"trailing dot", "ada@example.com.", false},
		{"hyphen label", "ada@-example.com", false},
		{"too long", strings.Repeat("a", 250) + "@x.io", false},
		{"two ats", "a@b@example.com", false},
		{"crlf after", "ada@example.com\r\nBcc: eve@example.com", false},
		{"line feed inside", "ada\n@example.com", false},
		{"line separator in the local part", "ada\u2028x@example.com", false},
		{"next line in the local part", "ada\u0085x@example.com", false},
		{"override in the local part", "ada\u202ex@example.com", false},
		{"non-ASCII local part", "çağrı@example.com", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := len(Email("email", tt.input)) == 0; got != tt.ok {
				t.Fatalf("Email(%q) valid=%v, want %v", tt.input, got, tt.ok)
			}
		})
	}
}

func TestLanguageAndTimezone(t *testing.T) {
	for _, tag := range []string{"en", "tr", "en-GB", "tr-TR"} {
		if _, v := Language("preferred_language", tag); v != nil {
			t.Errorf("%q rejected: %v", tag, v)
		}
	}
	for tag, code := range map[string]string{"": "preferred_language.invalid", "xx-!!": "preferred_language.invalid", "de": "preferred_language.unsupported",
		"und": "preferred_language.unsupported", "mul": "preferred_language.unsupported", "zxx": "preferred_language.unsupported"} {
		if _, v := Language("preferred_language", tag); len(v) != 1 || v[0].Code != code {
			t.Errorf("%q: got %v, want %s", tag, v, code)
		}
	}
	for _, tz := range []string{"UTC", "Europe/Istanbul", "America/Argentina/Buenos_Aires"} {
		if v := Timezone("preferred_timezone", tz); v != nil {
			t.Errorf("%q rejected", tz)
		}
	}
	for _, tz := range []string{"", "Local", "Mars/Olympus", "../etc/passwd", "/etc/localtime", "Factory", "posixrules",
		"Etc/UTC", "Etc/GMT+3", "EST5EDT", "EST", "US/Eastern", "Europe/../Asia/Tokyo"} {
		if v := Timezone("preferred_timezone", tz); v == nil {
			t.Errorf("%q accepted", tz)
		}
	}
}

// The rules both kinds of text share: length, UTF-8, no controls, no
// invisible characters.
func TestTextRulesOfBothKinds(t *testing.T) {
	multi := func(field, value string, max int) []Violation { _, vs := MultiLine(field, value, max); return vs }
	for kind, check := range map[string]func(field, value string, max int) []Violation{"single-line": SingleLine, "multi-line": multi} {
		t.Run(kind, func(t *testing.T) {
			if v := check("description", strings.Repeat("é", 1000), DescriptionMaxLength); v != nil {
				t.Fatalf("1000 characters rejected: %v", v)
			}
			if got := codes(check("description", strings.Repeat("é", 1001), DescriptionMaxLength)); !slices.Equal(got, []string{"description.too_long"}) {
				t.Fatalf("got %v", got)
			}
			for name, bad := range map[string]string{
				"nul": "Ada\x00", "escape": "Ada\x1b[31m", "delete": "Ada\x7f", "c1 control": "Ada\u0090", "vertical tab": "Ada\vx", "form feed": "Ada\fx",
				"right-to-left override": "Ada\u202e", "left-to-right embedding": "\u202aAda", "first-strong isolate": "Ada\u2068", "pop isolate": "Ada\u2069",
				"zero-width space": "A\u200bda", "byte order mark": "\ufeffAda", "left-to-right mark": "Ada\u200e", "soft hyphen": "A\u00adda",
			} {
				got := codes(check("full_name", bad, FullNameMaxLength))
				if !slices.Contains(got, "full_name.invalid_characters") && !(kind == "single-line" && slices.Equal(got, []string{"full_name.line_break"})) {
					t.Errorf("%s: got %v", name, got)
				}
			}
			if got := codes(check("full_name", "Ada\xff", FullNameMaxLength)); !slices.Equal(got, []string{"full_name.invalid_utf8"}) {
				t.Errorf("invalid UTF-8: got %v", got)
			}
			for _, good := range []string{"Çağrı Öztürk", "👩\u200d💻", "क्\u200dष", "tab\there", "שלום", ""} {
				if v := check("full_name", good, FullNameMaxLength); v != nil {
					t.Errorf("%q rejected: %v", good, v)
				}
			}
		})
	}
}

// A single-line field refuses every line and paragraph break, each by its
// own rule, naming the field.
func TestSingleLine(t *testing.T) {
	tests := []struct {
		name, input string
		want        []string
	}{
		{"plain", "Ada Lovelace", nil},
		{"tab", "Ada\tLovelace", nil},
		{"line feed", "Ada\nLovelace", []string{"title.line_break"}},
		{"carriage return", "Ada\rLovelace", []string{"title.line_break"}},
		{"crlf header injection", "Ada\r\nInjected: yes", []string{"title.line_break"}},
		{"line feed at the end", "Ada\n", []string{"title.line_break"}},
		{"vertical tab", "Ada\vLovelace", []string{"title.line_break"}},
		{"form feed", "Ada\fLovelace", []string{"title.line_break"}},
		{"next line U+0085", "Ada\u0085Lovelace", []string{"title.line_break"}},
		{"line separator U+2028", "Ada\u2028Lovelace", []string{"title.line_break"}},
		{"paragraph separator U+2029", "Ada\u2029Lovelace", []string{"title.line_break"}},
		{"a break and an invisible character", "Ada\n\u202e", []string{"title.line_break", "title.invalid_characters"}},
		{"too long and a break", strings.Repeat("x", 20) + "\n", []string{"title.too_long", "title.line_break"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs := SingleLine("title", tt.input, 20)
			if got := codes(vs); !slices.Equal(got, tt.want) {
				t.Fatalf("SingleLine(%q) = %v, want %v", tt.input, got, tt.want)
			}
			for _, v := range vs {
				if v.Field != "title" {
					t.Fatalf("violation of field %q", v.Field)
				}
			}
		})
	}
}

// A multi-line field keeps its lines, every ending made LF.
func TestMultiLine(t *testing.T) {
	tests := []struct {
		name, input, want string
		codes             []string
	}{
		{"one line", "Analyst", "Analyst", nil},
		{"line feeds stay", "a\nb\n\nc\n", "a\nb\n\nc\n", nil},
		{"crlf from a textarea", "a\r\nb\r\n", "a\nb\n", nil},
		{"lone carriage return", "a\rb", "a\nb", nil},
		{"cr cr lf is two lines", "a\r\r\nb", "a\n\nb", nil},
		{"lf cr is two lines", "a\n\rb", "a\n\nb", nil},
		{"next line U+0085", "a\u0085b", "a\nb", nil},
		{"line separator U+2028", "a\u2028b", "a\nb", nil},
		{"paragraph separator U+2029", "a\u2029b", "a\nb", nil},
		{"every kind at once", "1\r\n2\r3\n4\u00855\u20286\u20297", "1\n2\n3\n4\n5\n6\n7", nil},
		{"vertical tab is no line ending", "a\vb", "a\vb", []string{"note.invalid_characters"}},
		{"form feed is no line ending", "a\fb", "a\fb", []string{"note.invalid_characters"}},
		{"length counts the normalised text", strings.Repeat("a\r\n", 10), strings.Repeat("a\n", 10), nil},
		{"too long after normalising", strings.Repeat("a\r\n", 10) + "a", strings.Repeat("a\n", 10) + "a", []string{"note.too_long"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, vs := MultiLine("note", tt.input, 20)
			if got != tt.want || !slices.Equal(codes(vs), tt.codes) {
				t.Fatalf("MultiLine(%q) = %q %v, want %q %v", tt.input, got, codes(vs), tt.want, tt.codes)
			}
		})
	}
}

func FuzzUsername(f *testing.F) {
	for _, s := range []string{"ada", "1ada", "a b", "çağrı", "admin", strings.Repeat("z", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		vs := Username("username", name)
		valid := len(vs) == 0
		// A valid name is 3-39 ASCII letters/digits starting with a letter.
		want := len(name) >= 3 && len(name) <= 39 && !(name[0] >= '0' && name[0] <= '9') && !reservedUsernames[strings.ToLower(name)]
		for _, r := range name {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				want = false
			}
		}
		if valid != want {
			t.Fatalf("Username(%q) valid=%v, want %v (%v)", name, valid, want, codes(vs))
		}
	})
}

func FuzzPassword(f *testing.F) {
	for _, s := range []string{"correct7horse", "password1", "", "ü1ü1ü1ü1"} {
		f.Add(s, "ada")
	}
	f.Fuzz(func(t *testing.T, password, username string) {
		vs := Password("password", password, username)
		for _, v := range vs {
			if v.Field != "password" || !strings.HasPrefix(v.Code, "password.") {
				t.Fatalf("bad violation %+v", v)
			}
		}
		if len(vs) == 0 && (len([]rune(password)) < 8 || IsCommonPassword(password)) {
			t.Fatalf("Password(%q) accepted", password)
		}
	})
}

func FuzzEmail(f *testing.F) {
	for _, s := range []string{"ada@example.com", "a@b", "<a@b.c>", "\"a b\"@x.io"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, email string) {
		if len(Email("email", email)) == 0 {
			at := strings.LastIndexByte(email, '@')
			if at <= 0 || !strings.Contains(email[at:], ".") || strings.ContainsAny(email, " <>") {
				t.Fatalf("Email(%q) accepted", email)
			}
		}
	})
}

func FuzzLineRules(f *testing.F) {
	for _, s := range []string{"Ada", "a\r\nb", "a\rb\u2028c\u2029d\u0085e", "\r\r\n\n\r", "a\vb\fc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(SingleLine("f", s, 1<<20)) == 0 && strings.IndexFunc(s, IsLineBreak) >= 0 {
			t.Fatalf("SingleLine(%q) accepted a line break", s)
		}
		got, vs := MultiLine("f", s, 1<<20)
		if len(vs) == 0 && strings.ContainsAny(got, "\r\v\f\u0085\u2028\u2029") {
			t.Fatalf("MultiLine(%q) = %q keeps a line ending other than LF", s, got)
		}
		if again := NormalizeLineEndings(got); utf8.ValidString(s) && again != got {
			t.Fatalf("normalising %q twice: %q then %q", s, got, again)
		}
	})
}
