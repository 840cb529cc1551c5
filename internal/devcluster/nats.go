package devcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsNodes is how many nats-server processes form the NATS cluster: the
// smallest that keeps JetStream's quorum with one node gone.
const natsNodes = 3

// natsNode returns node i of the NATS cluster (not started). Its
// configuration file (0600) holds the passwords, so they are on no command
// line: clients sign in with the cluster's NATS login, and the nodes' routes
// with a login of their own.
func (c *Cluster) natsNode(binDir, dir string, i int, clientPorts, routePorts []int) (*Process, error) {
	quote := func(s string) string { raw, _ := json.Marshal(s); return string(raw) }
	var routes []string
	for j, port := range routePorts {
		if j != i {
			u := url.URL{Scheme: "nats", User: url.UserPassword("route", c.routePassword), Host: "127.0.0.1:" + strconv.Itoa(port)}
			routes = append(routes, quote(u.String()))
		}
	}
	name := "nats-" + strconv.Itoa(i)
	store := filepath.Join(dir, name)
	conf := fmt.Sprintf(`server_name: %s
listen: "127.0.0.1:%d"
jetstream { store_dir: %s }
authorization { user: %s, password: %s }
cluster {
  name: "devcluster"
  listen: "127.0.0.1:%d"
  authorization { user: "route", password: %s }
  routes: [%s]
}
`, quote(name), clientPorts[i], quote(store), quote(c.natsUser), quote(c.natsPassword),
		routePorts[i], quote(c.routePassword), strings.Join(routes, ", "))
	confFile := filepath.Join(dir, name+".conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	p := &Process{
		name:     name,
		path:     filepath.Join(binDir, "nats-server"),
		args:     []string{"-c", confFile},
		env:      baseEnv(),
		dir:      dir,
		addr:     "127.0.0.1:" + strconv.Itoa(clientPorts[i]),
		stopSig:  syscall.SIGTERM,
		stopWait: 10 * time.Second,
		logFile:  c.logPath(name),
		spawner:  c.spawner,
		onExit:   c.exited,
	}
	// Ready: it takes clients, and JetStream answers through it (which
	// needs the cluster's meta leader, elected once a quorum is up).
	p.ready = func(ctx context.Context) error {
		nc, err := nats.Connect("nats://"+p.addr, nats.UserInfo(c.natsUser, c.natsPassword), nats.Timeout(2*time.Second), nats.NoReconnect())
		if err != nil {
			return err
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return err
		}
		_, err = js.AccountInfo(ctx)
		return err
	}
	return p, nil
}

// natsURL lists every node, each with the login, as the NATS client takes
// them (comma-separated): a client moves to another node when its own dies.
func (c *Cluster) natsURL() string {
	var urls []string
	for _, n := range c.nats {
		u := url.URL{Scheme: "nats", User: url.UserPassword(c.natsUser, c.natsPassword), Host: n.addr}
		urls = append(urls, u.String())
	}
	return strings.Join(urls, ",")
}
