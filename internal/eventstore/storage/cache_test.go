package storage

import "testing"

func TestGenCacheIsBoundedAndKeepsRecentKeys(t *testing.T) {
	c := newGenCache[int, int](4)
	for i := range 100 {
		c.put(i, i*10)
		if len(c.current)+len(c.previous) > 8 {
			t.Fatalf("cache holds %d entries", len(c.current)+len(c.previous))
		}
	}
	for i := 96; i < 100; i++ {
		if v, ok := c.get(i); !ok || v != i*10 {
			t.Fatalf("recent key %d lost", i)
		}
	}
	if _, ok := c.get(0); ok {
		t.Fatal("old key kept")
	}
	// A key read from the previous generation survives the next turn.
	c = newGenCache[int, int](2)
	c.put(1, 1)
	c.put(2, 2)
	c.put(3, 3) // turn: {1,2} become previous
	c.get(1)    // carried forward
	c.put(4, 4)
	c.put(5, 5) // turn again: {3,1,...} previous
	if _, ok := c.get(1); !ok {
		t.Fatal("recently read key dropped")
	}
	c.delete(1)
	if _, ok := c.get(1); ok {
		t.Fatal("deleted key found")
	}
}
