// Package compose_test checks deploy/compose statically (no Docker engine is
// needed): the services it names exist, the replicas share one secret key
// and the servers' URLs name every node, published ports do not collide,
// images are pinned, and the files it mounts are there.
package compose_test

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

type service struct {
	Image       string                                `json:"image"`
	Build       *struct{ Context, Dockerfile string } `json:"build"`
	Command     []string                              `json:"command"`
	Entrypoint  []string                              `json:"entrypoint"`
	Environment map[string]string                     `json:"environment"`
	Ports       []string                              `json:"ports"`
	Volumes     []string                              `json:"volumes"`
	DependsOn   any                                   `json:"depends_on"`
	Hostname    string                                `json:"hostname"`
	ReadOnly    bool                                  `json:"read_only"`
}

type project struct {
	Services map[string]service `json:"services"`
	Volumes  map[string]any     `json:"volumes"`
}

// load parses compose.yaml (YAML anchors and merge keys resolved, as
// Compose does).
func load(t *testing.T) (project, string) {
	t.Helper()
	raw, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var p project
	if err := yaml.Unmarshal(raw, &p); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	if len(p.Services) == 0 {
		t.Fatal("compose.yaml: no services")
	}
	return p, string(raw)
}

// dependsOn lists a service's dependencies, in either of Compose's forms.
func dependsOn(t *testing.T, name string, s service) []string {
	t.Helper()
	switch d := s.DependsOn.(type) {
	case nil:
		return nil
	case []any:
		var out []string
		for _, v := range d {
			out = append(out, fmt.Sprint(v))
		}
		return out
	case map[string]any:
		var out []string
		for k := range d {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	default:
		t.Fatalf("service %s: depends_on %T", name, d)
		return nil
	}
}

// replicas are the accountd services: built from deploy/Dockerfile.
func replicas(p project) []string {
	var out []string
	for name, s := range p.Services {
		if s.Build != nil && s.Build.Dockerfile == "deploy/Dockerfile" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// servicesLike lists the services whose names match re, sorted.
func servicesLike(p project, re string) []string {
	var out []string
	for name := range p.Services {
		if regexp.MustCompile(re).MatchString(name) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func TestDependenciesExist(t *testing.T) {
	p, _ := load(t)
	for name, s := range p.Services {
		for _, dep := range dependsOn(t, name, s) {
			if _, ok := p.Services[dep]; !ok {
				t.Errorf("service %s depends on %q: no such service", name, dep)
			}
			if dep == name {
				t.Errorf("service %s depends on itself", name)
			}
		}
	}
}

func TestReplicasShareOneSecretKeyAndTheServers(t *testing.T) {
	p, _ := load(t)
	names := replicas(p)
	if len(names) != 3 {
		t.Fatalf("accountd replicas %v, want 3", names)
	}
	first := p.Services[names[0]]
	for _, env := range []string{"ACCOUNTD_SECRET_KEY", "EVENTSTORE_URL", "NATS_URL", "MONGO_URI"} {
		v := first.Environment[env]
		if v == "" {
			t.Errorf("%s: no %s", names[0], env)
		}
		for _, n := range names[1:] {
			if got := p.Services[n].Environment[env]; got != v {
				t.Errorf("%s: %s %q, %s has %q", n, env, got, names[0], v)
			}
		}
	}
	// The key and the passwords come from .env, never written here.
	if k := first.Environment["ACCOUNTD_SECRET_KEY"]; !regexp.MustCompile(`^\$\{ACCOUNTD_SECRET_KEY:\?[^}]*\}$`).MatchString(k) {
		t.Errorf("ACCOUNTD_SECRET_KEY %q: want ${ACCOUNTD_SECRET_KEY:?...} (required, from .env)", k)
	}
	for _, n := range names {
		s := p.Services[n]
		if !slices.Contains(s.Command, "--data=") {
			t.Errorf("%s: without --data= a missing key would be generated", n)
		}
		if !s.ReadOnly {
			t.Errorf("%s: root filesystem writable", n)
		}
		if s.Hostname != n {
			t.Errorf("%s: hostname %q (the replica's name in logs and /readyz)", n, s.Hostname)
		}
	}

	// Each server URL names every node of its cluster.
	for _, tc := range []struct{ env, nodes, port string }{
		{"EVENTSTORE_URL", `^esdb\d$`, "2113"},
		{"NATS_URL", `^nats\d$`, "4222"},
		{"MONGO_URI", `^mongo\d$`, "27017"},
	} {
		t.Run(tc.env, func(t *testing.T) {
			nodes := servicesLike(p, tc.nodes)
			if len(nodes) != 3 {
				t.Fatalf("nodes %v, want 3", nodes)
			}
			url := first.Environment[tc.env]
			for _, n := range nodes {
				if !strings.Contains(url, n+":"+tc.port) {
					t.Errorf("%s %q does not name %s:%s", tc.env, url, n, tc.port)
				}
			}
			if !strings.Contains(url, ":${") {
				t.Errorf("%s %q: no password", tc.env, url)
			}
		})
	}
	if u := first.Environment["EVENTSTORE_URL"]; !strings.Contains(u, "tls=true") || !strings.Contains(u, "tlsCAFile=") {
		t.Errorf("EVENTSTORE_URL %q: want TLS with the CA", u)
	}
	if u := first.Environment["MONGO_URI"]; !strings.Contains(u, "replicaSet=rs0") {
		t.Errorf("MONGO_URI %q: want replicaSet=rs0", u)
	}
}

func TestClustersNameEachOther(t *testing.T) {
	p, _ := load(t)
	esdb := servicesLike(p, `^esdb\d$`)
	for _, n := range esdb {
		env := p.Services[n].Environment
		if env["EVENTSTORE_CLUSTER_SIZE"] != fmt.Sprint(len(esdb)) {
			t.Errorf("%s: cluster size %q, %d nodes", n, env["EVENTSTORE_CLUSTER_SIZE"], len(esdb))
		}
		for _, other := range esdb {
			if other != n && !strings.Contains(env["EVENTSTORE_GOSSIP_SEED"], other+":2113") {
				t.Errorf("%s: gossip seed %q lacks %s", n, env["EVENTSTORE_GOSSIP_SEED"], other)
			}
		}
		if env["EVENTSTORE_NODE_HOST_ADVERTISE_AS"] != n || env["EVENTSTORE_DEFAULT_ADMIN_PASSWORD"] == "" {
			t.Errorf("%s: advertised as %q, admin password %q", n, env["EVENTSTORE_NODE_HOST_ADVERTISE_AS"], env["EVENTSTORE_DEFAULT_ADMIN_PASSWORD"])
		}
		if env["EVENTSTORE_INSECURE"] == "true" {
			t.Errorf("%s runs without TLS and authentication", n)
		}
	}
	nats := servicesLike(p, `^nats\d$`)
	for _, n := range nats {
		cmd := strings.Join(p.Services[n].Command, " ")
		for _, other := range nats {
			if other != n && !strings.Contains(cmd, "@"+other+":6222") {
				t.Errorf("%s: routes in %q lack %s", n, cmd, other)
			}
		}
	}
	script, err := os.ReadFile("mongo-init.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range servicesLike(p, `^mongo\d$`) {
		if !strings.Contains(string(script), `"`+n+`:27017"`) {
			t.Errorf("mongo-init.js: the replica set lacks %s", n)
		}
		if !slices.Contains(p.Services[n].Command, "--keyFile") {
			t.Errorf("%s: no --keyFile (members would not authenticate each other)", n)
		}
	}
	conf, err := os.ReadFile("nats.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"jetstream", "authorization", "$NATS_PASSWORD", "$NATS_ROUTE_PASSWORD"} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("nats.conf lacks %s", want)
		}
	}
}

func TestTheProxyBalancesOverEveryReplicaByReadiness(t *testing.T) {
	p, _ := load(t)
	caddy, err := os.ReadFile("Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range replicas(p) {
		addr := ""
		for i, a := range p.Services[n].Command {
			if a == "--http" && i+1 < len(p.Services[n].Command) {
				addr = p.Services[n].Command[i+1]
			}
		}
		_, port, _ := strings.Cut(addr, ":")
		if port == "" || !strings.Contains(string(caddy), " "+n+":"+port) {
			t.Errorf("Caddyfile does not send requests to %s:%s (--http %q)", n, port, addr)
		}
	}
	for _, want := range []string{"lb_policy round_robin", "health_uri /readyz"} {
		if !strings.Contains(string(caddy), want) {
			t.Errorf("Caddyfile lacks %q", want)
		}
	}
}

func TestPublishedPortsDoNotCollide(t *testing.T) {
	p, _ := load(t)
	seen := map[string]string{}
	for name, s := range p.Services {
		for _, port := range s.Ports {
			parts := strings.Split(port, ":")
			if len(parts) < 2 {
				t.Errorf("%s: port %q publishes a random host port", name, port)
				continue
			}
			host := strings.Join(parts[:len(parts)-1], ":")
			if other, dup := seen[host]; dup {
				t.Errorf("%s and %s both publish %s", name, other, host)
			}
			seen[host] = name
			if !slices.Contains(servicesLike(p, `^proxy$`), name) {
				t.Errorf("%s publishes %s: only the proxy should", name, port)
			}
		}
	}
}

func TestImagesArePinnedAndMountsExist(t *testing.T) {
	p, raw := load(t)
	for name, s := range p.Services {
		if s.Build == nil {
			_, tag, ok := strings.Cut(s.Image, ":")
			if !ok || tag == "latest" || !regexp.MustCompile(`^\d+\.\d+\.\d+`).MatchString(tag) {
				t.Errorf("%s: image %q is not pinned to a version", name, s.Image)
			}
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, "./") {
				if _, err := os.Stat(src); err != nil {
					t.Errorf("%s mounts %s: %v", name, src, err)
				}
			} else if _, ok := p.Volumes[src]; !ok {
				t.Errorf("%s mounts volume %q, not declared", name, src)
			}
		}
	}
	// Every variable compose.yaml takes from .env is in .env.example.
	example, err := os.ReadFile(".env.example")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\$\{([A-Z_]+)`).FindAllStringSubmatch(raw, -1) {
		if !regexp.MustCompile(`(?m)^` + m[1] + `=`).Match(example) {
			t.Errorf(".env.example lacks %s", m[1])
		}
	}
}

// deploy/docker-compose.yml, the older single-node stack, now points here.
func TestTheOlderComposeFileIncludesThisOne(t *testing.T) {
	raw, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var old struct {
		Include []string `json:"include"`
	}
	if err := yaml.UnmarshalStrict(raw, &old); err != nil {
		t.Fatalf("deploy/docker-compose.yml: %v", err)
	}
	if !slices.Equal(old.Include, []string{"compose/compose.yaml"}) {
		t.Errorf("deploy/docker-compose.yml includes %v, want [compose/compose.yaml]", old.Include)
	}
}
