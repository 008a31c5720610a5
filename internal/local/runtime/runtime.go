package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/clustered-video-streams/cvs/internal/api"
	"github.com/clustered-video-streams/cvs/internal/api/apiclient"
	"github.com/clustered-video-streams/cvs/internal/blob"
	"github.com/clustered-video-streams/cvs/internal/detector"
	"github.com/clustered-video-streams/cvs/internal/edgesync"
	"github.com/clustered-video-streams/cvs/internal/local/cloudfront"
	"github.com/clustered-video-streams/cvs/internal/local/edge"
	"github.com/clustered-video-streams/cvs/internal/local/kvs"
	"github.com/clustered-video-streams/cvs/internal/local/memory"
	"github.com/clustered-video-streams/cvs/internal/local/s3"
	"github.com/clustered-video-streams/cvs/internal/local/sns"
	"github.com/clustered-video-streams/cvs/internal/mastermerge"
	"github.com/clustered-video-streams/cvs/internal/origin"
	"github.com/clustered-video-streams/cvs/internal/state"
	"github.com/clustered-video-streams/cvs/internal/state/dynamo"
)

// cluster is the one clustered stream a local run serves.
const cluster = "live"

// masterBucket and masterDistribution name the local master distribution's parts.
const (
	masterBucket       = "cvs-master-local"
	masterDistribution = "ELOCALMASTER"
)

// Contract is the first line of stdout: where everything is.
type Contract struct {
	MasterURL    string       `json:"master_url"`
	APIURL       string       `json:"api_url"`
	DashboardURL string       `json:"dashboard_url"`
	ControlURL   string       `json:"control_url"`
	Regions      []RegionInfo `json:"regions"`
}

// RegionInfo is one region in the Contract.
type RegionInfo struct {
	Name      string `json:"name"`
	Domain    string `json:"domain"`
	EdgeURL   string `json:"edge_url"`
	OriginURL string `json:"origin_url"`
}

// feedPeriod is how often a DynamoDB table is read for changes.
const feedPeriod = 200 * time.Millisecond

