package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/clustered-video-streams/cvs/internal/contract"
	"github.com/clustered-video-streams/cvs/internal/detector"
	"github.com/clustered-video-streams/cvs/internal/execution"
	"github.com/clustered-video-streams/cvs/internal/failover"
	"github.com/clustered-video-streams/cvs/internal/health"
	"github.com/clustered-video-streams/cvs/internal/hls"
	"github.com/clustered-video-streams/cvs/internal/local/asl"
	"github.com/clustered-video-streams/cvs/internal/local/edge"
	"github.com/clustered-video-streams/cvs/internal/local/kvs"
	"github.com/clustered-video-streams/cvs/internal/local/liveorigin"
	"github.com/clustered-video-streams/cvs/internal/local/media"
	"github.com/clustered-video-streams/cvs/internal/local/sfn"
	"github.com/clustered-video-streams/cvs/internal/local/sns"
	"github.com/clustered-video-streams/cvs/internal/origin"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/trigger"
)

// account is the AWS account of every local ARN.
const account = "000000000000"

// regionNames name the regions, in order: the API and the state store take AWS region names.
var regionNames = []string{"us-east-1", "eu-west-1", "ap-southeast-1", "us-west-2", "eu-central-1",
	"ap-northeast-1", "sa-east-1", "ca-central-1", "ap-south-1"}

// region is one region's part of the system.
type region struct {
	name      string
	domain    string // the edge's host:port, the instance's key
	origin    *liveorigin.Origin
	detector  *detector.Detector
	sfn       *sfn.Service
	log       *slog.Logger
	edgeURL   string
	originURL string

	// trigger is subscribed to the detector topic; last is the last delivery it had, which
	// POST .../redeliver hands it again.
	trigger  *trigger.Handler
	mu       sync.Mutex
	last     sns.Delivery
	received bool
}

// errNothingDelivered: no detector event reached the region's trigger yet.
var errNothingDelivered = errors.New("no detector event delivered yet")

// deliver hands a detector event to the trigger and keeps it for redeliver.
func (r *region) deliver(ctx context.Context, d sns.Delivery) error {
	r.mu.Lock()
	r.last, r.received = d, true
	r.mu.Unlock()
	_, err := r.trigger.HandleRecord(ctx, d.Record())
	return err
}

// redeliver delivers the last detector event to the trigger again and returns its outcome.
func (r *region) redeliver(ctx context.Context) (trigger.Outcome, sns.Delivery, error) {
	r.mu.Lock()
	d, ok := r.last, r.received
	r.mu.Unlock()
	if !ok {
		return "", d, errNothingDelivered
	}
	out, err := r.trigger.HandleRecord(ctx, d.Record())
	return out, d, err
}

// parseEvent reads the detector event of a delivery.
func parseEvent(d sns.Delivery) (contract.DetectorEvent, error) {
	return contract.ParseDetectorEvent([]byte(d.Body))
}

// shared is what every region uses.
type shared struct {
	cfg      Config
	store    state.Store
	memory   detector.MemoryStore
	broker   *sns.Broker
	kvs      *kvs.Store
	copilot  string // copilot.js
	failover []byte
	failback []byte
	epoch    time.Time
}

