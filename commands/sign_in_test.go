package commands_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/devices"
	"github.com/accountd/accountd/internal/eventlog"
)

// signInAs tries a sign-in from address with the device value given and
// says how it went: "in", "wrong", or the throttle scope; the device value
// of a success is in *device.
func (hs *harness) signInAs(name, pw, address string, device *string) string {
	hs.t.Helper()
	m := meta()
	m.ClientIP = address
	in, err := hs.h.SignIn(hs.ctx, commands.SignIn{Username: name, Password: pw, Device: *device}, m)
	return hs.outcome(err, func() { *device = in.Device })
}

func (hs *harness) outcome(err error, ok func()) string {
	hs.t.Helper()
	var te *commands.ThrottledError
	switch {
	case err == nil:
		ok()
		return "in"
	case errors.As(err, &te):
		if te.RetryAfter <= 0 {
			hs.t.Fatalf("no retry-after: %+v", te)
		}
		return te.Scope
	case errors.Is(err, commands.ErrInvalidCredentials), errors.Is(err, commands.ErrWrongPassword):
		return "wrong"
	}
	hs.t.Fatal(err)
	return ""
}

// distributedAttack: 22 addresses with 5 wrong passwords each, more than
// the account's ceiling of 100.
func (hs *harness) distributedAttack(name string) {
	hs.t.Helper()
	counts := map[string]int{}
	for i := range 22 {
		for range 5 {
			none := ""
			counts[hs.signInAs(name, "wrong7horse", fmt.Sprintf("198.51.100.%d", i), &none)]++
		}
	}
	if counts["wrong"] != 100 || counts[commands.ScopeAccount] != 10 {
		hs.t.Fatalf("attack: %v", counts)
	}
}

