// Package lru is the service's one least-recently-used cache: entries up
// to a total cost (each entry's cost is 1 unless the cache is given a cost
// function, such as a value's size in bytes), the least recently used
// going first. Safe for concurrent use.
//
// A cache is this process's own; its users say what that means for
// several replicas (mostly harmless: what it holds is checked against the
// log or the database before it counts).
package lru

import (
	"container/list"
	"sync"
)

// Cache maps keys to values, bounded by total cost.
type Cache[K comparable, V any] struct {
	mu      sync.Mutex
	limit   int
	total   int
	cost    func(V) int
	order   *list.List // front: most recently used
	entries map[K]*list.Element
}

type entry[K comparable, V any] struct {
	key   K
	value V
	cost  int
}

// New makes a cache holding entries up to a total cost of limit (at least
// 1). cost gives a value's cost; nil: every entry costs 1, so limit is a
// number of entries.
func New[K comparable, V any](limit int, cost func(V) int) *Cache[K, V] {
	if cost == nil {
		cost = func(V) int { return 1 }
	}
	return &Cache[K, V]{limit: max(limit, 1), cost: cost, order: list.New(), entries: map[K]*list.Element{}}
}

// Get returns the key's value and marks it used.
func (c *Cache[K, V]) Get(key K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.order.MoveToFront(el)
		return el.Value.(*entry[K, V]).value, true
	}
	var zero V
	return zero, false
}

// Put sets the key's value. A value that costs more than the whole cache
// is not kept (nor is the key's old value).
func (c *Cache[K, V]) Put(key K, value V) {
	c.Update(key, func(V, bool) (V, bool) { return value, true })
}

// Update sets the key's value to what f makes of the current one (ok:
// there is one), in one step; f returning false leaves it as it is.
func (c *Cache[K, V]) Update(key K, f func(old V, ok bool) (V, bool)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	var old V
	if ok {
		old = el.Value.(*entry[K, V]).value
	}
	value, keep := f(old, ok)
	if !keep {
		if ok {
			c.order.MoveToFront(el)
		}
		return
	}
	if ok {
		c.remove(el)
	}
	cost := c.cost(value)
	if cost > c.limit {
		return
	}
	c.entries[key] = c.order.PushFront(&entry[K, V]{key: key, value: value, cost: cost})
	c.total += cost
	for c.total > c.limit {
		c.remove(c.order.Back())
	}
}

// Remove forgets the key.
func (c *Cache[K, V]) Remove(key K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.remove(el)
	}
}

// Len is the number of entries.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Cost is the entries' total cost.
func (c *Cache[K, V]) Cost() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

func (c *Cache[K, V]) remove(el *list.Element) {
	e := el.Value.(*entry[K, V])
	c.order.Remove(el)
	delete(c.entries, e.key)
	c.total -= e.cost
}
