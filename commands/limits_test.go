package commands_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/commands/limitstest"
	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/eventlog"
)

func TestMemoryLimitsContract(t *testing.T) {
	limitstest.Run(t, func(t *testing.T, now func() time.Time) commands.Limits { return commands.NewMemoryLimits(now) })
}

// downLimits is a store of limits that cannot be reached: from its first
// request, or (whenCounting) on every count.
type downLimits struct{ whenCounting bool }

var errStoreDown = errors.New("nats: no responders available for request")

func (d downLimits) Limiter(context.Context, string, commands.Rate) (commands.Limiter, error) {
	if !d.whenCounting {
		return nil, errStoreDown
	}
	return downLimiter{}, nil
}

type downLimiter struct{}

func (downLimiter) Allow(context.Context, string) (bool, time.Duration, error) {
	return false, 0, errStoreDown
}
func (downLimiter) Check(context.Context, string) (bool, time.Duration, error) {
	return false, 0, errStoreDown
}
func (downLimiter) Take(context.Context, string) error { return errStoreDown }
func (downLimiter) Give(context.Context, string) error { return errStoreDown }

// Limits that cannot be counted are no free pass: every limited command is
// refused as unavailable (503) and records nothing, even with the right
// password.
func TestLimitsThatCannotBeCountedRefuse(t *testing.T) {
	for _, store := range []struct {
		name   string
		limits commands.Limits
	}{{"store down at the first request", downLimits{}}, {"store down when counting", downLimits{whenCounting: true}}} {
		t.Run(store.name, func(t *testing.T) {
			// Given an account written to the log directly (the limits are
			// down from the start).
			hs := newHarnessOn(t, eventlog.NewMemory(), commands.Config{Limits: store.limits})
			id := hs.givenUser("linus")
			before := hs.then(events.UserStream(id), commands.NoStream)
			cases := []struct {
				name string
				do   func() error
			}{
				{"sign-in", func() error {
					_, err := hs.h.SignIn(hs.ctx, commands.SignIn{Username: "linus", Password: "correct7horse"}, meta())
					return err
				}},
				{"registration", func() error {
					_, err := hs.h.RegisterUser(hs.ctx, commands.RegisterUser{Username: "grace", Password: "correct7horse"}, meta())
					return err
				}},
				{"password confirmation", func() error {
					return hs.h.ConfirmPassword(hs.ctx, commands.ConfirmPassword{UserID: id, Password: "correct7horse"}, meta())
				}},
				{"password change", func() error {
					_, err := hs.h.ChangePassword(hs.ctx, commands.ChangePassword{UserID: id, Current: "correct7horse", New: "newer8battery", Confirm: "newer8battery"}, meta())
					return err
				}},
				{"account deletion", func() error {
					_, err := hs.h.DeleteUser(hs.ctx, commands.DeleteUser{UserID: id, CurrentPassword: "correct7horse"}, meta())
					return err
				}},
				{"picture upload", func() error {
					_, err := hs.h.SetPicture(hs.ctx, commands.SetPicture{UserID: id, Data: pictureOf(t, 1)}, meta())
					return err
				}},
			}
			for _, c := range cases {
				err := c.do()
				var ue *commands.UnavailableError
				if !errors.As(err, &ue) || ue.RetryAfter <= 0 || !errors.Is(err, errStoreDown) {
					t.Errorf("%s: %v, want unavailable with a retry-after", c.name, err)
				}
			}
			if after := hs.then(events.UserStream(id), commands.NoStream); len(after) != len(before) {
				t.Fatalf("refused commands wrote %v", types(after[len(before):]))
			}
			if got := hs.then(events.UsernameStream("grace"), commands.NoStream); len(got) != 0 {
				t.Fatalf("a refused registration claimed its name: %v", types(got))
			}
		})
	}
}

