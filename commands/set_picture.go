package commands

import (
	"context"
	"encoding/base64"
	"errors"
	"time"

	"github.com/accountd/accountd/events"
	"github.com/accountd/accountd/internal/picture"
)

// ErrPictureNotFound: no such picture (none set, or erased).
var ErrPictureNotFound = errors.New("picture not found")

// SetPicture makes an upload the user's profile picture.
type SetPicture struct {
	UserID string
	Data   []byte
}

// PictureResult is the picture kept.
type PictureResult struct {
	Picture picture.Picture
	UserResult
}

// picturePolicy bounds what picture uploads cost.
type picturePolicy struct {
	// uploads per account: through the Limits like every limit, so shared
	// between replicas (an account gets its uploads an hour whichever
	// replica serves it).
	uploads *limit
	// gate bounds this process's decodes at once (see picture.Gate: per
	// process on purpose).
	gate    *picture.Gate
	timeout time.Duration
}

// PictureGate is this process's bound on decodes at once (tests hold its
// slots; Busy says how many are taken).
func (h *Handlers) PictureGate() *picture.Gate { return h.picturePolicy.gate }

// errPictureOutrun: the picture's bytes were stored before the pictures
// stream was truncated past them (other uploads of the account came
// first); they are stored again.
var errPictureOutrun = errors.New("picture stored before the truncation point")

// handleSetPicture checks and re-encodes the upload (picture.Process: its errors
// say what is wrong), stores the bytes, sealed, in the user's pictures
// stream, then makes them current. The same picture again changes nothing.
//
// An account has PictureUploadLimit uploads (429 past it); the process
// decodes PictureDecodes at once (503 when none frees up in
// PictureQueueWait); one that takes longer than PictureTimeout is refused
// as too complex, and its decoding stops.
//
// The pictures stream keeps the current picture and the one it replaced:
// the user's state says from which revision (User.PictureKeepFrom), and
// the stream is truncated there after each change, so an account's stored
// pictures stay bounded however often it uploads.
func (h *Handlers) handleSetPicture(ctx context.Context, cmd SetPicture, meta events.Metadata) (res PictureResult, err error) {
	p, err := h.processPicture(ctx, cmd, meta)
	if err != nil {
		return PictureResult{}, err
	}
	stream := events.UserStream(cmd.UserID)
	u, _, err := h.users.load(ctx, stream, false)
	if err != nil {
		return PictureResult{}, err
	}
	if !u.Exists() {
		return PictureResult{}, ErrUserNotFound
	}
	meta = h.stamp(meta)
	for attempt := 0; ; attempt++ {
		revision := u.Picture.Revision
		if u.Picture.SHA256 != p.SHA256 {
			stored, err := record(ctx, h, h.pictures, events.PicturesStream(cmd.UserID), meta, events.PictureStoredV1{
				UserID: cmd.UserID, SHA256: p.SHA256, ContentType: p.ContentType, Width: p.Width, Height: p.Height,
				Data: base64.StdEncoding.EncodeToString(p.Data)})
			if err != nil {
				return PictureResult{}, err
			}
			revision = stored.Revision
			h.pictureCache.Put(p.SHA256, p.Data)
		}
		out, err := update(ctx, h, h.users, stream, nil, meta, func(u User) ([]events.Payload, error) {
			if !u.Exists() {
				return nil, ErrUserNotFound
			}
			if u.Picture.SHA256 == p.SHA256 {
				return nil, nil
			}
			if revision < u.PictureKeepFrom {
				return nil, errPictureOutrun
			}
			return []events.Payload{events.UserPictureChangedV1{UserID: u.ID, SHA256: p.SHA256, ContentType: p.ContentType, Revision: revision}}, nil
		})
		if errors.Is(err, errPictureOutrun) && attempt < maxAttempts {
			u = out.State
			continue
		}
		if err != nil {
			return PictureResult{}, err
		}
		if out.Position != 0 && out.State.PictureKeepFrom > 0 {
			// The change is durable whatever happens here: a truncation
			// that fails leaves older pictures readable until the next
			// change truncates again.
			_ = h.log.TruncateBefore(context.WithoutCancel(ctx), events.PicturesStream(cmd.UserID), out.State.PictureKeepFrom)
		}
		return PictureResult{Picture: p, UserResult: UserResult{User: out.State, Result: Result{Revision: out.Revision, Position: out.Position}}}, nil
	}
}

// processPicture admits the upload (the account's limit, a decode slot)
// and processes it within the time it may take.
func (h *Handlers) processPicture(ctx context.Context, cmd SetPicture, meta events.Metadata) (picture.Picture, error) {
	account := cmd.UserID
	ok, wait, err := h.picturePolicy.uploads.check(ctx, account)
	if err != nil {
		return picture.Picture{}, err
	}
	if !ok {
		return picture.Picture{}, h.throttled(ScopePicture, wait, passwordCheck{userID: account, address: meta.ClientIP})
	}
	leave, err := h.picturePolicy.gate.Enter(ctx)
	if errors.Is(err, picture.ErrBusy) {
		return picture.Picture{}, &BusyError{RetryAfter: h.picturePolicy.gate.Wait()}
	}
	if err != nil {
		return picture.Picture{}, err
	}
	defer leave()
	// Taken only with a slot, so a refusal as busy costs no upload; Check
	// above spares a throttled account the wait.
	if ok, wait, err := h.picturePolicy.uploads.allow(ctx, account); err != nil {
		return picture.Picture{}, err
	} else if !ok {
		return picture.Picture{}, h.throttled(ScopePicture, wait, passwordCheck{userID: account, address: meta.ClientIP})
	}
	work, cancel := context.WithTimeout(ctx, h.picturePolicy.timeout)
	defer cancel()
	p, err := picture.Process(work, cmd.Data)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return picture.Picture{}, picture.ErrTooComplex
	}
	return p, err
}

// RemovePicture removes the user's picture.
type RemovePicture struct {
	UserID string
}

// handleRemovePicture records the removal; no picture changes nothing.
func (h *Handlers) handleRemovePicture(ctx context.Context, cmd RemovePicture, meta events.Metadata) (res UserResult, err error) {
	out, err := update(ctx, h, h.users, events.UserStream(cmd.UserID), nil, h.stamp(meta), func(u User) ([]events.Payload, error) {
		if !u.Exists() {
			return nil, ErrUserNotFound
		}
		if u.Picture.SHA256 == "" {
			return nil, nil
		}
		return []events.Payload{events.UserPictureChangedV1{UserID: u.ID}}, nil
	})
	return UserResult{User: out.State, Result: Result{Revision: out.Revision, Position: out.Position}}, err
}

// ReadPicture returns the bytes of a user's picture, stored at revision of
// their pictures stream: it reads that one event (the sealed log opens it),
// or a cache of recent pictures.
func (h *Handlers) ReadPicture(ctx context.Context, userID string, revision uint64, sha string) ([]byte, error) {
	if b, ok := h.pictureCache.Get(sha); ok {
		return b, nil
	}
	recs, err := h.log.ReadStream(ctx, events.PicturesStream(userID), Version(revision)-1)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		p, ok := r.Payload.(events.PictureStoredV1)
		if !ok || p.SHA256 != sha || p.Data == "" {
			continue // "" : erased with the account
		}
		b, err := base64.StdEncoding.DecodeString(p.Data)
		if err != nil {
			return nil, err
		}
		h.pictureCache.Put(sha, b)
		return b, nil
	}
	return nil, ErrPictureNotFound
}
