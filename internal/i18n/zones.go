package i18n

import (
	"sync"
	"time"
)

// Zones loads time zones by name, once each (loading one reads the tz
// database). The zero value is ready.
type Zones struct{ m sync.Map }

// Location is the named zone, UTC when unnamed or unknown.
func (z *Zones) Location(name string) *time.Location {
	if name == "" {
		return time.UTC
	}
	if loc, ok := z.m.Load(name); ok {
		return loc.(*time.Location)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	z.m.Store(name, loc)
	return loc
}
