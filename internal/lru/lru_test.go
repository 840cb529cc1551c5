package lru

import (
	"fmt"
	"slices"
	"sync"
	"testing"
)

type op struct {
	put    string // key to put (value: its length in cost-by-size caches)
	value  string
	get    string
	remove string
}

func TestCache(t *testing.T) {
	bySize := func(v string) int { return len(v) }
	for _, tt := range []struct {
		name      string
		limit     int
		cost      func(string) int
		ops       []op
		have      []string // keys present at the end
		total     int
		wantValue map[string]string
	}{
		{name: "holds up to its count", limit: 2, ops: []op{{put: "a"}, {put: "b"}, {put: "c"}}, have: []string{"b", "c"}, total: 2},
		{name: "a read keeps an entry", limit: 2, ops: []op{{put: "a"}, {put: "b"}, {get: "a"}, {put: "c"}}, have: []string{"a", "c"}, total: 2},
		{name: "putting again replaces the value, not the count", limit: 2,
			ops: []op{{put: "a", value: "1"}, {put: "b"}, {put: "a", value: "2"}, {put: "c"}}, have: []string{"a", "c"}, total: 2, wantValue: map[string]string{"a": "2"}},
		{name: "removed is gone", limit: 2, ops: []op{{put: "a"}, {put: "b"}, {remove: "a"}}, have: []string{"b"}, total: 1},
		{name: "removing what is not there changes nothing", limit: 2, ops: []op{{put: "a"}, {remove: "z"}}, have: []string{"a"}, total: 1},
		{name: "by size: the oldest go until it fits", limit: 10, cost: bySize,
			ops: []op{{put: "a", value: "1234"}, {put: "b", value: "1234"}, {put: "c", value: "12345"}}, have: []string{"b", "c"}, total: 9},
		{name: "by size: larger than the whole cache is not kept", limit: 4, cost: bySize,
			ops: []op{{put: "a", value: "12"}, {put: "b", value: "12345"}}, have: []string{"a"}, total: 2},
		{name: "by size: a value grown too large drops the old one", limit: 4, cost: bySize,
			ops: []op{{put: "a", value: "12"}, {put: "a", value: "12345"}}, have: nil, total: 0},
		{name: "by size: a replaced value counts its new size", limit: 10, cost: bySize,
			ops: []op{{put: "a", value: "12345678"}, {put: "a", value: "1"}, {put: "b", value: "123456789"}}, have: []string{"a", "b"}, total: 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := New[string, string](tt.limit, tt.cost)
			for _, o := range tt.ops {
				switch {
				case o.put != "":
					v := o.value
					if v == "" {
						v = o.put
					}
					c.Put(o.put, v)
				case o.get != "":
					if _, ok := c.Get(o.get); !ok {
						t.Fatalf("get %s: missing", o.get)
					}
				case o.remove != "":
					c.Remove(o.remove)
				}
			}
			var have []string
			for _, k := range []string{"a", "b", "c", "z"} {
				if v, ok := c.Get(k); ok {
					have = append(have, k)
					if want, ok := tt.wantValue[k]; ok && v != want {
						t.Errorf("%s = %q, want %q", k, v, want)
					}
				}
			}
			if !slices.Equal(have, tt.have) || c.Len() != len(tt.have) || c.Cost() != tt.total {
				t.Fatalf("have %v (len %d, cost %d), want %v (cost %d)", have, c.Len(), c.Cost(), tt.have, tt.total)
			}
		})
	}
}

// Update decides on the current value in one step: a stale value never
// replaces a newer one.
func TestUpdateKeepsTheNewer(t *testing.T) {
	c := New[string, int](10, nil)
	newer := func(v int) func(int, bool) (int, bool) {
		return func(old int, ok bool) (int, bool) { return v, !ok || v >= old }
	}
	c.Update("s", newer(5))
	c.Update("s", newer(3))
	if v, _ := c.Get("s"); v != 5 {
		t.Fatalf("older replaced newer: %d", v)
	}
	c.Update("s", newer(7))
	if v, _ := c.Get("s"); v != 7 {
		t.Fatalf("newer not kept: %d", v)
	}
}

// Run with -race: many goroutines at once keep the bounds.
func TestConcurrentUse(t *testing.T) {
	c := New[string, []byte](1000, func(b []byte) int { return len(b) })
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				k := fmt.Sprint((g*7 + i) % 50)
				c.Put(k, make([]byte, i%100))
				c.Get(k)
				if i%10 == 0 {
					c.Remove(k)
				}
			}
		})
	}
	wg.Wait()
	if c.Cost() > 1000 || c.Len() > 50 {
		t.Fatalf("bounds broken: cost %d, %d entries", c.Cost(), c.Len())
	}
}
