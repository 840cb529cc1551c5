package eventlog_test

import (
	"testing"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/internal/eventlog"
	"github.com/accountd/accountd/internal/eventlog/eventlogtest"
	"github.com/accountd/accountd/internal/testenv"
)

func TestESDBContract(t *testing.T) {
	_, client := testenv.EventStore(t)
	log := eventlog.New(client)
	eventlogtest.Run(t, func(*testing.T) commands.EventLog { return log })
}

func TestMemoryContract(t *testing.T) {
	eventlogtest.Run(t, func(*testing.T) commands.EventLog { return eventlog.NewMemory() })
}
