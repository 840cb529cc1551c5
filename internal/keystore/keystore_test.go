package keystore_test

import (
	"crypto/rand"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/keystore"
	"github.com/accountd/accountd/internal/testenv"
)

func master(t *testing.T) []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSealOpenDestroy(t *testing.T) {
	p := testenv.Platform(t)
	ctx := t.Context()
	key := master(t)
	s, err := keystore.New(p.DB, key)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal(ctx, "u1", "user:u1:email", "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !events.Sealed(sealed) || strings.Contains(sealed, "ada@") {
		t.Fatalf("sealed value %q", sealed)
	}
	again, _ := s.Seal(ctx, "u1", "user:u1:email", "ada@example.com")
	if again == sealed {
		t.Fatal("two seals of one value are equal: the nonce is not fresh")
	}
	for _, tt := range []struct {
		name, owner, aad, value string
		want                    string
		wantErr                 bool
	}{
		{"the right owner and field", "u1", "user:u1:email", sealed, "ada@example.com", false},
		{"plaintext passes", "u1", "user:u1:email", "written before sealing", "written before sealing", false},
		{"another field", "u1", "user:u1:full_name", sealed, "", true},
		{"another owner", "u2", "user:u1:email", sealed, "", true},
		{"garbage", "u1", "user:u1:email", events.SealedPrefix + "!!", "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Open(ctx, tt.owner, tt.aad, tt.value)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("Open = %q, %v", got, err)
			}
		})
	}

	// A store with another secret key cannot unwrap the data key.
	other, _ := keystore.New(p.DB, master(t))
	if _, err := other.Open(ctx, "u1", "user:u1:email", sealed); err == nil || errors.Is(err, keystore.ErrErased) {
		t.Fatalf("wrong secret key: %v", err)
	}

	// Destroyed: unreadable here, and in a process that had not cached it.
	if err := s.Destroy(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	fresh, _ := keystore.New(p.DB, key)
	for _, st := range []*keystore.Store{s, fresh} {
		if _, err := st.Open(ctx, "u1", "user:u1:email", sealed); !errors.Is(err, keystore.ErrErased) {
			t.Fatalf("after destroy: %v", err)
		}
		if _, err := st.Seal(ctx, "u1", "user:u1:email", "new"); !errors.Is(err, keystore.ErrErased) {
			t.Fatalf("seal after destroy: %v", err)
		}
	}
	// An erased owner's payload opens with its personal fields empty.
	mail := sealed
	got, erased, err := fresh.OpenPayload(ctx, "u1", events.UserRegisteredV1{UserID: "u1", Username: "ada", Profile: events.Profile{"email": mail}})
	if err != nil || !erased || got.(events.UserRegisteredV1).Profile.Get("email") != "" || got.(events.UserRegisteredV1).Username != "ada" {
		t.Fatalf("OpenPayload = %+v, %v, %v", got, erased, err)
	}
}

// Processes creating an owner's key at once agree on one key.
func TestConcurrentFirstSealsShareOneKey(t *testing.T) {
	p := testenv.Platform(t)
	ctx := t.Context()
	key := master(t)
	var wg sync.WaitGroup
	sealed := make([]string, 8)
	for i := range sealed {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, _ := keystore.New(p.DB, key) // each its own cache, as separate processes
			var err error
			if sealed[i], err = s.Seal(ctx, "u9", "aad", "value"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	s, _ := keystore.New(p.DB, key)
	for _, v := range sealed {
		if got, err := s.Open(ctx, "u9", "aad", v); err != nil || got != "value" {
			t.Fatalf("Open = %q, %v", got, err)
		}
	}
}

func TestParseKey(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		ok       bool
	}{
		{"standard base64", "q2VGZ3Pj8f0zAqjl6wVDw8e2C4zAyeWn+0ZgOwkbxK8=", true},
		{"url-safe, unpadded", "q2VGZ3Pj8f0zAqjl6wVDw8e2C4zAyeWn-0ZgOwkbxK8", true},
		{"too short", "c2hvcnQ=", false},
		{"not base64", "not a key at all, not a key at all!!", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := keystore.ParseKey(tt.in); (err == nil) != tt.ok {
				t.Fatalf("ParseKey(%q): %v", tt.in, err)
			}
		})
	}
}

// Keys of other purposes derive from the secret key: the same for every
// store (replica) with that secret key, different per purpose and per
// secret key, and never the secret key itself.
func TestDerive(t *testing.T) {
	p := testenv.Platform(t)
	secret := master(t)
	derive := func(secret []byte, purpose string) string {
		s, err := keystore.New(p.DB, secret)
		if err != nil {
			t.Fatal(err)
		}
		k, err := s.Derive(purpose)
		if err != nil || len(k) != 32 {
			t.Fatalf("derive %s: %x %v", purpose, k, err)
		}
		return string(k)
	}
	device := derive(secret, "device-cookie")
	for name, tt := range map[string]struct {
		got  string
		same bool
	}{
		"another store, same secret": {derive(append([]byte(nil), secret...), "device-cookie"), true},
		"another purpose":            {derive(secret, "other"), false},
		"another secret":             {derive(master(t), "device-cookie"), false},
		"the secret itself":          {string(secret), false},
	} {
		if (tt.got == device) != tt.same {
			t.Errorf("%s: same key %v, want %v", name, tt.got == device, tt.same)
		}
	}
}