// newRegion wires region n (1-based) on its origin and edge listeners.
func newRegion(ctx context.Context, s *shared, n int, originL, edgeL net.Listener, base *slog.Logger) (*region, []*http.Server, error) {
	name := regionNames[n-1]
	log := base.With("region", name)
	r := &region{name: name, domain: edgeL.Addr().String(), log: log, edgeURL: urlOf(edgeL), originURL: urlOf(originL)}
	var err error
	r.origin, err = liveorigin.New(liveorigin.Config{Label: (n-1)%media.Labels() + 1, SegmentDuration: s.cfg.SegmentDuration, Epoch: s.epoch})
	if err != nil {
		return nil, nil, err
	}
	policy := health.Policy{
		Tracker:        hls.TrackerConfig{Multiplier: s.cfg.StaleMultiplier, MinFailures: s.cfg.MinFailures, MaxBody: s.cfg.MaxPlaylistBytes},
		VideoTolerance: s.cfg.VideoTolerance, AudioTolerance: s.cfg.AudioTolerance,
	}
	arn := func(service, kind, res string) string {
		return fmt.Sprintf("arn:aws:%s:%s:%s:%s%s", service, name, account, kind, res)
	}

	// SNS: the detector topic (trigger and a log line per event) and the notification topic.
	detectorTopic := s.broker.CreateTopic("cvs-detector-" + name)
	notifications := s.broker.CreateTopic("cvs-notifications-" + name)
	if _, err := s.broker.Subscribe(notifications, sns.Subscription{Name: "log", Handler: func(_ context.Context, d sns.Delivery) error {
		log.Info("notification", "subject", d.Subject, "outcome", d.Attributes["outcome"])
		return nil
	}}); err != nil {
		return nil, nil, err
	}

	// Step Functions with the real definitions and task handlers.
	confirm := &failover.Confirmer{
		Fetcher: &origin.Fetcher{Client: &http.Client{}, Timeout: 5 * time.Second, MaxBytes: s.cfg.MaxPlaylistBytes, UserAgent: "cvs-confirm"},
		History: s.store, Policy: policy, Log: log,
	}
	closer := &failover.Closer{Store: s.store, HoldDown: time.Duration(s.cfg.HoldDownSeconds) * time.Second, Log: log}
	reopener := &failover.Reopener{Store: s.store, Log: log}
	fn := func(f string) string { return arn("lambda", "function:", "cvs-"+f) }
	subst := map[string]string{
		contract.SubstConfirmFunctionArn:   fn("confirm"),
		contract.SubstCloseFunctionArn:     fn("close"),
		contract.SubstReopenFunctionArn:    fn("reopen"),
		contract.SubstNotificationTopicArn: notifications,
		contract.SubstPartition:            "aws",
	}
	handlers := map[string]asl.Handler{
		asl.ResourceLambdaInvoke: asl.LambdaInvoke(map[string]asl.LambdaFunction{
			fn("confirm"): lambda.NewHandler(confirm.Confirm),
			fn("close"):   lambda.NewHandler(closer.Close),
			fn("reopen"):  lambda.NewHandler(reopener.Reopen),
		}),
		asl.ResourceSNSPublish: sfn.PublishTask(s.broker),
	}
	r.sfn = sfn.New(sfn.Options{Log: log, OnFinish: func(ex *asl.Execution) {
		log.Info("execution finished", "execution_arn", ex.ARN, "execution_name", ex.Name, "status", ex.Status,
			"outcome", outcome(ex), "error", ex.Error, "duration_ms", ex.Stopped.Sub(ex.Started).Milliseconds())
	}})
	failoverARN, failbackARN := arn("states", "stateMachine:", "cvs-failover"), ""
	if err := r.sfn.AddDefinition(failoverARN, s.failover, asl.Options{Substitutions: subst, Handlers: handlers}); err != nil {
		return nil, nil, err
	}
	if s.cfg.EnableFailback {
		failbackARN = arn("states", "stateMachine:", "cvs-failback")
		if err := r.sfn.AddDefinition(failbackARN, s.failback, asl.Options{Substitutions: subst, Handlers: handlers}); err != nil {
			return nil, nil, err
		}
	}

	// The trigger on the detector topic.
	r.trigger, err = trigger.New(trigger.Config{SFN: &loggedStarter{s: r.sfn, log: log}, FailoverArn: failoverARN, FailbackArn: failbackARN,
		HoldDown: time.Duration(s.cfg.HoldDownSeconds) * time.Second, Log: log})
	if err != nil {
		return nil, nil, err
	}
	if _, err := s.broker.Subscribe(detectorTopic, sns.Subscription{Name: "trigger", Handler: r.deliver}); err != nil {
		return nil, nil, err
	}
	if _, err := s.broker.Subscribe(detectorTopic, sns.Subscription{Name: "log", Handler: func(_ context.Context, d sns.Delivery) error {
		ev, err := contract.ParseDetectorEvent([]byte(d.Body))
		if err != nil {
			log.Warn("event published: unreadable", "message_id", d.MessageID, "err", err)
			return nil
		}
		log.Info("event published", "event", ev.Event, "cluster", ev.Cluster, "domain", ev.Domain, "sequence", ev.Sequence,
			"stale_for_ms", ev.StaleForMS, "message_id", d.MessageID)
		return nil
	}}); err != nil {
		return nil, nil, err
	}

	// The detector, run back to back.
	dcfg := detector.Config{Region: name, TopicARN: detectorTopic, Tracker: policy.Tracker,
		VideoTolerance: policy.VideoTolerance, AudioTolerance: policy.AudioTolerance, RunFor: s.cfg.DetectorRunFor}
	r.detector, err = detector.New(dcfg, detector.Deps{Registry: s.store, Memory: s.memory, Publisher: s.broker,
		Getter: detector.NewGetter(detector.NewHTTPClient(detector.DefaultMaxConcurrency), dcfg), Log: log})
	if err != nil {
		return nil, nil, err
	}

	// The edge: the real copilot on the shared KeyValueStore, in front of the origin.
	cp, err := edge.NewCopilot("cvs-copilot", s.copilot, s.kvs.Edge(), edge.Options{Log: log})
	if err != nil {
		return nil, nil, err
	}
	target, _ := url.Parse(r.originURL)
	e := edge.NewEdge(r.domain, target, cp, edge.EdgeOptions{Log: log})
	servers := []*http.Server{serve(originL, r.origin, log), serve(edgeL, cors(log404(e, log)), log)}
	return r, servers, nil
}

// runDetector runs the detector back to back until ctx ends, as the one-minute schedule does,
// each run handing its memory to the next through the store.
func (r *region) runDetector(ctx context.Context) {
	inv := detector.Invocation{Owner: "local-detector-" + r.name, By: fmt.Sprintf("arn:aws:lambda:%s:%s:function:cvs-detector", r.name, account)}
	for ctx.Err() == nil {
		if _, err := r.detector.Run(ctx, inv); err != nil && ctx.Err() == nil {
			r.log.Error("detector: run failed", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

// outcome is what an execution's notification said: its outcome field, or its status when it
// has none (a failed execution).
func outcome(ex *asl.Execution) string {
	var out struct {
		Notification struct {
			Outcome string `json:"outcome"`
		} `json:"notification"`
	}
	if ex.Status == asl.StatusSucceeded && json.Unmarshal(ex.Output, &out) == nil && out.Notification.Outcome != "" {
		return out.Notification.Outcome
	}
	return string(ex.Status)
}

// loggedStarter logs every execution started.
type loggedStarter struct {
	s   execution.Starter
	log *slog.Logger
}

func (l *loggedStarter) Start(ctx context.Context, machine, name string, input []byte) (execution.Result, error) {
	res, err := l.s.Start(ctx, machine, name, input)
	if err == nil && res.Outcome == execution.Started {
		l.log.Info("execution started", "state_machine", machine, "execution_name", name, "execution_arn", res.ExecutionARN)
	}
	return res, err
}
