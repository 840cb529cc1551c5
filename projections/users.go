package projections

import "github.com/accountd/accountd/events"

// UserDoc is one account's document in the users collection, keyed by user
// id and guarded by the user stream's revision + 1. It serves the owner's
// profile and, through Public, the public one: one write per event, which
// matters on the embedded database where every write is an fsync.
type UserDoc struct {
	ID       string `bson:"_id,omitempty"`
	Version  int64  `bson:"_v,omitempty"`
	Username string `bson:"username,omitempty"`
	// The fields of events.ProfileFields, by their names.
	events.Profile `bson:",inline"`
	PictureSHA256  string `bson:"picture_sha256,omitempty"`
	PictureType    string `bson:"picture_type,omitempty"`
	PictureRev     int64  `bson:"picture_rev,omitempty"`   // where its bytes are in the pictures stream
	RegisteredAt   string `bson:"registered_at,omitempty"` // RFC 3339, UTC
	UpdatedAt      string `bson:"updated_at,omitempty"`
	// Admin-only fields, and the account's standing.
	EmployeeID        string `bson:"employee_id,omitempty"`
	Department        string `bson:"department,omitempty"`
	DisplayNameLocked bool   `bson:"display_name_locked,omitempty"`
	RoleAdmin         bool   `bson:"role_admin,omitempty"` // one field per role: a grant is one write
	// Where the admin role came from (the latest grant): RoleSourceAdmin or
	// events.RoleSourceConfiguration, and then the configured value that
	// named the account.
	RoleAdminSource       string `bson:"role_admin_source,omitempty"`
	RoleAdminConfiguredAs string `bson:"role_admin_configured_as,omitempty"`
	Disabled              bool   `bson:"disabled,omitempty"`
	DeletedAt             string `bson:"deleted_at,omitempty"` // set: deleted, and its personal data erased
}

// Fields of UserDoc that reducers set or clear by name.
const (
	userDisabled          = "disabled"
	userDisplayNameLocked = "display_name_locked"
)

// Roles lists the roles the account holds.
func (d UserDoc) Roles() []string {
	if d.RoleAdmin {
		return []string{events.RoleAdmin}
	}
	return []string{}
}

// RoleSourceAdmin: an admin granted the role (the grant's actor).
const RoleSourceAdmin = "admin"

// RoleGrant is a role and where it came from.
type RoleGrant struct {
	Role         string
	Source       string // RoleSourceAdmin, events.RoleSourceConfiguration, or "" (not known)
	ConfiguredAs string // for a grant by configuration: the configured value
}

// RoleGrants lists the roles the account holds with where each came from.
func (d UserDoc) RoleGrants() []RoleGrant {
	if !d.RoleAdmin {
		return nil
	}
	// Source is "" for a grant projected before sources were kept (until
	// "accountctl rebuild users").
	return []RoleGrant{{Role: events.RoleAdmin, Source: d.RoleAdminSource, ConfiguredAs: d.RoleAdminConfiguredAs}}
}

// Deleted: the account was deleted and its personal data erased.
func (d UserDoc) Deleted() bool { return d.DeletedAt != "" }

// Standing is an account's standing. Queries, API and console take it
// from one port (queries.Standings), not from the document they read.
type Standing string

// The standings; "" is not known.
const (
	StandingActive   Standing = "active"
	StandingDisabled Standing = "disabled"
	StandingDeleted  Standing = "deleted"
)

// Standing is the account's standing as this document records it.
func (d UserDoc) Standing() Standing {
	switch {
	case d.Deleted():
		return StandingDeleted
	case d.Disabled:
		return StandingDisabled
	}
	return StandingActive
}

// Status is the account's standing as this document records it: active,
// disabled or deleted.
func (d UserDoc) Status() string { return string(d.Standing()) }

// PictureURL is where an account's current picture is served.
func PictureURL(username, sha string) string {
	if sha == "" {
		return ""
	}
	return "/v1/profiles/" + username + "/picture?v=" + sha[:min(12, len(sha))]
}

// Revision is the user stream revision the document reflects (the ETag).
func (d UserDoc) Revision() uint64 { return uint64(max(d.Version-1, 0)) }

// PublicProfile is what anyone may see of an account.
type PublicProfile struct {
	UserID      string
	Username    string
	FullName    string
	Description string
	PictureURL  string
	// Where the picture's bytes are.
	PictureSHA256, PictureType string
	PictureRev                 uint64
}

