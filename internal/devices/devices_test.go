package devices

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func TestDeviceValues(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	key := bytes.Repeat([]byte{7}, 32)
	s, err := New(key, 0, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	// Another replica with the same key accepts the values of the first.
	replica, _ := New(bytes.Clone(key), 0, func() time.Time { return now })
	otherKey, _ := New(bytes.Repeat([]byte{8}, 32), 0, func() time.Time { return now })
	value, err := s.Issue("ada", "")
	if err != nil {
		t.Fatal(err)
	}
	device, ok := replica.Verify("ada", value)
	if !ok || len(device) != 32 || len(value) != Len || strings.Contains(value, "ada") {
		t.Fatalf("value %q: device %q %v", value, device, ok)
	}
	again, _ := s.Issue("ada", device)
	if d, ok := s.Verify("ada", again); !ok || d != device {
		t.Fatalf("reissued %q: %q %v", again, d, ok)
	}
	if other, _ := s.Issue("ada", ""); other == value {
		t.Fatal("two devices got the same value")
	}
	flipped := []byte(value)
	flipped[10] ^= 1
	raw, _ := base64.RawURLEncoding.DecodeString(value)
	raw[0] = 2
	for name, tt := range map[string]struct {
		signer  *Signer
		account string
		value   string
	}{
		"another account":   {s, "grace", value},
		"no account":        {s, "", value},
		"another key":       {otherKey, "ada", value},
		"altered":           {s, "ada", string(flipped)},
		"another version":   {s, "ada", base64.RawURLEncoding.EncodeToString(raw)},
		"empty":             {s, "ada", ""},
		"garbage":           {s, "ada", strings.Repeat("!", Len)},
		"too long":          {s, "ada", value + "AAAA"},
		"truncated":         {s, "ada", value[:Len-4]},
		"padded base64 std": {s, "ada", base64.StdEncoding.EncodeToString(raw)},
	} {
		if d, ok := tt.signer.Verify(tt.account, tt.value); ok {
			t.Errorf("%s: accepted (device %q)", name, d)
		}
	}
	// It expires.
	now = now.Add(DefaultTTL + time.Second)
	if _, ok := s.Verify("ada", value); ok {
		t.Fatal("an expired value was accepted")
	}
	// One from the far future was not issued by us (or our clocks).
	now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC).Add(-2 * time.Hour)
	if _, ok := s.Verify("ada", value); ok {
		t.Fatal("a value issued in the future was accepted")
	}
	if _, err := New(make([]byte, 16), 0, nil); err == nil {
		t.Fatal("a short key was taken")
	}
}