// A distributed guesser cannot lock the owner out of a device they signed
// in from before (OWASP device cookies): attempts with a valid device value
// have their own bucket, which the account's ceiling does not block; an
// unknown device is limited as before.
func TestKnownDeviceSignsInThroughADistributedAttack(t *testing.T) {
	hs := newHarness(t)
	hs.givenUser("linus")
	hs.givenUser("grace")
	var laptop, graces string
	if got := hs.signInAs("linus", "correct7horse", "192.0.2.10", &laptop); got != "in" || len(laptop) != devices.Len {
		t.Fatalf("first sign-in: %s, device %q", got, laptop)
	}
	if got := hs.signInAs("grace", "correct7horse", "192.0.2.11", &graces); got != "in" {
		t.Fatalf("grace: %s", got)
	}
	hs.distributedAttack("linus")
	for _, tt := range []struct {
		name, address string
		device        string
		want          string
	}{
		{"no device, from a fresh address", "192.0.2.20", "", commands.ScopeAccount},
		{"another account's device", "192.0.2.20", graces, commands.ScopeAccount},
		{"a forged device", "192.0.2.20", strings.Repeat("A", devices.Len), commands.ScopeAccount},
		{"the known device, from a fresh address", "192.0.2.21", laptop, "in"},
		{"the known device, from an attacking address", "198.51.100.3", laptop, "in"},
	} {
		device := tt.device
		if got := hs.signInAs("linus", "correct7horse", tt.address, &device); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}

// A known device that fails too often is locked out on its own: its
// wrong passwords do not count against the account, so others (the owner
// on another device) are not affected.
func TestKnownDeviceIsLockedOutOnItsOwn(t *testing.T) {
	hs := newHarnessOn(t, eventlog.NewMemory(), commands.Config{SignIn: commands.SignInLimits{
		PerAccountAddress: commands.Rate{Burst: 3, Every: time.Hour},
		PerAccount:        commands.Rate{Burst: 3, Every: time.Hour},
		PerDevice:         commands.Rate{Burst: 3, Every: time.Hour},
	}})
	hs.givenUser("linus")
	var stolen, phone string
	hs.signInAs("linus", "correct7horse", "192.0.2.1", &stolen)
	hs.signInAs("linus", "correct7horse", "192.0.2.2", &phone)
	var got []string
	for range 4 {
		d := stolen
		got = append(got, hs.signInAs("linus", "wrong7horse", "192.0.2.1", &d))
	}
	d := stolen
	got = append(got, hs.signInAs("linus", "correct7horse", "192.0.2.1", &d)) // locked, even with the password
	d = phone
	got = append(got, hs.signInAs("linus", "correct7horse", "192.0.2.1", &d)) // another device, same address
	none := ""
	got = append(got, hs.signInAs("linus", "correct7horse", "192.0.2.1", &none)) // no device: the account's buckets are untouched
	want := []string{"wrong", "wrong", "wrong", commands.ScopeDevice, commands.ScopeDevice, "in", "in"}
	if !slices.Equal(got, want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
	// A device that signs in again keeps its identity, hence its bucket.
	hs.now = hs.now.Add(time.Minute)
	renewed := phone
	if s := hs.signInAs("linus", "correct7horse", "192.0.2.2", &renewed); s != "in" || renewed == phone {
		t.Fatalf("renewal: %s, %q", s, renewed)
	}
	for range 3 {
		d := renewed
		hs.signInAs("linus", "wrong7horse", "192.0.2.2", &d)
	}
	if s := hs.signInAs("linus", "correct7horse", "192.0.2.2", &phone); s != commands.ScopeDevice {
		t.Fatalf("the renewed value is another device: the old one is %s", s)
	}
}

// Every replica with the same secret key accepts the device values of the
// others: the signer keeps nothing but its key.
func TestDeviceValuesHoldAcrossReplicas(t *testing.T) {
	log := eventlog.NewMemory()
	key := []byte("0123456789abcdef0123456789abcdef")
	signer := func() *devices.Signer {
		s, err := devices.New(key, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	first := newHarnessOn(t, log, commands.Config{Devices: signer()})
	first.givenUser("linus")
	var device string
	if got := first.signInAs("linus", "correct7horse", "192.0.2.1", &device); got != "in" {
		t.Fatal(got)
	}
	second, err := commands.New(commands.Config{Log: log, PasswordParams: cheapHashing, Devices: signer(),
		SignIn: commands.SignInLimits{PerAccount: commands.Rate{Burst: 1, Every: time.Hour}}})
	if err != nil {
		t.Fatal(err)
	}
	m := meta()
	_, _ = second.SignIn(first.ctx, commands.SignIn{Username: "linus", Password: "wrong7horse"}, m) // the account's one failure
	if _, err := second.SignIn(first.ctx, commands.SignIn{Username: "linus", Password: "correct7horse", Device: device}, m); err != nil {
		t.Fatalf("the other replica refused the device: %v", err)
	}
	var te *commands.ThrottledError
	if _, err := second.SignIn(first.ctx, commands.SignIn{Username: "linus", Password: "correct7horse"}, m); !errors.As(err, &te) {
		t.Fatalf("without the device: %v", err)
	}
}

// Confirming the password from a signed-in session (change it, reveal a
// secret, delete the account, the console's re-authentication) is like a
// known device: the session has its own bucket, and a distributed storm on
// the sign-in does not stop the owner changing the password. A token shares
// the account's buckets.
func TestConfirmationsFromASessionAreNotLockedOutByAnAttack(t *testing.T) {
	hs := newHarnessOn(t, eventlog.NewMemory(), commands.Config{SignIn: commands.SignInLimits{PerDevice: commands.Rate{Burst: 2, Every: time.Hour}}})
	id := hs.givenUser("linus")
	hs.distributedAttack("linus")
	from := func(kind, credential string) events.Metadata {
		m := meta()
		m.Actor, m.CredentialKind, m.CredentialID = id, kind, credential
		return m
	}
	confirm := func(m events.Metadata, pw string) string {
		return hs.outcome(hs.h.ConfirmPassword(hs.ctx, commands.ConfirmPassword{UserID: id, Password: pw}, m), func() {})
	}
	for _, tt := range []struct {
		name string
		meta events.Metadata
		pw   string
		want string
	}{
		{"a token", from("token", "t1"), "correct7horse", commands.ScopeAccount},
		{"nothing", meta(), "correct7horse", commands.ScopeAccount},
		{"a session", from("session", "s1"), "correct7horse", "in"},
		{"a session, wrong", from("session", "s2"), "wrong7horse", "wrong"},
		{"a session, wrong again", from("session", "s2"), "wrong7horse", "wrong"},
		{"a session out of attempts", from("session", "s2"), "correct7horse", commands.ScopeSession},
		{"another session", from("session", "s1"), "correct7horse", "in"},
	} {
		if got := confirm(tt.meta, tt.pw); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
	_, err := hs.h.ChangePassword(hs.ctx, commands.ChangePassword{UserID: id, SessionID: "s1", Current: "correct7horse", New: "battery9staple", Confirm: "battery9staple"}, from("session", "s1"))
	if err != nil {
		t.Fatalf("change the password during the attack: %v", err)
	}
}

// countingLog records which streams are read.
type countingLog struct {
	commands.EventLog
	mu    sync.Mutex
	reads []string
}

func (l *countingLog) ReadStream(ctx context.Context, stream string, after commands.Version) ([]events.Recorded, error) {
	l.mu.Lock()
	l.reads = append(l.reads, events.Category(stream))
	l.mu.Unlock()
	return l.EventLog.ReadStream(ctx, stream, after)
}

func (l *countingLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.reads
	l.reads = nil
	return out
}

// A name of no account and a real one with a wrong password read the same
// streams (the name's, then a user's), so their timing does not tell them
// apart; TestUnknownAndKnownNamesTakeAsLong (internal/app) times them.
func TestUnknownAndKnownNamesReadTheSame(t *testing.T) {
	log := &countingLog{EventLog: eventlog.NewMemory()}
	hs := newHarnessOn(t, log, commands.Config{})
	hs.givenUser("linus")
	// Twice each: the first reads cold, the second with the streams cached.
	for round := range 2 {
		var reads [2][]string
		for i, name := range []string{"linus", fmt.Sprint("nobody", round)} {
			log.take()
			if _, err := hs.h.SignIn(hs.ctx, commands.SignIn{Username: name, Password: "wrong7horse"}, meta()); !errors.Is(err, commands.ErrInvalidCredentials) {
				t.Fatal(err)
			}
			reads[i] = log.take()
		}
		if !slices.Equal(reads[0], reads[1]) || len(reads[0]) != 2 {
			t.Fatalf("round %d: a known name reads %v, an unknown one %v", round, reads[0], reads[1])
		}
	}
}

// Failed and throttled password checks are security events in the log,
// with the account's id and the address: never the name the client typed
// (it may be a password typed into the wrong field), nor the password, nor
// more than 64 bytes of the address.
func TestSignInFailuresAreSecurityEvents(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return buf.Write(p) }), nil))
	hs := newHarnessOn(t, eventlog.NewMemory(), commands.Config{Logger: logger, SignIn: commands.SignInLimits{PerAccountAddress: commands.Rate{Burst: 1, Every: time.Hour}}})
	id := hs.givenUser("linus")
	longAddress := strings.Repeat("2001:db8::1%", 20)
	for _, tt := range []struct {
		name        string
		username    string
		address     string
		wantEvents  []string
		wantUser    string
		wantScope   string
		wantAddress string
		absent      []string
	}{
		{"a real account", "Linus", "192.0.2.1", []string{"password_check_failed", "throttled"}, id, commands.ScopeAccountAddress, "192.0.2.1",
			[]string{"linus", "Linus", "wrong7horse"}},
		{"a password typed as the username", "Tr0ub4dor&3xyzzy", "192.0.2.2", []string{"password_check_failed", "throttled"}, "", commands.ScopeAccountAddress, "192.0.2.2",
			[]string{"Tr0ub4dor", "tr0ub4dor", "wrong7horse"}},
		{"a long address", "linus", longAddress, []string{"password_check_failed", "throttled"}, id, commands.ScopeAccountAddress, longAddress[:64],
			[]string{longAddress[:65]}},
	} {
		mu.Lock()
		buf.Reset()
		mu.Unlock()
		m := meta()
		m.ClientIP = tt.address
		for range 2 {
			_, _ = hs.h.SignIn(hs.ctx, commands.SignIn{Username: tt.username, Password: "wrong7horse"}, m)
		}
		mu.Lock()
		logged := buf.String()
		mu.Unlock()
		lines := strings.Split(strings.TrimSpace(logged), "\n")
		if len(lines) != len(tt.wantEvents) {
			t.Errorf("%s: log\n%s", tt.name, logged)
			continue
		}
		for i, line := range lines {
			var e map[string]any
			_ = json.Unmarshal([]byte(line), &e)
			if e["event"] != tt.wantEvents[i] || e["address"] != tt.wantAddress || e["account"] != nil || e["username"] != nil {
				t.Errorf("%s: event %v", tt.name, e)
			}
			if user, _ := e["user_id"].(string); user != tt.wantUser {
				t.Errorf("%s: user_id %q, want %q", tt.name, user, tt.wantUser)
			}
			if e["event"] == "throttled" && e["scope"] != tt.wantScope {
				t.Errorf("%s: scope %v", tt.name, e["scope"])
			}
		}
		for _, s := range tt.absent {
			if strings.Contains(logged, s) {
				t.Errorf("%s: %q logged:\n%s", tt.name, s, logged)
			}
		}
	}
}
