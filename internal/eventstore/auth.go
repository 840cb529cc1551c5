package eventstore

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/gossip"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// anonymous names the calls open to everyone, as on EventStoreDB: the
// official client calls ServerFeatures before it authenticates anything
// (and gives up for good if that fails), and reads gossip without
// credentials when it discovers a cluster (EventStoreDB's default policy
// allows Node.Gossip.ClientRead anonymously). Neither touches any event.
func anonymous(fullMethod string) bool {
	return strings.HasPrefix(fullMethod, "/event_store.client.server_features.") ||
		fullMethod == gossip.Gossip_Read_FullMethodName
}

// authenticator checks EventStoreDB's basic credentials on every call:
// missing credentials are an anonymous caller, denied access
// (PermissionDenied, exception access-denied) as EventStoreDB denies
// anonymous stream access; wrong ones are Unauthenticated.
type authenticator struct {
	users map[string][32]byte // user -> SHA-256 of the password
}

func newAuthenticator(users map[string]string) *authenticator {
	a := &authenticator{users: map[string][32]byte{}}
	for u, p := range users {
		a.users[u] = sha256.Sum256([]byte(p))
	}
	return a
}

var (
	errAccessDenied    = status.Error(codes.PermissionDenied, "Access Denied")
	errUnauthenticated = status.Error(codes.Unauthenticated, "Unauthenticated")
	accessDeniedMD     = metadata.Pairs("exception", "access-denied")
)

func (a *authenticator) check(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	values := md.Get("authorization")
	if len(values) == 0 {
		return errAccessDenied
	}
	scheme, encoded, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return errUnauthenticated
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encoded))
	if err != nil {
		return errUnauthenticated
	}
	user, password, ok := strings.Cut(string(raw), ":")
	want, known := a.users[user]
	got := sha256.Sum256([]byte(password))
	if !ok || subtle.ConstantTimeCompare(got[:], want[:]) != 1 || !known {
		return errUnauthenticated
	}
	return nil
}

func (a *authenticator) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	if !anonymous(info.FullMethod) {
		if err := a.check(ctx); err != nil {
			if err == errAccessDenied {
				_ = grpc.SetTrailer(ctx, accessDeniedMD)
			}
			return nil, err
		}
	}
	return next(ctx, req)
}

func (a *authenticator) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	if anonymous(info.FullMethod) {
		return next(srv, ss)
	}
	err := a.check(ss.Context())
	if err == nil {
		return next(srv, ss)
	}
	if info.IsClientStream {
		// Read the whole request first: a client still sending an append
		// would otherwise see a broken stream instead of the refusal.
		for {
			if ss.RecvMsg(new(streams.AppendReq)) != nil {
				break
			}
		}
	}
	if err == errAccessDenied {
		ss.SetTrailer(accessDeniedMD)
	}
	return err
}
