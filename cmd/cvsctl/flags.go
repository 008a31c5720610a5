package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/clustered-video-streams/cvs/internal/api"
)

// Flag values that refuse, while the command line is parsed, what could not work: a usage error
// (exit 2) before any request.

// durationFlag is a positive duration: 0 would mean no limit, which is never what an operator wants.
type durationFlag struct{ d *time.Duration }

func (f durationFlag) String() string {
	if f.d == nil {
		return ""
	}
	return f.d.String()
}

func (f durationFlag) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("not a duration such as 20s or 1m")
	}
	if d <= 0 {
		return errors.New("must be positive")
	}
	*f.d = d
	return nil
}

// versionFlag is an instance version from status: 0 (the default) sets no condition.
type versionFlag struct{ v *int64 }

func (f versionFlag) String() string {
	if f.v == nil {
		return ""
	}
	return strconv.FormatInt(*f.v, 10)
}

func (f versionFlag) Set(s string) error {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return errors.New("want a version number from cvsctl status (0 or more)")
	}
	*f.v = v
	return nil
}

var regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

// regionFlag is an AWS region name such as eu-west-1.
type regionFlag struct{ r *string }

func (f regionFlag) String() string {
	if f.r == nil {
		return ""
	}
	return *f.r
}

func (f regionFlag) Set(s string) error {
	if !regionRE.MatchString(s) {
		return errors.New("want an AWS region such as eu-west-1")
	}
	*f.r = s
	return nil
}

// urlFlag is an absolute http(s) URL that can be written into a playlist attribute or stored
// for one: see checkURL. Empty leaves it unset.
type urlFlag struct{ u *string }

func (f urlFlag) String() string {
	if f.u == nil {
		return ""
	}
	return *f.u
}

func (f urlFlag) Set(s string) error {
	if s != "" {
		if err := checkURL(s); err != nil {
			return err
		}
	}
	*f.u = s
	return nil
}

// playlistURLFlag is a URL the API stores to publish in a master (register's origin and
// distribution, master's steering URI): refused by the API's own rule before any request.
type playlistURLFlag struct{ u *string }

func (f playlistURLFlag) String() string { return urlFlag(f).String() }

func (f playlistURLFlag) Set(s string) error {
	if err := api.ValidatePlaylistURL("the URL", s); err != nil {
		var e *api.Error
		if errors.As(err, &e) {
			return errors.New(e.Message)
		}
		return err
	}
	*f.u = s
	return nil
}

// checkURL accepts an absolute http or https URL with a host, of printable ASCII without quotes
// or blanks (it ends up in a quoted attribute of a playlist), and without user info (it would
// be published to every player).
func checkURL(s string) error {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '"' {
			return fmt.Errorf("holds %q at byte %d: a URL here is printable ASCII without quotes or blanks (percent-encode the rest)", rune(c), i)
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Hostname() == "" || u.Opaque != "" {
		return errors.New("want an absolute http or https URL with a host")
	}
	if u.User != nil {
		return errors.New("must not carry user info: it would be published")
	}
	return nil
}

// checkReason accepts an audit reason by the API's rule (see api.ValidateReason).
func checkReason(reason string) error {
	if err := api.ValidateReason(reason); err != nil {
		return &usageError{"--" + apiMessage(err)} // the API's message starts with "reason"
	}
	return nil
}

// checkKey accepts a cluster name and, when given, an instance domain by the API's rules, so
// that a mistyped argument fails before any request.
func checkKey(cluster string, domain ...string) error {
	if err := api.ValidateCluster(cluster); err != nil {
		return &usageError{apiMessage(err)}
	}
	for _, d := range domain {
		if err := api.ValidateDomain(d); err != nil {
			return &usageError{apiMessage(err)}
		}
	}
	return nil
}

// apiMessage is the message of an API rule's error, without its code.
func apiMessage(err error) string {
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae.Message
	}
	return err.Error()
}

// isSet reports whether the command line set the flag.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// required returns a usage error naming the first of flags that the command line left empty.
func required(fs *flag.FlagSet, names ...string) error {
	for _, name := range names {
		if strings.TrimSpace(fs.Lookup(name).Value.String()) == "" {
			return &usageError{"--" + name + " is required"}
		}
	}
	return nil
}
