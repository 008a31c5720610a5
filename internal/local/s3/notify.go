package s3

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Rule is one notification configuration of a bucket, as S3 has them: the events it is for and
// a key filter.
type Rule struct {
	// ID names the rule; it is the records' s3.configurationId.
	ID string
	// Events are S3 event types: "s3:ObjectCreated:*", "s3:ObjectRemoved:*", or one exact type
	// such as "s3:ObjectCreated:Put" or "s3:ObjectRemoved:DeleteMarkerCreated".
	Events []string
	// Prefix and Suffix filter keys; "" matches every key.
	Prefix, Suffix string
	// Hook receives each matching event, as the one-record notification S3 publishes (to SNS,
	// where it becomes the message body). It runs in the goroutine of the write, after the
	// write is visible and with no lock held, so it may read and write the store.
	Hook func(ctx context.Context, ev events.S3Event)
}

// PlaylistUploadRules are the encoder bucket's notifications in template.yaml: every created
// object whose key is under one of prefixes and ends in .m3u8 goes to hook (the
// PlaylistEventsTopic, which fans out to the merge and the sweeper).
func PlaylistUploadRules(hook func(context.Context, events.S3Event), prefixes ...string) []Rule {
	var rules []Rule
	for _, p := range prefixes {
		rules = append(rules, Rule{ID: "playlist-uploads-" + strings.TrimSuffix(p, "/"), Events: []string{"s3:ObjectCreated:*"}, Prefix: p, Suffix: ".m3u8", Hook: hook})
	}
	return rules
}

// Notify adds rules to a bucket's notifications. Like S3, it refuses a rule for no event or an
// unknown one, and two rules whose event types and key filters overlap (S3 would not know which
// to send an event to); a refusal adds no rule.
func (s *Store) Notify(bucketName string, rules ...Rule) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.bucketLocked("notify", bucketName, "")
	if err != nil {
		return err
	}
	all := append([]Rule(nil), b.rules...)
	for _, r := range rules {
		if r.Hook == nil || len(r.Events) == 0 {
			return fmt.Errorf("notify s3://%s: rule %q needs events and a hook", bucketName, r.ID)
		}
		for _, e := range r.Events {
			if !knownEvent(e) {
				return fmt.Errorf("notify s3://%s: rule %q: unknown event type %q", bucketName, r.ID, e)
			}
		}
		for _, o := range all {
			if overlap(r, o) {
				return fmt.Errorf("notify s3://%s: rules %q and %q overlap in event types and key filters", bucketName, o.ID, r.ID)
			}
		}
		all = append(all, r)
	}
	b.rules = all
	return nil
}

var eventTypes = []string{"ObjectCreated:Put", "ObjectRemoved:Delete", "ObjectRemoved:DeleteMarkerCreated"}

func knownEvent(e string) bool {
	switch e {
	case "s3:ObjectCreated:*", "s3:ObjectRemoved:*":
		return true
	}
	for _, t := range eventTypes {
		if e == "s3:"+t {
			return true
		}
	}
	return false
}

// matches reports whether the event pattern e ("s3:ObjectCreated:*") covers the event name
// ("ObjectCreated:Put").
func matches(e, name string) bool {
	if p, ok := strings.CutSuffix(e, "*"); ok {
		return strings.HasPrefix("s3:"+name, p)
	}
	return e == "s3:"+name
}

func overlap(a, b Rule) bool {
	same := false
	for _, t := range eventTypes {
		if ruleWants(a, t) && ruleWants(b, t) {
			same = true
		}
	}
	fix := func(x, y string, has func(string, string) bool) bool { return has(x, y) || has(y, x) }
	return same && fix(a.Prefix, b.Prefix, strings.HasPrefix) && fix(a.Suffix, b.Suffix, strings.HasSuffix)
}

func ruleWants(r Rule, name string) bool {
	for _, e := range r.Events {
		if matches(e, name) {
			return true
		}
	}
	return false
}

// pending is an event and the hook it goes to.
type pending struct {
	hook func(context.Context, events.S3Event)
	ev   events.S3Event
}

// eventLocked builds the notifications an event makes; s.mu is held.
func (s *Store) eventLocked(b *bucket, bucketName, name string, v *version) []pending {
	var out []pending
	for _, r := range b.rules {
		if !ruleWants(r, name) || !strings.HasPrefix(v.obj.Key, r.Prefix) || !strings.HasSuffix(v.obj.Key, r.Suffix) {
			continue
		}
		s.seq++
		rec := events.S3EventRecord{
			EventVersion: "2.1",
			EventSource:  "aws:s3",
			AWSRegion:    s.region,
			EventTime:    s.now().UTC().Truncate(time.Millisecond),
			EventName:    name,
			PrincipalID:  events.S3UserIdentity{PrincipalID: "cvs-local"},
			S3: events.S3Entity{
				SchemaVersion:   "1.0",
				ConfigurationID: r.ID,
				Bucket:          events.S3Bucket{Name: bucketName, OwnerIdentity: events.S3UserIdentity{PrincipalID: "cvs-local"}, Arn: "arn:aws:s3:::" + bucketName},
				Object: events.S3Object{
					Key:       eventKey(v.obj.Key),
					Size:      v.obj.Size,
					ETag:      strings.Trim(v.obj.ETag, `"`),
					VersionID: v.id,
					Sequencer: fmt.Sprintf("%016X", s.seq),
				},
			},
		}
		out = append(out, pending{hook: r.Hook, ev: events.S3Event{Records: []events.S3EventRecord{rec}}})
	}
	return out
}

// eventKey encodes a key as S3 writes it in events: form-encoded (a space is '+'), '/' kept.
func eventKey(key string) string {
	return strings.ReplaceAll(url.QueryEscape(key), "%2F", "/")
}

func (s *Store) deliver(ctx context.Context, ps []pending) {
	for _, p := range ps {
		p.hook(ctx, p.ev)
	}
}
