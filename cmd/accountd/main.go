// Command accountd runs the account service. With no configuration it
// starts its own event store, NATS and FerretDB in-process, keeping their
// data under --data; given EVENTSTORE_URL, NATS_URL and MONGO_URI (or the
// matching flags) it uses those servers instead.
package main

import (
	"context"
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
	httpAddr := flags.String("http", "127.0.0.1:8080", "HTTP listen address")
	esListen := flags.String("eventstore-listen", "127.0.0.1:2113", "embedded event store listen address")
	natsListen := flags.String("nats-listen", "127.0.0.1:4222", "embedded NATS listen address")
	esURL := flags.String("eventstore-url", getenv("EVENTSTORE_URL"), "external EventStoreDB, e.g. esdb://host:2113?tls=false (env EVENTSTORE_URL); empty: embedded")
	natsURL := flags.String("nats-url", getenv("NATS_URL"), "external NATS with JetStream, e.g. nats://host:4222 (env NATS_URL); empty: embedded")
	mongoURI := flags.String("mongo-uri", getenv("MONGO_URI"), "external MongoDB, e.g. mongodb://host:27017/ (env MONGO_URI); empty: embedded FerretDB")
	database := flags.String("database", "accounts", "MongoDB database for read models")
	verbose := flags.Bool("verbose", false, "log debug messages")
	logFormat := flags.String("log-format", "json", "log format: json or text (the access log and every other line)")
	registrationLimit := flags.String("registration-limit", "20/10m", "registrations allowed per client address, as N/DURATION (e.g. 1000/1m for load tests)")
	pictureLimit := flags.String("picture-upload-limit", "10/1h", "profile picture uploads allowed per account, as N/DURATION (e.g. 1000/1m for load tests)")
	var extraScopes, clients, admins listFlag
	flags.Var(&admins, "admin", "a user id or username allowed the admin endpoints (repeatable; also ACCOUNTD_ADMINS, comma-separated); ids are safer, a username passes to whoever holds it")
	retentionDays := flags.Int("audit-retention-days", 400, "audit log entries older than this many days are removed (in the background)")
	flags.Var(&extraScopes, "scope", "an extra token scope for the platform's services, NAME=DESCRIPTION (repeatable), e.g. projects:read=Read your projects")
	flags.Var(&clients, "introspection-client", "a service that may introspect tokens, ID:SECRET (repeatable; HTTP basic auth on POST /v1/tokens/introspect)")
	tokenLifetime := flags.Duration("token-max-lifetime", 366*24*time.Hour, "how far ahead a personal access token may expire")
	indexMaxLag := flags.Uint64("token-index-max-lag", 1000, "refuse credential checks (503) while the in-memory credential index is more than this many events behind the log")
	readyLagEvents := flags.Uint64("ready-max-lag-events", 1000, "/readyz is 503 while a component is more than this many events behind the log")
	smtpRelay := flags.String("smtp", getenv("ACCOUNTD_SMTP"), "SMTP relay for notification e-mails, smtp://[user:password@]host:port?from=address (env ACCOUNTD_SMTP); empty: e-mails wait in the outbox (GET /v1/admin/outbox)")
	insecureCookies := flags.Bool("insecure-cookies", false, "console cookies without Secure and the __Host- prefix, for plain-HTTP development hosts other than localhost (only with --http on a loopback address)")
	readyLag := flags.Duration("ready-max-lag", 10*time.Second, "/readyz is 503 while a component is further behind the log than this")
	flags.Usage = func() {
		fmt.Fprintf(stderr, "Usage: accountd [flags]\n\nThe self-service account backend. Flags:\n\n")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "accountd: unexpected argument %q\n", flags.Arg(0))
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
	scopeMap := map[string]string{}
	for _, s := range extraScopes {
		name, desc, err := scopes.ParseFlag(s)
		if err != nil {
			fmt.Fprintf(stderr, "accountd: --scope: %v\n", err)
			return 2
		}
		scopeMap[name] = desc
	}
	clientMap := map[string]string{}
	for _, c := range clients {
		id, secret, ok := strings.Cut(c, ":")
		if !ok || id == "" || secret == "" {
			fmt.Fprintf(stderr, "accountd: --introspection-client %q: want ID:SECRET\n", c)
			return 2
		}
		clientMap[id] = secret
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
	svc, err := app.Start(ctx, app.Config{
		Platform: platform.Config{
			DataDir:          *dataDir,
			EventStoreURL:    *esURL,
			NATSURL:          *natsURL,
			MongoURI:         *mongoURI,
			EventStoreListen: *esListen,
			NATSListen:       *natsListen,
			Database:         *database,
		},
		HTTPListen:           *httpAddr,
		Logger:               logger,
		AccessLog:            logger.With("log", "access"),
		RegistrationLimit:    regLimit,
		PictureUploadLimit:   picLimit,
		Scopes:               scopeMap,
		IntrospectionClients: clientMap,
		MaxTokenLifetime:     *tokenLifetime,
		TokenIndexMaxLag:     *indexMaxLag,
		Admins:               adminList(admins, getenv("ACCOUNTD_ADMINS")),
		AuditRetention:       time.Duration(*retentionDays) * 24 * time.Hour,
		SecretKey:            getenv("ACCOUNTD_SECRET_KEY"),
		SMTP:                 *smtpRelay,
		InsecureCookies:      *insecureCookies,
		ReadyMaxLagEvents:    *readyLagEvents,
		ReadyMaxLag:          *readyLag,
	})
	if err != nil {
		logger.Error("cannot start", "err", err)
		return 1
	}
	fmt.Fprintf(stdout, "accountd listening on %s (event store %s, NATS %s, MongoDB %s)\n",
		svc.URL(), svc.Platform.EventStoreURL, svc.Platform.NATSURL, svc.Platform.MongoURI)
	<-ctx.Done()
	logger.Info("stopping")
	svc.Close()
	logger.Info("stopped cleanly")
	return 0
}
