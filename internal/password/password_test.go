package password

import (
	"strings"
	"testing"
)

// cheap keeps the tests fast; the format and the comparison are the same.
var cheap = Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1}

func TestDefaultIsOWASPArgon2id(t *testing.T) {
	h, err := Hash("correct7horse", Default())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q does not use argon2id 19 MiB, t=2, p=1", h)
	}
	ok, err := Verify("correct7horse", h)
	if err != nil || !ok {
		t.Fatalf("Verify = %v, %v", ok, err)
	}
}

func TestVerify(t *testing.T) {
	h, err := Hash("correct7horse", cheap)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := Hash("correct7horse", cheap)
	if h == other {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	tests := []struct {
		name, password, hash string
		ok                   bool
		err                  error
	}{
		{"right", "correct7horse", h, true, nil},
		{"wrong", "correct7horsf", h, false, nil},
		{"empty", "", h, false, nil},
		{"not phc", "correct7horse", "plain", false, ErrMalformedHash},
		{"bcrypt", "correct7horse", "$2a$10$abcdefghijklmnopqrstuu", false, ErrMalformedHash},
		{"bad salt", "correct7horse", "$argon2id$v=19$m=64,t=1,p=1$!!$AAAA", false, ErrMalformedHash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := Verify(tt.password, tt.hash)
			if ok != tt.ok || err != tt.err {
				t.Fatalf("Verify = %v, %v; want %v, %v", ok, err, tt.ok, tt.err)
			}
		})
	}
}
