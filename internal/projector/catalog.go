package projector

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/accountd/accountd/projections"
)

// CatalogCollection records which generation of each read model is live.
const CatalogCollection = "_readmodels"

// Generation is one build of a read model. Generation 0 uses the plain
// collection names; a rebuild writes generation n+1 into collections named
// "<name>__g<n+1>" (and a consumer of that name), and swaps it in by
// recording it here.
type Generation struct {
	Projector string    `bson:"_id"`
	Number    int       `bson:"generation"`
	Version   int       `bson:"version"` // of the projection code that built it
	SwappedAt time.Time `bson:"swapped_at,omitempty"`
}

// Suffix names the generation's collections and consumer.
func (g Generation) Suffix() string { return GenerationSuffix(g.Number) }

// GenerationSuffix is the suffix of generation n.
func GenerationSuffix(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("__g%d", n)
}

// Catalog is the service's view of the live generations, refreshed from
// MongoDB, so that a rebuild by accountctl swaps read models under a
// running service.
type Catalog struct {
	db         *mongo.Database
	projectors map[string]projections.Projector
	owner      map[string]string // collection -> projector

	mu      sync.RWMutex
	live    map[string]Generation
	changed chan struct{}
}

// LoadCatalog reads the live generations of the projectors.
func LoadCatalog(ctx context.Context, db *mongo.Database, ps []projections.Projector) (*Catalog, error) {
	c := &Catalog{db: db, projectors: map[string]projections.Projector{}, owner: map[string]string{}, live: map[string]Generation{}, changed: make(chan struct{})}
	for _, p := range ps {
		c.projectors[p.Name] = p
		for _, coll := range p.Collections {
			c.owner[coll] = p.Name
		}
	}
	if _, err := c.Refresh(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Refresh reads the catalog again and reports the projectors whose live
// generation changed.
func (c *Catalog) Refresh(ctx context.Context) ([]string, error) {
	live, err := ReadGenerations(ctx, c.db)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var changed []string
	for name := range c.projectors {
		g, ok := live[name]
		if !ok {
			g = Generation{Projector: name, Version: 1} // built before generations were recorded
		}
		if old, known := c.live[name]; !known || old.Number != g.Number {
			if known {
				changed = append(changed, name)
			}
		}
		c.live[name] = g
	}
	if len(changed) > 0 {
		close(c.changed)
		c.changed = make(chan struct{})
	}
	return changed, nil
}

// ReadGenerations reads the recorded generations.
func ReadGenerations(ctx context.Context, db *mongo.Database) (map[string]Generation, error) {
	cur, err := db.Collection(CatalogCollection).Find(ctx, bson.M{})
	if err != nil {
		return nil, fmt.Errorf("read model catalog: %w", err)
	}
	var gens []Generation
	if err := cur.All(ctx, &gens); err != nil {
		return nil, fmt.Errorf("read model catalog: %w", err)
	}
	out := map[string]Generation{}
	for _, g := range gens {
		out[g.Projector] = g
	}
	return out, nil
}

// Live is a projector's live generation.
func (c *Catalog) Live(projector string) Generation {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.live[projector]
}

// Suffix is the suffix of a projector's live collections.
func (c *Catalog) Suffix(projector string) string { return c.Live(projector).Suffix() }

// Collection is the physical name of a read-model collection now.
func (c *Catalog) Collection(name string) string {
	owner, ok := c.owner[name]
	if !ok {
		return name
	}
	return name + c.Suffix(owner)
}

// Changed returns a channel closed the next time a generation changes.
func (c *Catalog) Changed() <-chan struct{} {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.changed
}

// Swap records g as its projector's live generation.
func Swap(ctx context.Context, db *mongo.Database, g Generation) error {
	g.SwappedAt = time.Now().UTC()
	_, err := db.Collection(CatalogCollection).ReplaceOne(ctx, bson.M{"_id": g.Projector}, g, options.Replace().SetUpsert(true))
	return err
}

// LiveGeneration reads one projector's live generation straight from the
// database (what a tool sees).
func LiveGeneration(ctx context.Context, db *mongo.Database, projector string) (Generation, error) {
	var g Generation
	err := db.Collection(CatalogCollection).FindOne(ctx, bson.M{"_id": projector}).Decode(&g)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return Generation{Projector: projector, Version: 1}, nil
	}
	return g, err
}
