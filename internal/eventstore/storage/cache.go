package storage

// genCache is a bounded map owned by one goroutine: entries live in the
// current generation and, once that fills, in the previous one, which is
// dropped at the next turn. Recently used entries are carried forward, so
// it keeps roughly the last capacity keys touched at O(1) cost.
type genCache[K comparable, V any] struct {
	capacity int
	current  map[K]V
	previous map[K]V
}

func newGenCache[K comparable, V any](capacity int) *genCache[K, V] {
	return &genCache[K, V]{capacity: capacity, current: make(map[K]V), previous: make(map[K]V)}
}

func (c *genCache[K, V]) get(k K) (V, bool) {
	if v, ok := c.current[k]; ok {
		return v, true
	}
	v, ok := c.previous[k]
	if ok {
		c.put(k, v)
	}
	return v, ok
}

func (c *genCache[K, V]) put(k K, v V) {
	if len(c.current) >= c.capacity {
		c.previous, c.current = c.current, make(map[K]V, c.capacity)
	}
	c.current[k] = v
}

func (c *genCache[K, V]) delete(k K) {
	delete(c.current, k)
	delete(c.previous, k)
}
