package queries

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/accountd/accountd/projections"
)

// UserPage is a page of accounts, in id order.
type UserPage struct {
	Users      []projections.UserDoc
	NextCursor string // "" on the last page
}

// Which accounts a list of users shows, by standing.
const (
	UsersActive   = "active" // the default: neither disabled nor deleted
	UsersDisabled = "disabled"
	UsersDeleted  = "deleted"
	UsersAll      = "all"
)

// UserStatuses are the values a list's status filter takes.
var UserStatuses = []string{UsersActive, UsersDisabled, UsersDeleted, UsersAll}

// ListUsers lists accounts whose username or e-mail starts with prefix
// (any case; "" lists all) and whose standing is status (UsersActive when
// ""), after the cursor (an account id), for admins. The embedded database
// scans for such a filter: this is an admin's occasional search, not a
// hot path.
func (r *Reader) ListUsers(ctx context.Context, prefix, status, cursor string, limit int) (UserPage, error) {
	filter := bson.M{}
	switch status {
	case "", UsersActive:
		filter["deleted_at"] = bson.M{"$exists": false}
		filter["disabled"] = bson.M{"$ne": true}
	case UsersDisabled:
		filter["disabled"] = true // a deletion clears it
	case UsersDeleted:
		filter["deleted_at"] = bson.M{"$exists": true}
	case UsersAll:
	default:
		return UserPage{}, fmt.Errorf("queries: no such account status %q", status)
	}
	if cursor != "" {
		filter["_id"] = bson.M{"$gt": cursor}
	}
	if prefix = strings.TrimSpace(prefix); !utf8.ValidString(prefix) {
		return UserPage{}, nil // no name or address is invalid UTF-8 (and the regex would refuse it)
	} else if prefix != "" {
		re := bson.M{"$regex": "^" + regexp.QuoteMeta(prefix), "$options": "i"}
		filter["$or"] = bson.A{bson.M{"username": re}, bson.M{"email": re}}
	}
	coll := projections.UsersCollection
	if r.collections != nil {
		coll = r.collections(coll)
	}
	cur, err := r.db.Collection(coll).Find(ctx, filter, options.Find().SetSort(bson.M{"_id": 1}).SetLimit(int64(limit)+1))
	if err != nil {
		return UserPage{}, err
	}
	var page UserPage
	if err := cur.All(ctx, &page.Users); err != nil {
		return UserPage{}, err
	}
	if len(page.Users) > limit {
		page.Users = page.Users[:limit]
		page.NextCursor = page.Users[limit-1].ID
	}
	return page, nil
}
