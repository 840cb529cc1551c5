package tokens

import (
	"strings"
	"testing"
)

func TestSessionTokens(t *testing.T) {
	m, err := NewSession()
	if err != nil {
		t.Fatal(err)
	}
	id, secret, ok := ParseSession(m.Token)
	if !ok || id != m.ID || !Matches(secret, m.Digest) || strings.Contains(m.Digest, secret) {
		t.Fatalf("minted %+v parsed %s %s %v", m, id, secret, ok)
	}
	for name, token := range map[string]string{
		"empty":      "",
		"no prefix":  strings.TrimPrefix(m.Token, "acs_"),
		"short id":   "acs_6ba7b810_" + secret,
		"bad hex":    "acs_zz" + m.Token[6:],
		"no secret":  m.Token[:4+32+1],
		"no divider": "acs_" + strings.Repeat("a", 40),
	} {
		if _, _, ok := ParseSession(token); ok {
			t.Errorf("%s: %q parsed", name, token)
		}
	}
	if Matches(secret+"x", m.Digest) {
		t.Fatal("a wrong secret matched")
	}
}

func FuzzParseSession(f *testing.F) {
	m, _ := NewSession()
	f.Add(m.Token)
	f.Add("acs_")
	f.Fuzz(func(t *testing.T, token string) {
		id, secret, ok := ParseSession(token)
		if ok && (len(id) != 36 || secret == "" || !strings.HasPrefix(token, "acs_")) {
			t.Fatalf("%q parsed as %q %q", token, id, secret)
		}
	})
}
