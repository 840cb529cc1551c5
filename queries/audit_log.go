package queries

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/accountd/accountd/projections"
)

// AuditFilter selects audit entries.
type AuditFilter struct {
	TypePrefix   string    // e.g. "token."
	Since, Until time.Time // zero: open
	CredentialID string    // only entries made with this credential
	Cursor       string    // from a previous page's NextCursor
	Limit        int       // a page's size
}

// AuditPage is a page of an account's audit log, newest first.
type AuditPage struct {
	Entries    []projections.AuditEntry
	NextCursor string // "" on the last page
}

// ErrBadCursor: a cursor this service did not make.
var ErrBadCursor = errors.New("malformed cursor")

// AuditLog reads one page of an account's audit log. It reads the
// account's index and its buckets, newest first, and nothing of any other
// account.
func (r *Reader) AuditLog(ctx context.Context, account string, f AuditFilter) (AuditPage, error) {
	var page AuditPage
	var last string
	err := r.EachAuditEntry(ctx, account, f, func(e projections.AuditEntry, cursor string) error {
		if len(page.Entries) == f.Limit {
			page.NextCursor = last
			return errPageFull
		}
		page.Entries = append(page.Entries, e)
		last = cursor
		return nil
	})
	if errors.Is(err, errPageFull) {
		err = nil
	}
	return page, err
}

var errPageFull = errors.New("page full")

// EachAuditEntry calls fn for every entry of the account's audit log that
// f selects, newest first, with the cursor that continues after it; fn's
// error stops the walk. The caller's own latest writes are waited for.
func (r *Reader) EachAuditEntry(ctx context.Context, account string, f AuditFilter, fn func(projections.AuditEntry, string) error) error {
	r.waitForCaller(ctx, account, projections.AuditProjector().Name)
	since, until := stampOf(f.Since), stampOf(f.Until)
	return eachLogEntry(ctx, r, projections.AuditIndexCollection, projections.AuditBucketCollection, account, f.Cursor,
		func(e projections.AuditEntry, cursor string) (bool, error) {
			switch {
			case since != "" && e.Time < since:
				return true, nil // the log is in time order: everything older is older still
			case until != "" && e.Time > until:
			case f.TypePrefix != "" && !strings.HasPrefix(e.Type, f.TypePrefix):
			case f.CredentialID != "" && e.CredentialID != f.CredentialID:
			default:
				e, err := OpenAuditEntry(ctx, r.keys, r.erased, account, e)
				if err != nil {
					return true, err
				}
				return false, fn(e, cursor)
			}
			return false, nil
		})
}

// bucketDoc is a bucket of an append-only log read model.
type bucketDoc[E any] struct {
	Entries map[string]E `bson:"entries,omitempty"`
}

// eachLogEntry walks an append-only log read model (an index document and
// its buckets, projections.Append) of one account, newest first, after the
// cursor, until fn says stop or fails. It reads by _id only.
func eachLogEntry[E any](ctx context.Context, r *Reader, indexColl, bucketColl, account, cursor string, fn func(E, string) (bool, error)) error {
	var idx projections.AuditIndexDoc
	if err := r.findByID(ctx, indexColl, account, &idx); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	}
	seq, after := idx.Seq, ""
	if cursor != "" {
		var err error
		if seq, after, err = parseCursor(cursor); err != nil {
			return err
		}
	}
	for ; seq >= idx.First; seq-- {
		var b bucketDoc[E]
		if err := r.findByID(ctx, bucketColl, projections.AuditBucketID(account, seq), &b); err != nil {
			if errors.Is(err, ErrNotFound) {
				continue // removed by retention
			}
			return err
		}
		keys := make([]string, 0, len(b.Entries))
		for k := range b.Entries {
			if after == "" || k < after {
				keys = append(keys, k)
			}
		}
		slices.SortFunc(keys, func(a, b string) int { return cmp.Compare(b, a) })
		after = ""
		for _, k := range keys {
			stop, err := fn(b.Entries[k], makeCursor(seq, k))
			if stop || err != nil {
				return err
			}
		}
	}
	return nil
}

func stampOf(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func makeCursor(seq int64, key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%d:%s", seq, key)))
}

func parseCursor(c string) (int64, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, "", ErrBadCursor
	}
	var seq int64
	var key string
	if n, err := fmt.Sscanf(string(raw), "%d:%s", &seq, &key); n != 2 || err != nil || len(key) != 20 || seq < 0 {
		return 0, "", ErrBadCursor
	}
	return seq, key, nil
}
