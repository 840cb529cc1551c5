package events

// A profile picture's bytes live in their own stream, pictures-<user id>
// (a user stream stays small to fold); the user stream records which
// picture is current.

// PictureStoredV1 holds a picture's bytes (base64, sealed with the owner's
// data key), addressed by the SHA-256 of the bytes.
type PictureStoredV1 struct {
	UserID      string `json:"user_id"`
	SHA256      string `json:"sha256"`
	ContentType string `json:"content_type"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	Data        string `json:"data"`
}

// UserPictureChangedV1 sets (or, with no SHA256, removes) the picture;
// Revision is where its bytes are in the pictures stream.
type UserPictureChangedV1 struct {
	UserID      string `json:"user_id"`
	SHA256      string `json:"sha256,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	Revision    uint64 `json:"revision,omitempty"`
}

// MapPersonal implements Personal.
func (p PictureStoredV1) MapPersonal(owner string, f func(aad, value string) (string, error)) (Payload, error) {
	v, err := mapString(&p.Data, "user:"+owner+":picture:"+p.SHA256, f)
	if err != nil {
		return p, err
	}
	p.Data = *v
	return p, nil
}

func (PictureStoredV1) EventType() string      { return PictureStored }
func (UserPictureChangedV1) EventType() string { return UserPictureChanged }
