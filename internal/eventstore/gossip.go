package eventstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/gossip"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/google/uuid"
)

// gossipService answers cluster discovery (esdb+discover:// URLs): the
// official client reads the members from any seed and connects to the one
// its node preference picks. This store is one node, so it reports itself,
// alive and Leader, at the address clients should dial. (Being always the
// leader, it ignores EventStoreDB's requires-leader header; the official Go
// client v4.2.0 would not send it anyway: configureGrpcCall in
// esdb/options.go puts it into an incoming context, which grpc-go never
// sends, so a real follower would serve such calls instead of redirecting.)
type gossipService struct {
	gossip.UnimplementedGossipServer
	instance *shared.UUID
	host     string
	port     uint32
	now      func() time.Time
}

func newGossipService(advertise string, now func() time.Time) (*gossipService, error) {
	host, portText, err := net.SplitHostPort(advertise)
	if err != nil {
		return nil, fmt.Errorf("eventstore: advertised address %q: %w", advertise, err)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil || port == 0 {
		return nil, fmt.Errorf("eventstore: advertised address %q: want a port from 1 to 65535", advertise)
	}
	id := uuid.New()
	return &gossipService{
		instance: &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{
			MostSignificantBits:  int64(binary.BigEndian.Uint64(id[:8])),
			LeastSignificantBits: int64(binary.BigEndian.Uint64(id[8:])),
		}}},
		host: host, port: uint32(port), now: now,
	}, nil
}

// advertisedAddress is what gossip tells clients to dial: the configured
// address, else the listener's; a listener on every interface is named by
// this machine's host name, since 0.0.0.0 cannot be dialled elsewhere.
func advertisedAddress(configured string, ln net.Addr) string {
	if configured != "" {
		return configured
	}
	host, port, err := net.SplitHostPort(ln.String())
	if err != nil {
		return ln.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if name, err := os.Hostname(); err == nil && name != "" {
			host = name
		}
	}
	return net.JoinHostPort(host, port)
}

// Read is EventStoreDB's client gossip: open to anonymous callers (its
// default policy allows Node.Gossip.ClientRead to everyone, and the
// official client sends no credentials on it).
func (g *gossipService) Read(context.Context, *shared.Empty) (*gossip.ClusterInfo, error) {
	return &gossip.ClusterInfo{Members: []*gossip.MemberInfo{{
		InstanceId:   g.instance,
		TimeStamp:    g.now().UnixNano() / 100, // .NET ticks since the Unix epoch, as EventStoreDB sends
		State:        gossip.MemberInfo_Leader,
		IsAlive:      true,
		HttpEndPoint: &gossip.EndPoint{Address: g.host, Port: g.port},
	}}}, nil
}
