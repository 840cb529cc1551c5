package eventstore

import (
	"context"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/serverfeatures"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
)

// ServerVersion is what clients see; they gate features on it, so it names
// the EventStoreDB release whose Streams behaviour we follow.
const ServerVersion = "24.10.0"

type featuresService struct {
	serverfeatures.UnimplementedServerFeaturesServer
}

func (featuresService) GetSupportedMethods(context.Context, *shared.Empty) (*serverfeatures.SupportedMethods, error) {
	const streamsService = "event_store.client.streams.streams"
	methods := []*serverfeatures.SupportedMethod{}
	for _, name := range []string{"read", "append", "delete", "tombstone"} {
		methods = append(methods, &serverfeatures.SupportedMethod{MethodName: name, ServiceName: streamsService})
	}
	methods = append(methods, &serverfeatures.SupportedMethod{
		MethodName: "getsupportedmethods", ServiceName: "event_store.client.server_features.serverfeatures",
	}, &serverfeatures.SupportedMethod{
		MethodName: "read", ServiceName: "event_store.client.gossip.gossip",
	})
	return &serverfeatures.SupportedMethods{Methods: methods, EventStoreServerVersion: ServerVersion}, nil
}
