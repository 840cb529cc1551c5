package commands_test

import (
	"testing"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/commands/limitstest"
)

func TestMemoryLimitsContract(t *testing.T) {
	limitstest.Run(t, func(t *testing.T, now func() time.Time) commands.Limits { return commands.NewMemoryLimits(now) })
}
