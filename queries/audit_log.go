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
	var idx projections.AuditIndexDoc
	if err := r.findByID(ctx, projections.AuditIndexCollection, account, &idx); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	}
	seq, after := idx.Seq, ""
	if f.Cursor != "" {
		var err error
		if seq, after, err = parseCursor(f.Cursor); err != nil {
			return err
		}
	}
	since, until := stampOf(f.Since), stampOf(f.Until)
	for ; seq >= idx.First; seq-- {
		var b projections.AuditBucketDoc
		if err := r.findByID(ctx, projections.AuditBucketCollection, projections.AuditBucketID(account, seq), &b); err != nil {
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
			e := b.Entries[k]
			switch {
			case since != "" && e.Time < since:
				return nil // the log is in time order: everything older is older still
			case until != "" && e.Time > until:
			case f.TypePrefix != "" && !strings.HasPrefix(e.Type, f.TypePrefix):
			case f.CredentialID != "" && e.CredentialID != f.CredentialID:
			default:
				e, err := OpenAuditEntry(ctx, r.keys, r.erased, account, e)
				if err != nil {
					return err
				}
				if err := fn(e, makeCursor(seq, k)); err != nil {
					return err
				}
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
