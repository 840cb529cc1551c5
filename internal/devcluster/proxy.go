package devcluster

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"time"
)

// proxy spreads requests over the replicas in turn, as a load balancer
// would, skipping replicas that are not running (killed), not ready yet
// (being started) or being stopped (see drainWait); a replica that is running but stuck (paused) still gets
// its turn, as behind a real balancer until its health check fails. Each
// answer says which replica gave it, in ReplicaHeader.
//
// The turn is this process's own counter: the proxy stands for the one
// load balancer in front of the replicas, not for something replicated.
type proxy struct {
	url    string
	server *http.Server
	served chan error
}

// ReplicaHeader names the replica ("replica-1") that answered through the
// proxy.
const ReplicaHeader = "X-Devcluster-Replica"

func startProxy(listen string, replicas []*Process, log *slog.Logger) (*proxy, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	var next atomic.Uint64
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			target := replicas[0]
			for range replicas {
				candidate := replicas[int(next.Add(1)-1)%len(replicas)]
				if candidate.serving() {
					target = candidate
					break
				}
			}
			r.SetURL(&url.URL{Scheme: "http", Host: target.addr})
			r.Out.Host = r.In.Host // the replicas see the address clients used, as behind a balancer
			r.SetXForwarded()
		},
		ModifyResponse: func(res *http.Response) error {
			for _, r := range replicas {
				if r.addr == res.Request.URL.Host {
					res.Header.Set(ReplicaHeader, r.name)
				}
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			log.Debug("proxy: no answer from a replica", "host", r.URL.Host, "err", err)
			http.Error(w, "devcluster proxy: no answer from a replica: "+err.Error(), http.StatusBadGateway)
		},
	}
	p := &proxy{
		url:    "http://" + ln.Addr().String(),
		server: &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second},
		served: make(chan error, 1),
	}
	go func() { p.served <- p.server.Serve(ln) }()
	return p, nil
}

func (p *proxy) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := p.server.Shutdown(ctx)
	<-p.served
	return err
}
