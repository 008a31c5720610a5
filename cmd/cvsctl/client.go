package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/clustered-video-streams/cvs/internal/api"
	"github.com/clustered-video-streams/cvs/internal/api/apiclient"
)

// Exit codes of the operator commands, beyond exitOK, exitFailure and exitUsage.
const (
	exitRefused  = 3 // the guard refused, or the instance changed since --if-version
	exitNotFound = 4 // no such cluster or instance
)

// endpointEnv names the environment variable that stands in for --endpoint.
const endpointEnv = "CVS_ENDPOINT"

// apiFlags are the flags every command that talks to the API takes.
type apiFlags struct {
	fs               *flag.FlagSet
	endpoint, region string
	json             bool
	timeout          time.Duration
}

func addAPIFlags(fs *flag.FlagSet) *apiFlags {
	f := &apiFlags{fs: fs, timeout: 20 * time.Second}
	fs.StringVar(&f.endpoint, "endpoint", os.Getenv(endpointEnv),
		"the API's URL: https://<api-id>.execute-api.<region>.amazonaws.com (signed with your AWS credentials), or http://127.0.0.1:PORT for a local runtime (unsigned); default $"+endpointEnv)
	fs.Var(regionFlag{&f.region}, "api-region", "the API's region for signing (default: from the endpoint's host name, else your AWS configuration)")
	fs.BoolVar(&f.json, "json", false, "print the API's JSON instead of a table")
	fs.Var(durationFlag{&f.timeout}, "timeout", "time limit for the whole command (positive)")
	return f
}

// client returns an API client for the endpoint: SigV4-signed with the default AWS credential
// chain for https, unsigned (naming the operator) for http on loopback.
func (f *apiFlags) client(ctx context.Context, e *env) (*apiclient.Client, error) {
	hc, _, err := f.httpClient(ctx, e)
	if err != nil {
		return nil, err
	}
	return apiclient.New(f.endpoint, hc)
}

// httpClient returns the HTTP client that signs requests to the endpoint (or names the
// operator to a local runtime), and the endpoint's URL.
func (f *apiFlags) httpClient(ctx context.Context, e *env) (*http.Client, *url.URL, error) {
	if f.endpoint == "" {
		return nil, nil, &usageError{"no endpoint: pass --endpoint or set $" + endpointEnv}
	}
	u, err := apiclient.ParseEndpoint(f.endpoint)
	if err != nil {
		source := "--endpoint"
		if !isSet(f.fs, "endpoint") {
			source = "$" + endpointEnv
		}
		return nil, nil, &usageError{fmt.Sprintf("%s: %v", source, err)}
	}
	unsigned, err := apiclient.Unsigned(u)
	if err != nil {
		return nil, nil, &usageError{err.Error()}
	}
	hc := *e.client
	if unsigned {
		hc.Transport = &apiclient.Operator{Name: operatorName(), Next: e.client.Transport}
		return &hc, u, nil
	}
	var opts []func(*config.LoadOptions) error
	if region := cmp.Or(f.region, apiclient.RegionOf(u)); region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, nil, &usageError{"cannot tell the API's region from " + u.Host + ": pass --api-region"}
	}
	hc.Transport = &apiclient.SigV4{Credentials: cfg.Credentials, Region: cfg.Region, Next: e.client.Transport}
	return &hc, u, nil
}

// usageError is a mistake in the command line: exit code 2.
type usageError struct{ msg string }

func (u *usageError) Error() string { return u.msg }

// fail reports err on stderr and returns the exit code scripts branch on.
func fail(e *env, err error) int {
	fmt.Fprintf(e.stderr, "%v\n", err)
	var usage *usageError
	var apiErr *apiclient.Error
	switch {
	case errors.As(err, &usage):
		return exitUsage
	case errors.As(err, &apiErr) && apiErr.Route != "":
		return exitFailure // the API lacks the route: no verdict on the cluster
	case errors.As(err, &apiErr) && (apiErr.Code == api.CodeGuardRefused || apiErr.Code == api.CodeVersionConflict):
		return exitRefused
	case errors.As(err, &apiErr) && apiErr.Code == api.CodeNotFound:
		return exitNotFound
	}
	return exitFailure
}

var operatorRE = regexp.MustCompile(`[^A-Za-z0-9._@-]+`)

// operatorName is who runs cvsctl, as a local runtime records it (local:<name>).
func operatorName() string {
	name := os.Getenv("USER")
	if name == "" {
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
	}
	return cmp.Or(operatorRE.ReplaceAllString(name, "_"), "operator")
}

// parseArgs parses flags that may come before, between or after the positional arguments
// (cvsctl close live-1 d1... --reason "..." reads naturally), and returns the positionals.
// A lone "--" ends the flags.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// parseCommand parses a command's flags and checks its number of positional arguments.
// It returns the positionals, or the exit code to return now (help, or a usage error).
func parseCommand(e *env, fs *flag.FlagSet, args []string, min, max int) ([]string, int, bool) {
	// The flag package would print the error and the whole usage on stderr: asked for, the
	// usage goes to stdout; a mistake gets one line on stderr.
	fs.SetOutput(io.Discard)
	pos, err := parseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(e.stdout)
		fs.Usage()
		return nil, exitOK, false
	}
	if err == nil && (len(pos) < min || len(pos) > max) {
		err = errors.New("wrong number of arguments")
	}
	if err == nil && slices.Contains(pos, "") {
		err = errors.New("an argument is empty") // "" would make a path such as /clusters//instances/...
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "%v (cvsctl %s -h for help)\n", err, fs.Name())
		return nil, exitUsage, false
	}
	return pos, 0, true
}

// usageFunc prints a command's usage line, description and flags.
func usageFunc(fs *flag.FlagSet, synopsis, description string) func() {
	return func() {
		fmt.Fprintf(fs.Output(), "usage: cvsctl %s %s\n\n%s\n\nflags:\n", fs.Name(), synopsis, strings.TrimSpace(description))
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), exitCodesHelp)
	}
}

const exitCodesHelp = `
exit codes: 0 ok, 1 error, 2 usage, 3 refused by the guard or version conflict, 4 not found
`

// printJSON writes v indented, for --json.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// withTimeout bounds a command by --timeout.
func (f *apiFlags) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, f.timeout)
}

// newFlagSet returns a command's flag set writing to stderr.
func newFlagSet(e *env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}

// shortPrincipal shows an ARN by its resource part (assumed-role/Ops/alice), for tables.
func shortPrincipal(p string) string {
	if parts := strings.SplitN(p, ":", 6); strings.HasPrefix(p, "arn:") && len(parts) == 6 {
		return parts[5]
	}
	return p
}
