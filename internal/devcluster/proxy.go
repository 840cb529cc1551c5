package devcluster

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"time"
)

// proxy spreads requests over the replicas in turn, as a load balancer
// would, skipping replicas that are not running (killed or stopped through
// their Process); a replica that is running but stuck (paused) still gets
// its turn, as behind a real balancer until its health check fails.
type proxy struct {
	url    string
	server *http.Server
	served chan error
}

func startProxy(listen string, replicas []*Process) (*proxy, error) {
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
				if candidate.Running() {
					target = candidate
					break
				}
			}
			r.SetURL(&url.URL{Scheme: "http", Host: target.addr})
			r.Out.Host = r.In.Host // the replicas see the address clients used, as behind a balancer
			r.SetXForwarded()
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
