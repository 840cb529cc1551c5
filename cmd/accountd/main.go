// Command accountd runs the account service. With no configuration it
// starts its own event store, NATS and FerretDB in-process, keeping their
// data under --data; given EVENTSTORE_URL, NATS_URL and MONGO_URI (or the
// matching flags) it uses those servers instead.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/accountd/accountd/commands"
	"github.com/accountd/accountd/internal/app"
	"github.com/accountd/accountd/internal/platform"
	"github.com/accountd/accountd/internal/reqmeta"
	"github.com/accountd/accountd/internal/scopes"
)

// adminList joins --admin values and ACCOUNTD_ADMINS.
func adminList(flags []string, env string) []string {
	out := append([]string{}, flags...)
	for _, a := range strings.Split(env, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// minClientSecret is the shortest introspection client secret accepted.
const minClientSecret = 16

// introspectionClients gathers the introspection clients: from the
// repeatable flag (whose values any local user can read in the process
// list), from env (ACCOUNTD_INTROSPECTION_CLIENT: ID:SECRET entries
// separated by commas or newlines) and from the file (one ID:SECRET a
// line; blank lines and lines starting with # are ignored). Errors name
// where an entry came from, never its secret.
func introspectionClients(flagValues []string, env, file string, readFile func(string) ([]byte, error)) (map[string]string, error) {
	out := map[string]string{}
	add := func(where, entry string) error {
		id, secret, ok := strings.Cut(entry, ":")
		id = strings.TrimSpace(id)
		switch {
		case !ok || id == "" || secret == "":
			return fmt.Errorf("%s: want ID:SECRET", where)
		case len(secret) < minClientSecret:
			return fmt.Errorf("%s: the secret of client %q is shorter than %d characters", where, id, minClientSecret)
		}
		if _, dup := out[id]; dup {
			return fmt.Errorf("%s: client %q is given twice", where, id)
		}
		out[id] = secret
		return nil
	}
	for i, v := range flagValues {
		if err := add(fmt.Sprintf("--introspection-client #%d", i+1), v); err != nil {
			return nil, err
		}
	}
	for i, entry := range strings.FieldsFunc(env, func(r rune) bool { return r == ',' || r == '\n' }) {
		if entry = strings.TrimSpace(entry); entry == "" {
			continue
		}
		if err := add(fmt.Sprintf("ACCOUNTD_INTROSPECTION_CLIENT entry %d", i+1), entry); err != nil {
			return nil, err
		}
	}
	if file != "" {
		raw, err := readFile(file)
		if err != nil {
			return nil, fmt.Errorf("--introspection-client-file: %w", err)
		}
		for i, line := range strings.Split(string(raw), "\n") {
			if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if err := add(fmt.Sprintf("%s line %d", file, i+1), line); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// secretKeyFrom takes the secret key from the environment or from a file
// (one of them; surrounding white space ignored), "" when neither is given.
func secretKeyFrom(env, file string, readFile func(string) ([]byte, error)) (string, error) {
	if file == "" {
		return strings.TrimSpace(env), nil
	}
	if env != "" {
		return "", errors.New("the secret key is given twice: ACCOUNTD_SECRET_KEY and --secret-key-file (give one)")
	}
	raw, err := readFile(file)
	if err != nil {
		return "", fmt.Errorf("--secret-key-file: %w", err)
	}
	key := strings.TrimSpace(string(raw))
	if key == "" {
		return "", fmt.Errorf("--secret-key-file %s is empty", file)
	}
	return key, nil
}

// listFlag collects a repeatable flag's values.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ", ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("accountd", flag.ContinueOnError)
	flags.SetOutput(stderr)
	dataDir := flags.String("data", "./data", "directory for the embedded servers' data")
	httpAddr := flags.String("http", "127.0.0.1:8080", "HTTP listen address, HOST:PORT (port 0: a free port)")
	esListen := flags.String("eventstore-listen", "127.0.0.1:2113", "embedded event store listen address, HOST:PORT (port 0: a free port)")
	natsListen := flags.String("nats-listen", "127.0.0.1:4222", "embedded NATS listen address, HOST:PORT (port 0: a free port)")
	esURL := flags.String("eventstore-url", getenv("EVENTSTORE_URL"), "external EventStoreDB, e.g. esdb://host:2113?tls=false (env EVENTSTORE_URL); empty: embedded")
	natsURL := flags.String("nats-url", getenv("NATS_URL"), "external NATS with JetStream, e.g. nats://host:4222 (env NATS_URL); empty: embedded")
	mongoURI := flags.String("mongo-uri", getenv("MONGO_URI"), "external MongoDB, e.g. mongodb://host:27017/ (env MONGO_URI); empty: embedded FerretDB")
	database := flags.String("database", "accounts", "MongoDB database for read models")
	verbose := flags.Bool("verbose", false, "log debug messages")
	logFormat := flags.String("log-format", "json", "log format: json or text (the access log and every other line)")
	registrationLimit := flags.String("registration-limit", "20/10m", "registrations allowed per client address, as N/DURATION with N at least 1 and DURATION positive (e.g. 1000/1m for load tests)")
	pictureLimit := flags.String("picture-upload-limit", "10/1h", "profile picture uploads allowed per account, as N/DURATION with N at least 1 and DURATION positive (e.g. 1000/1m for load tests)")
	var extraScopes, clients, admins listFlag
	flags.Var(&admins, "admin", "grant the admin role to an account: a username (granted once, to the first account seen holding it; the role then follows that account through renames) or id:USER_ID (repeatable; also ACCOUNTD_ADMINS, comma-separated); accountctl admins shows who holds it")
	retentionDays := flags.Int("audit-retention-days", 400, "audit log entries older than this many days are removed (in the background); at least 1 (0: the default)")
	flags.Var(&extraScopes, "scope", "an extra token scope for the platform's services, NAME=DESCRIPTION (repeatable), e.g. projects:read=Read your projects; NAME is lower case, a letter then up to 40 of a-z 0-9 _ . - (and optionally :ACTION alike), not a built-in scope; DESCRIPTION is not empty")
	flags.Var(&clients, "introspection-client", "a service that may introspect tokens, ID:SECRET (repeatable; HTTP basic auth on POST /v1/tokens/introspect; the secret at least 16 characters). Visible to every local user in the process list: prefer ACCOUNTD_INTROSPECTION_CLIENT (ID:SECRET entries separated by commas or newlines) or --introspection-client-file")
	clientFile := flags.String("introspection-client-file", "", "a file of introspection clients, one ID:SECRET a line (secrets at least 16 characters; blank lines and lines starting with # are ignored); keep it readable by the service's user only")
	tokenLifetime := flags.Duration("token-max-lifetime", 366*24*time.Hour, "how far ahead a personal access token may expire; at least 1h (0: the default)")
	indexMaxStaleness := flags.Duration("token-index-max-staleness", time.Second, "refuse credential checks (503), and /readyz, while the in-memory credential index is staler than this: the time since the newest probe of the log's head (every 250 ms) whose head it had applied, also when the replica was paused past it (not negative; 0: the default)")
	readyLagEvents := flags.Uint64("ready-max-lag-events", 1000, "/readyz is 503 while a component is more than this many events behind the log (0: the default)")
	smtpRelay := flags.String("smtp", getenv("ACCOUNTD_SMTP"), "SMTP relay for notification e-mails, smtp://[user:password@]host:port?from=address (STARTTLS whenever offered) or smtps://... (TLS from the start, port 465); credentials go only over TLS (env ACCOUNTD_SMTP); empty: e-mails wait in the outbox (GET /v1/admin/outbox)")
	insecureCookies := flags.Bool("insecure-cookies", false, "console cookies without Secure and the __Host- prefix, for plain-HTTP development hosts other than localhost (only with --http on a loopback address)")
	readyLag := flags.Duration("ready-max-lag", 10*time.Second, "/readyz is 503 while a component is further behind the log than this (not negative; 0: the default)")
	metricsListen := flags.String("metrics-listen", "127.0.0.1:9090", "listen address of GET /metrics, a listener of its own (several replicas on one host: one address each); \"\" or off: no metrics; not the --http address")
	rywTimeout := flags.Duration("read-your-writes-timeout", 2*time.Second, "how long a read waits for the read models to include the caller's writes or its X-Consistency-Token (then: the answer there is, or 503 for a token), and a credential check for the credential index to read the log as far as it stands (then: 503)")
	replicaID := flags.String("replica-id", getenv("ACCOUNTD_REPLICA_ID"), "this replica's name in /readyz, logs and the leases it holds (env ACCOUNTD_REPLICA_ID); empty: the host name, \"-\" and 6 random hex characters, new at every start")
	secretKeyFile := flags.String("secret-key-file", "", "a file holding the secret key that wraps every account's data key (32 random bytes, base64: openssl rand -base64 32; keep it 0600), instead of ACCOUNTD_SECRET_KEY; required, the same on every replica, when any server is external; without either and with embedded servers only, one is generated into DATA/secret.key")
	trustedProxies := flags.String("trusted-proxies", getenv("ACCOUNTD_TRUSTED_PROXIES"), "CIDRs (comma-separated) of the proxies in front of the service (env ACCOUNTD_TRUSTED_PROXIES): from a peer in them the client's address, for limits per address, session records, tokens' allowed addresses and logs, is the rightmost X-Forwarded-For address not in them (a malformed header: the peer's); empty: the peer is the client and X-Forwarded-For is ignored")
	allowedHosts := flags.String("allowed-hosts", "", "host names (comma-separated) the API and console answer for besides localhost, 127.0.0.1, [::1] and the --http host; another Host header gets 421 (/healthz and /readyz answer any)")
	flags.Usage = func() {
		fmt.Fprintf(stderr, "Usage: accountd [flags] [bootstrap]\n\nThe self-service account backend. \"accountd bootstrap\" creates what replicas need (the event feed stream, read-model collections and indexes, coordination buckets; each replica does the same at start, idempotently), checks the secret key against the stored data keys, and exits 0. Flags:\n\n")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	bootstrap := false
	if flags.NArg() == 1 && flags.Arg(0) == "bootstrap" {
		bootstrap = true // create what replicas need, then exit (a deployment's bootstrap Job)
	} else if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "accountd: unexpected argument %q (the one command is bootstrap)\n", flags.Arg(0))
		return 2
	}
	regLimit, err := commands.ParseRate(*registrationLimit)
	if err != nil {
		fmt.Fprintf(stderr, "accountd: --registration-limit: %v\n", err)
		return 2
	}
	picLimit, err := commands.ParseRate(*pictureLimit)
	if err != nil {
		fmt.Fprintf(stderr, "accountd: --picture-upload-limit: %v\n", err)
		return 2
	}
	proxies, err := reqmeta.ParseTrustedProxies(*trustedProxies)
	if err != nil {
		fmt.Fprintf(stderr, "accountd: --trusted-proxies: %v\n", err)
		return 2
	}
	scopeMap := map[string]string{}
	for _, s := range extraScopes {
		name, desc, err := scopes.ParseFlag(s)
		if err != nil {
			fmt.Fprintf(stderr, "accountd: --scope: %v\n", err)
			return 2
		}
		scopeMap[name] = desc
	}
	clientMap, err := introspectionClients(clients, getenv("ACCOUNTD_INTROSPECTION_CLIENT"), *clientFile, os.ReadFile)
	if err != nil {
		fmt.Fprintf(stderr, "accountd: introspection clients: %v\n", err)
		return 2
	}
	secretKey, err := secretKeyFrom(getenv("ACCOUNTD_SECRET_KEY"), *secretKeyFile, os.ReadFile)
	if err != nil {
		fmt.Fprintf(stderr, "accountd: %v\n", err)
		return 2
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	var handler slog.Handler
	switch *logFormat {
	case "json":
		handler = slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})
	case "text":
		handler = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})
	default:
		fmt.Fprintf(stderr, "accountd: --log-format %q: want json or text\n", *logFormat)
		return 2
	}
	logger := slog.New(handler)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	cfg := app.Config{
		Platform: platform.Config{
			DataDir:          *dataDir,
			EventStoreURL:    *esURL,
			NATSURL:          *natsURL,
			MongoURI:         *mongoURI,
			EventStoreListen: *esListen,
			NATSListen:       *natsListen,
			Database:         *database,
		},
		HTTPListen:             *httpAddr,
		Logger:                 logger,
		AccessLog:              logger.With("log", "access"),
		RegistrationLimit:      regLimit,
		PictureUploadLimit:     picLimit,
		Scopes:                 scopeMap,
		IntrospectionClients:   clientMap,
		MaxTokenLifetime:       *tokenLifetime,
		TokenIndexMaxStaleness: *indexMaxStaleness,
		Admins:                 adminList(admins, getenv("ACCOUNTD_ADMINS")),
		AuditRetention:         time.Duration(*retentionDays) * 24 * time.Hour,
		SecretKey:              secretKey,
		ReplicaID:              *replicaID,
		SMTP:                   *smtpRelay,
		InsecureCookies:        *insecureCookies,
		ReadyMaxLagEvents:      *readyLagEvents,
		ReadyMaxLag:            *readyLag,
		MetricsListen:          *metricsListen,
		AllowedHosts:           splitList(*allowedHosts),
		ReadYourWritesTimeout:  *rywTimeout,
		TrustedProxies:         proxies,
	}
	if bootstrap {
		if err := app.Bootstrap(ctx, cfg); err != nil {
			logger.Error("bootstrap failed", "err", err)
			return 1
		}
		logger.Info("bootstrap done: stream, collections, indexes and buckets exist")
		return 0
	}
	svc, err := app.Start(ctx, cfg)
	if err != nil {
		logger.Error("cannot start", "err", err)
		return 1
	}
	fmt.Fprintf(stdout, "accountd listening on %s (event store %s, NATS %s, MongoDB %s)\n",
		svc.URL(), svc.Platform.EventStoreURL, svc.Platform.NATSURL, svc.Platform.MongoURI)
	if addr := svc.MetricsAddr(); addr != "" {
		fmt.Fprintf(stdout, "metrics on http://%s/metrics\n", addr)
	}
	<-ctx.Done()
	logger.Info("stopping")
	svc.Close()
	logger.Info("stopped cleanly")
	return 0
}
