package web

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestExpiring(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, s *expiring[int], clock *fakeClock)
	}{
		{"a value is taken once", func(t *testing.T, s *expiring[int], _ *fakeClock) {
			s.put("a", 1)
			if v, ok := s.take("a"); !ok || v != 1 {
				t.Fatalf("take = %d, %v", v, ok)
			}
			if _, ok := s.take("a"); ok {
				t.Fatal("taken twice")
			}
		}},
		{"an expired value is gone", func(t *testing.T, s *expiring[int], clock *fakeClock) {
			s.put("a", 1)
			clock.advance(time.Minute + time.Second)
			if s.has("a") {
				t.Fatal("has an expired value")
			}
			if _, ok := s.take("a"); ok {
				t.Fatal("took an expired value")
			}
		}},
		{"putting again restarts the time", func(t *testing.T, s *expiring[int], clock *fakeClock) {
			s.put("a", 1)
			clock.advance(50 * time.Second)
			s.put("a", 2)
			clock.advance(50 * time.Second)
			s.put("b", 3) // evicts what expired: not a
			if v, ok := s.take("a"); !ok || v != 2 {
				t.Fatalf("take = %d, %v", v, ok)
			}
		}},
		{"full, the oldest goes first", func(t *testing.T, s *expiring[int], clock *fakeClock) {
			for i := range 12 {
				s.put(fmt.Sprint(i), i)
				clock.advance(time.Second)
			}
			if n := s.len(); n != 10 {
				t.Fatalf("%d entries, max 10", n)
			}
			if s.has("0") || s.has("1") || !s.has("2") || !s.has("11") {
				t.Fatal("evicted the wrong entries")
			}
		}},
		{"expired entries are dropped on put", func(t *testing.T, s *expiring[int], clock *fakeClock) {
			for i := range 5 {
				s.put(fmt.Sprint(i), i)
			}
			clock.advance(2 * time.Minute)
			s.put("new", 1)
			if n := s.len(); n != 1 {
				t.Fatalf("%d entries after the others expired", n)
			}
		}},
		{"forgotten", func(t *testing.T, s *expiring[int], _ *fakeClock) {
			s.put("a", 1)
			s.forget("a")
			if s.has("a") {
				t.Fatal("still there")
			}
		}},
		{"the queue stays small when one key is put again and again", func(t *testing.T, s *expiring[int], _ *fakeClock) {
			s.put("old", 0)
			for i := range 10_000 {
				s.put("a", i)
			}
			if q := len(s.queue) - s.head; q > 2*s.len()+64+1 {
				t.Fatalf("queue of %d for %d entries", q, s.len())
			}
			if !s.has("old") {
				t.Fatal("rebuilding the queue lost an entry")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
			tt.run(t, newExpiring[int](clock.now, time.Minute, 10), clock)
		})
	}
}

// Many writers at once keep the store within its bounds (run with -race).
func TestExpiringConcurrent(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	s := newExpiring[int](clock.now, time.Minute, 100)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				key := fmt.Sprint(w, "-", i%300)
				s.put(key, i)
				s.has(key)
				if i%3 == 0 {
					s.take(key)
				}
			}
		}()
	}
	wg.Wait()
	if n := s.len(); n > 100 {
		t.Fatalf("%d entries, max 100", n)
	}
}
