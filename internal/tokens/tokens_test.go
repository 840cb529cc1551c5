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

func TestPATs(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		p, err := NewPAT()
		if err != nil {
			t.Fatal(err)
		}
		if !ValidPAT(p.Token) || len(p.Token) != 42 || p.Prefix != p.Token[:12] || p.Digest != PATDigest(p.Token) || seen[p.Token] {
			t.Fatalf("%+v", p)
		}
		seen[p.Token] = true
		// Any one changed character is caught by the checksum.
		for i := 4; i < len(p.Token); i++ {
			b := []byte(p.Token)
			if b[i] == 'a' {
				b[i] = 'b'
			} else {
				b[i] = 'a'
			}
			if ValidPAT(string(b)) {
				t.Fatalf("typo at %d passed: %s", i, b)
			}
		}
	}
	// The checksum is CRC32 IEEE in base62, most significant first.
	body := "acp_" + strings.Repeat("A", 32)
	if got := checksum(body); got != "2aYmK3" { // computed independently: zlib.crc32 in Python
		t.Fatalf("checksum %q", got)
	}
	for _, bad := range []string{"", "acp_", "acs_" + strings.Repeat("a", 38), "acp_" + strings.Repeat("-", 38), "acp_" + strings.Repeat("a", 39)} {
		if ValidPAT(bad) {
			t.Errorf("%q valid", bad)
		}
	}
}

func FuzzValidPAT(f *testing.F) {
	p, _ := NewPAT()
	f.Add(p.Token)
	f.Add("acp_")
	f.Fuzz(func(t *testing.T, s string) {
		if ValidPAT(s) && (len(s) != PATLength || !strings.HasPrefix(s, "acp_")) {
			t.Fatalf("%q", s)
		}
	})
}
