package pushimport

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/crieur/crieur/internal/news"
	"github.com/crieur/crieur/internal/store"
)

// Config is what an import checks against and writes to.
type Config struct {
	Store *store.Store
	// CheckEndpoint is the API's endpoint check (push.EndpointChecker,
	// with CRIEUR_PUSH_ALLOW_PRIVATE and CRIEUR_PUSH_HOSTS).
	CheckEndpoint func(ctx context.Context, endpoint string) error
	// ValidateKeys is the API's key check (push.ValidateSubscriptionKeys).
	ValidateKeys func(p256dh, auth string) error
	// Topics are given to the subscriptions whose line names none (a
	// OneSignal export never does).
	Topics []string
	// Bad is told of each refused line as it is found.
	Bad func(LineError)
	// Batch is how many subscriptions are written per transaction
	// (default 5000).
	Batch int
	Now   func() time.Time
}

// Report is what an import did.
type Report struct {
	Format     Format
	Lines      int // records read, skipped and refused ones included
	Created    int // new browsers
	Updated    int // endpoints crieur knew, updated
	Duplicates int // an endpoint an earlier line of the file already gave
	Bad        int // refused lines (each told to Config.Bad)
	// Skipped counts the lines passed over that are not errors, by why.
	Skipped map[Skip]int
}

// Import reads every record of r, checks it as the API checks a browser's
// subscription, and writes the good ones in batches. A refused line is
// counted and told to cfg.Bad, and the import goes on; an error is
// returned only when reading or writing cannot go on (what was written by
// then stays: importing the same file again updates it, never doubles it).
func Import(ctx context.Context, r *Reader, cfg Config) (Report, error) {
	if cfg.Batch <= 0 {
		cfg.Batch = 5000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	rep := Report{Format: r.Format(), Skipped: map[Skip]int{}}
	topics, err := cfg.Store.Topics(ctx)
	if err != nil {
		return rep, err
	}
	topicIDs := make(map[string]int64, len(topics))
	for _, t := range topics {
		topicIDs[t.Slug] = t.ID
	}
	var defaultTopics []int64
	for _, slug := range cfg.Topics {
		id, ok := topicIDs[slug]
		if !ok {
			return rep, fmt.Errorf("--topic %s: no such topic", slug)
		}
		defaultTopics = append(defaultTopics, id)
	}
	// Endpoints seen so far, by digest: 100,000 browsers cost a few MB.
	seen := map[[16]byte]bool{}
	batch := make([]store.PushImport, 0, cfg.Batch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		created, err := cfg.Store.ImportPushBatch(ctx, batch, cfg.Now())
		if err != nil {
			return err
		}
		rep.Created += created
		rep.Updated += len(batch) - created
		batch = batch[:0]
		return nil
	}
	bad := func(le LineError) {
		rep.Bad++
		if cfg.Bad != nil {
			cfg.Bad(le)
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var le *LineError
		if errors.As(err, &le) {
			rep.Lines++
			bad(*le)
			continue
		}
		if err != nil {
			return rep, fmt.Errorf("read the export: %w", err)
		}
		rep.Lines++
		if rec.Skip != "" {
			rep.Skipped[rec.Skip]++
			continue
		}
		row, reason := check(ctx, cfg, rec, topicIDs, defaultTopics)
		if reason != "" {
			bad(LineError{rec.Line, reason})
			continue
		}
		key := [16]byte(digest(rec.Endpoint))
		if seen[key] {
			rep.Duplicates++
			continue
		}
		seen[key] = true
		batch = append(batch, row)
		if len(batch) == cfg.Batch {
			if err := flush(); err != nil {
				return rep, err
			}
		}
	}
	return rep, flush()
}

func digest(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:16]
}

// check is the API's check of a browser subscription (web/reader's
// pushSubscribe), with reasons worded for a line of a file. The endpoint
// is never quoted: it is the reader's address at the push service.
func check(ctx context.Context, cfg Config, rec Record, topicIDs map[string]int64, defaultTopics []int64) (store.PushImport, string) {
	if rec.Endpoint == "" {
		return store.PushImport{}, "no endpoint"
	}
	if len(rec.Endpoint) > news.MaxURLLen {
		return store.PushImport{}, fmt.Sprintf("endpoint longer than %d characters", news.MaxURLLen)
	}
	if err := cfg.CheckEndpoint(ctx, rec.Endpoint); err != nil {
		return store.PushImport{}, "endpoint not allowed: it must be https at a push service browsers use (see CRIEUR_PUSH_HOSTS)"
	}
	if err := cfg.ValidateKeys(rec.P256dh, rec.Auth); err != nil {
		return store.PushImport{}, "invalid keys: p256dh must be a P-256 public key and auth 16 bytes, base64url"
	}
	lang := news.Lang(rec.Lang)
	if lang == "" {
		lang = news.French
	}
	if !lang.Valid() {
		return store.PushImport{}, "lang must be fr or en"
	}
	ids := defaultTopics
	if len(rec.Topics) > 0 {
		ids = make([]int64, 0, len(rec.Topics))
		for _, slug := range rec.Topics {
			id, ok := topicIDs[slug]
			if !ok {
				return store.PushImport{}, fmt.Sprintf("unknown topic %q", clip(slug))
			}
			ids = append(ids, id)
		}
	}
	return store.PushImport{Sub: news.PushSubscription{Endpoint: rec.Endpoint, P256dh: rec.P256dh, Auth: rec.Auth, Lang: lang},
		TopicIDs: ids, CreatedAt: rec.CreatedAt}, ""
}

func clip(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}