// Public is the part of the document anyone may see.
func (d UserDoc) Public() PublicProfile {
	return PublicProfile{UserID: d.ID, Username: d.Username, FullName: d.Get(events.FieldFullName), Description: d.Get(events.FieldDescription), PictureURL: PictureURL(d.Username, d.PictureSHA256),
		PictureSHA256: d.PictureSHA256, PictureType: d.PictureType, PictureRev: uint64(d.PictureRev)}
}

// UsersProjector keeps the users collection.
func UsersProjector() Projector {
	return Projector{Name: "users", Categories: []string{events.UserCategory}, Collections: []string{UsersCollection}, Personal: true, Reduce: reduceUser}
}

func reduceUser(e events.Recorded) ([]Write, error) {
	id, version := events.StreamID(e.Stream), e.Revision+1
	doc := UserDoc{UpdatedAt: stamp(e.Metadata.Time)}
	switch p := e.Payload.(type) {
	case events.UserRegisteredV1:
		doc.Username, doc.Profile, doc.RegisteredAt = p.Username, p.Profile, doc.UpdatedAt
	case events.UserRenamedV1:
		doc.Username = p.NewUsername
	case events.UserProfileUpdatedV1:
		doc.Profile = p.Profile
	case events.UserAdminFieldsUpdatedV1:
		ws, err := write(UsersCollection, id, version, UserDoc{UpdatedAt: doc.UpdatedAt, EmployeeID: events.Value(p.EmployeeID), Department: events.Value(p.Department)})
		if err != nil {
			return nil, err
		}
		// Cleared fields and false are values here, not omissions.
		if p.EmployeeID != nil && *p.EmployeeID == "" {
			ws[0].Set["employee_id"] = Removal{}
		}
		if p.Department != nil && *p.Department == "" {
			ws[0].Set["department"] = Removal{}
		}
		if p.DisplayNameLocked != nil {
			ws[0].Set[userDisplayNameLocked] = *p.DisplayNameLocked
		}
		return ws, nil
	case events.UserRoleGrantedV1:
		// One field per role: the write needs no earlier state. The latest
		// grant says where the role came from (a configured admin's grant
		// is recorded even when the account holds the role already).
		field := "role_" + p.Role
		set := map[string]any{field: true, field + "_source": RoleSourceAdmin, field + "_configured_as": Removal{}}
		if p.Source != "" {
			set[field+"_source"] = p.Source
		}
		if p.ConfiguredAs != "" {
			set[field+"_configured_as"] = p.ConfiguredAs
		}
		return []Write{{Collection: UsersCollection, ID: id, Version: version, Set: set}}, nil
	case events.UserRoleRevokedV1:
		field := "role_" + p.Role
		return []Write{{Collection: UsersCollection, ID: id, Version: version, Set: map[string]any{
			field: false, field + "_source": Removal{}, field + "_configured_as": Removal{}}}}, nil
	case events.UserDisabledV1:
		return []Write{{Collection: UsersCollection, ID: id, Version: version, Set: map[string]any{userDisabled: true}}}, nil
	case events.UserEnabledV1:
		return []Write{{Collection: UsersCollection, ID: id, Version: version, Set: map[string]any{userDisabled: Removal{}}}}, nil
	case events.UserPictureChangedV1:
		if p.SHA256 == "" {
			return []Write{{Collection: UsersCollection, ID: id, Version: version, Set: map[string]any{
				"picture_sha256": Removal{}, "picture_type": Removal{}, "picture_rev": Removal{}, "updated_at": doc.UpdatedAt}}}, nil
		}
		doc.PictureSHA256, doc.PictureType, doc.PictureRev = p.SHA256, p.ContentType, int64(p.Revision)
	case events.UserDeletedV1:
		// The document stays, so that admins see the account was deleted
		// (and a redelivered older event cannot bring it back), with
		// nothing personal left.
		set := map[string]any{"deleted_at": doc.UpdatedAt, "updated_at": doc.UpdatedAt}
		// Every profile field goes, personal or not (a language and a zone
		// say little alone, but nothing of the account is kept).
		for _, f := range events.ProfileFields {
			set[f.Name] = Removal{}
		}
		for _, f := range []string{"picture_sha256", "picture_type", "picture_rev",
			"employee_id", "department", userDisplayNameLocked, userDisabled, "role_" + events.RoleAdmin,
			"role_" + events.RoleAdmin + "_source", "role_" + events.RoleAdmin + "_configured_as"} {
			set[f] = Removal{}
		}
		return []Write{{Collection: UsersCollection, ID: id, Version: version, Set: set}}, nil
	default:
		// Not a profile change (a password change): the document only
		// moves to the stream's revision, which is its ETag.
		return write(UsersCollection, id, version, UserDoc{})
	}
	return write(UsersCollection, id, version, doc)
}
