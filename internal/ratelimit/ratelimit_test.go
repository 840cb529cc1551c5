package ratelimit

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Unix(0, 0)
	l := New(3, 10*time.Second, func() time.Time { return now })
	for i := range 3 {
		if ok, _ := l.Allow("ada"); !ok {
			t.Fatalf("attempt %d refused", i)
		}
	}
	ok, wait := l.Allow("ada")
	if ok || wait != 10*time.Second {
		t.Fatalf("fourth attempt: %v, wait %v", ok, wait)
	}
	if ok, _ := l.Allow("grace"); !ok {
		t.Fatal("keys are not independent")
	}
	now = now.Add(4 * time.Second)
	if _, wait := l.Allow("ada"); wait != 6*time.Second {
		t.Fatalf("wait %v after 4s", wait)
	}
	now = now.Add(6 * time.Second)
	if ok, _ := l.Allow("ada"); !ok {
		t.Fatal("token not refilled")
	}
	now = now.Add(time.Hour)
	l.Prune()
	if len(l.buckets) != 0 {
		t.Fatalf("%d idle buckets kept", len(l.buckets))
	}
}

func TestLocksSerialisePerKey(t *testing.T) {
	locks := NewLocks()
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock := locks.Lock("ada")
			n := inside.Add(1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			inside.Add(-1)
			unlock()
		}()
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Fatalf("%d holders at once", most.Load())
	}
	if len(locks.locks) != 0 {
		t.Fatal("locks leak")
	}
}
