package store

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/crieur/crieur/internal/news"
)

// SubscribersByID returns the subscribers among ids that exist, with
// their topics, by id: SubscriberByID for a batch, in one query. The mail
// workers read the readers of a whole claim this way rather than one
// query per message.
func (s *Store) SubscribersByID(ctx context.Context, ids []int64) (map[int64]news.Subscriber, error) {
	out := make(map[int64]news.Subscriber, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	st, err := s.stmt(ctx, "GetSubscribersWithTopics")
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, s.idList(ids))
	if err != nil {
		return nil, fmt.Errorf("get subscribers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var topics string
		sub, err := scanSubscriber(extraCol{rows, &topics})
		if err != nil {
			return nil, fmt.Errorf("get subscribers: %w", err)
		}
		sub.Topics = []string{}
		if topics != "" {
			sub.Topics = strings.Split(topics, ",")
			sort.Strings(sub.Topics)
		}
		out[sub.ID] = sub
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("get subscribers: %w", err)
	}
	return out, nil
}