// Two replicas sharing one store of limits count once: the registration
// limit and the sign-in throttle hold across them (each replica its own
// handlers, as each process has).
func TestReplicasSharingLimitsCountOnce(t *testing.T) {
	log := eventlog.NewMemory()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	shared := commands.NewMemoryLimits(func() time.Time { return now })
	cfg := commands.Config{Limits: shared, RegistrationLimit: commands.Rate{Burst: 3, Every: time.Hour},
		SignIn: commands.SignInLimits{PerAccountAddress: commands.Rate{Burst: 3, Every: time.Hour}}}
	a := newHarnessOn(t, log, cfg)
	cfg.Log, cfg.PasswordParams, cfg.Now = log, cheapHashing, func() time.Time { return now }
	other, err := commands.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b := *a
	b.h = other
	replicas := []*harness{a, &b}
	registered := 0
	for i := range 8 {
		hs := replicas[i%2]
		_, err := hs.h.RegisterUser(hs.ctx, commands.RegisterUser{Username: fmt.Sprint("user", i), Password: "correct7horse"}, meta())
		var te *commands.ThrottledError
		switch {
		case err == nil:
			registered++
		case !errors.As(err, &te) || te.Scope != commands.ScopeRegistration:
			t.Fatalf("registration %d: %v", i, err)
		}
	}
	if registered != 3 {
		t.Fatalf("%d registrations from one address over two replicas, want 3 in total", registered)
	}
	a.givenUser("linus")
	var got []string
	for i := range 5 {
		none := ""
		got = append(got, replicas[i%2].signInAs("linus", "wrong7horse", "192.0.2.1", &none))
	}
	want := []string{"wrong", "wrong", "wrong", commands.ScopeAccountAddress, commands.ScopeAccountAddress}
	if !slices.Equal(got, want) {
		t.Fatalf("wrong passwords alternating between replicas: %v, want %v", got, want)
	}
	// The owner elsewhere is not blocked, and a right password counts
	// nothing (the token taken up front is given back).
	for i := range 4 {
		none := ""
		if s := replicas[i%2].signInAs("linus", "correct7horse", "192.0.2.2", &none); s != "in" {
			t.Fatalf("owner's sign-in %d: %s", i+1, s)
		}
	}
}

// askedLimits records which limiters were asked for.
type askedLimits struct {
	commands.Limits
	mu    sync.Mutex
	asked []string
}

func (a *askedLimits) Limiter(ctx context.Context, name string, r commands.Rate) (commands.Limiter, error) {
	a.mu.Lock()
	a.asked = append(a.asked, name)
	a.mu.Unlock()
	return a.Limits.Limiter(ctx, name, r)
}

// Every limit's limiter is asked for at start, once, so the first requests
// on fresh servers do not wait for the shared buckets to be created; a
// store that is down at start is no reason to refuse to start.
func TestPrepareLimitsAsksForEveryLimitOnce(t *testing.T) {
	asked := &askedLimits{Limits: commands.NewMemoryLimits(nil)}
	hs := newHarnessOn(t, eventlog.NewMemory(), commands.Config{Limits: asked})
	if err := hs.h.PrepareLimits(hs.ctx); err != nil {
		t.Fatal(err)
	}
	if err := hs.h.PrepareLimits(hs.ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{commands.LimitPictureUpload, commands.LimitRegistration, commands.LimitSignInAccount,
		commands.LimitSignInAccountAddress, commands.LimitSignInAddress, commands.LimitSignInDevice}
	slices.Sort(asked.asked)
	if !slices.Equal(asked.asked, want) {
		t.Fatalf("asked for %q, want each of %q once", asked.asked, want)
	}

	t.Run("store down at start", func(t *testing.T) {
		down := newHarnessOn(t, eventlog.NewMemory(), commands.Config{Limits: downLimits{}})
		if err := down.h.PrepareLimits(down.ctx); !errors.Is(err, errStoreDown) {
			t.Fatalf("limits down at start: %v", err)
		}
	})
}
