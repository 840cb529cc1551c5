package notices

import (
	"strings"
	"testing"
)

func TestEveryKindInBothLanguages(t *testing.T) {
	for _, k := range Kinds() {
		for _, lang := range []string{"en", "tr"} {
			if _, ok := texts[lang][k]; !ok {
				t.Errorf("%s has no %s text", k, lang)
			}
		}
		if Category(k) == "" {
			t.Errorf("%s has no category", k)
		}
	}
}

func TestRender(t *testing.T) {
	for _, tt := range []struct {
		kind, lang string
		params     map[string]string
		want       string
	}{
		{UsernameChanged, "en", map[string]string{"old": "ada", "new": "countess"}, "Your username is now countess"},
		{UsernameChanged, "tr-TR", map[string]string{"old": "ada", "new": "countess"}, "Kullanıcı adınız artık countess"},
		{TokenExpiring, "en", map[string]string{"title": "ci", "days": "7"}, `Access token "ci" expires in 7 days`},
		{"from_the_future", "en", nil, "from_the_future"},
	} {
		if got := Title(tt.kind, tt.lang, tt.params); got != tt.want {
			t.Errorf("%s/%s: %q, want %q", tt.kind, tt.lang, got, tt.want)
		}
	}
	if b := Body(PasswordChanged, "en", map[string]string{"username": "ada"}); !strings.Contains(b, "account ada") {
		t.Errorf("body %q", b)
	}
}

func TestFeedTitleOfErasedParams(t *testing.T) {
	for _, tt := range []struct {
		name, kind, lang string
		params           map[string]string
		erased           []string
		want             string
	}{
		{"nothing erased", TokenCreated, "en", map[string]string{"title": "ci"}, nil, `New access token "ci"`},
		{"a quoted title", TokenCreated, "en", map[string]string{}, []string{"title"}, `New access token (erased)`},
		{"in Turkish", TokenExpiring, "tr", map[string]string{"days": "7"}, []string{"title"}, `(silindi) erişim belirtecinin süresi 7 gün içinde doluyor`},
		{"a service", CredentialChanged, "en", map[string]string{}, []string{"service"}, `Service credential for (erased) changed`},
	} {
		if got := FeedTitle(tt.kind, tt.lang, tt.params, tt.erased); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