// Run starts everything, writes the Contract as the first line of stdout and JSON log lines
// after it, and runs until ctx ends; then it stops every part and returns. Start-up failures
// are returned (and nothing is left running).
func Run(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	if err := cfg.Check(); err != nil {
		return err
	}
	repo := cfg.Repo
	if repo == "" {
		var err error
		if repo, err = FindRepo(); err != nil {
			return err
		}
	}
	read := func(p string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(repo, p))
		if err != nil {
			return nil, fmt.Errorf("%w (run inside the repository, or pass --repo)", err)
		}
		return b, nil
	}
	copilot, err := read(edge.CopilotPath)
	if err != nil {
		return err
	}
	failoverDef, err := read("statemachines/failover.asl.json")
	if err != nil {
		return err
	}
	failbackDef, err := read("statemachines/failback.asl.json")
	if err != nil {
		return err
	}

	out := &gate{out: stdout}
	base := newLogger(out)
	glog := base.With("region", Global)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var servers []*http.Server
	var closers []func()
	defer func() {
		cancel()
		for _, s := range servers {
			s.Close()
		}
		wg.Wait()
		// In reverse, as defers run: the regions' executions end before the topics they publish
		// to are flushed.
		for _, c := range slices.Backward(closers) {
			c()
		}
	}()

	// The state store and its change feed.
	changes := newFeed()
	var store state.Store
	var mem detector.MemoryStore
	var memStore *memory.Store // for the control-region switch
	if cfg.DynamoDBEndpoint == "" {
		m := memory.New(nil, memory.OnCommit(changes.add))
		store, mem, memStore = m, memory.NewDetectorMemory(m), m
	} else {
		startCtx, stop := context.WithTimeout(ctx, 20*time.Second)
		d, err := dynamo.OpenLocal(startCtx, cfg.DynamoDBEndpoint, cfg.StateTableName)
		stop()
		if err != nil {
			return err
		}
		store, mem = d, d
		wg.Go(func() { pollTable(ctx, store, changes, feedPeriod, glog) })
	}

	// Listeners: API, control, master, then each region's origin and edge.
	ls, err := listeners(cfg.Listen, 3+2*cfg.Regions)
	if err != nil {
		return err
	}
	for _, l := range ls {
		closers = append(closers, func() { l.Close() })
	}
	apiL, controlL, masterL := ls[0], ls[1], ls[2]

	// Edge sync: the change feed to the KeyValueStore, and the scheduled reconcile.
	kv := &kvs.Store{}
	syncer := &edgesync.Syncer{Store: store, KVS: kv, SteeringTTL: cfg.SteeringTTLSeconds, Log: glog}
	wg.Go(func() { changes.run(ctx, syncer, glog) })
	rec := &edgesync.Reconciler{Sync: syncer, Registry: store, Authority: store, Log: glog}
	wg.Go(func() { reconcile(ctx, rec, time.Duration(cfg.EdgeReconcileMinutes)*time.Minute, glog) })

	// The master distribution: the copilot in front of the master bucket.
	buckets := s3.New(s3.Config{})
	if err := buckets.CreateBucket(masterBucket, blob.Enabled); err != nil {
		return err
	}
	invalidations := &cloudfront.Recorder{}
	merge, err := mastermerge.New(mastermerge.Config{
		Store:      store,
		Fetcher:    &origin.Fetcher{Client: &http.Client{}, Timeout: 5 * time.Second, MaxBytes: cfg.MaxPlaylistBytes, UserAgent: "cvs-merge"},
		Targets:    []mastermerge.Target{{Region: Global, Bucket: masterBucket, S3: buckets}},
		CloudFront: invalidations, DistributionID: masterDistribution,
		Logger: glog,
	})
	if err != nil {
		return err
	}
	masterCopilot, err := edge.NewCopilot("cvs-copilot", string(copilot), kv.Edge(), edge.Options{Log: glog})
	if err != nil {
		return err
	}
	bucketL, err := listeners("127.0.0.1:0", 1)
	if err != nil {
		return err
	}
	servers = append(servers, serve(bucketL[0], &bucketOrigin{store: buckets, bucket: masterBucket}, glog))
	bucketURL := mustURL(urlOf(bucketL[0]))
	masterEdge := edge.NewEdge(masterL.Addr().String(), bucketURL, masterCopilot, edge.EdgeOptions{Log: glog})
	servers = append(servers, serve(masterL, cors(log404(masterEdge, glog)), glog))

	// The regions.
	sh := &shared{cfg: cfg, store: store, memory: mem, kvs: kv, copilot: string(copilot), failover: failoverDef, failback: failbackDef,
		broker: sns.New(sns.Options{Log: glog}), epoch: time.Now().Truncate(cfg.SegmentDuration).Add(-cfg.SegmentDuration * 10)}
	closers = append(closers, sh.broker.Flush)
	var regions []*region
	for i := range cfg.Regions {
		r, srvs, err := newRegion(ctx, sh, i+1, ls[3+2*i], ls[4+2*i], base)
		if err != nil {
			return fmt.Errorf("region %d: %w", i+1, err)
		}
		servers = append(servers, srvs...)
		closers = append(closers, r.sfn.Close)
		regions = append(regions, r)
	}

	// The API with the dashboard, and the control API.
	apiH := api.New(api.Options{Store: store, Logger: glog, Caller: api.LocalCaller(cfg.User), LocalDomains: true, Master: merge})
	servers = append(servers, serve(apiL, apiH, glog))
	ctl := &control{regions: regions, store: store, memory: memStore, log: glog}
	servers = append(servers, serve(controlL, cors(ctl.handler()), glog))

	c := Contract{MasterURL: urlOf(masterL) + "/" + cluster + "/index.m3u8", APIURL: urlOf(apiL),
		DashboardURL: urlOf(apiL) + "/dashboard/", ControlURL: urlOf(controlL)}
	for _, r := range regions {
		c.Regions = append(c.Regions, RegionInfo{Name: r.name, Domain: r.domain, EdgeURL: r.edgeURL, OriginURL: r.originURL})
	}

	// Register the instances and build the merged master through the API, as an operator does.
	if err := operate(ctx, c, urlOf(masterL)); err != nil {
		return err
	}
	line, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := out.Open(append(line, '\n')); err != nil {
		return err
	}
	for _, r := range regions {
		wg.Go(func() { r.runDetector(ctx) })
	}
	glog.Info("local runtime started", "regions", len(regions), "segment_duration", cfg.SegmentDuration.String(),
		"failback", cfg.EnableFailback, "state", stateName(cfg))
	<-ctx.Done()
	glog.Info("local runtime stopping")
	return nil
}

func stateName(cfg Config) string {
	if cfg.DynamoDBEndpoint != "" {
		return "dynamodb " + cfg.DynamoDBEndpoint + " table " + cfg.StateTableName
	}
	return "memory"
}

// operate registers every region's instance and regenerates the merged master, with content
// steering served by the master distribution, through the API.
func operate(ctx context.Context, c Contract, masterBase string) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	client, err := apiclient.New(c.APIURL, &http.Client{})
	if err != nil {
		return err
	}
	for _, r := range c.Regions {
		_, err := client.Register(ctx, cluster, r.Domain, api.RegisterRequest{Region: r.Name,
			DistributionPlaylistURL: r.EdgeURL + "/master.m3u8", OriginPlaylistURL: r.OriginURL + "/master.m3u8",
			Reason: "cvsctl local start-up"})
		if err != nil {
			return fmt.Errorf("register %s: %w", r.Name, err)
		}
	}
	res, err := client.RegenerateMaster(ctx, cluster, api.MasterRequest{SteeringURI: masterBase + "/steering/" + cluster + ".json"})
	if err != nil {
		return fmt.Errorf("build the merged master: %w", err)
	}
	if !res.Written {
		return fmt.Errorf("build the merged master: nothing written: %+v", res)
	}
	return nil
}

// FindRepo returns the repository holding the copilot and the state machines: the working
// directory or one above it, else the executable's directory or one above it.
func FindRepo() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, dir := range starts {
		for {
			if _, err := os.Stat(filepath.Join(dir, edge.CopilotPath)); err == nil {
				if _, err := os.Stat(filepath.Join(dir, "statemachines", "failover.asl.json")); err == nil {
					return dir, nil
				}
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("cannot find functions/copilot/copilot.js and statemachines/: run cvsctl local inside the repository, or pass --repo")
}
