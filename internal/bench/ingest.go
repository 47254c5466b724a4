package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/hibiken/asynq"

	"github.com/rapporthq/rapport/client"
	"github.com/rapporthq/rapport/event"
	"github.com/rapporthq/rapport/internal/api"
)

// Ingest compares events accepted per second (durably in Redis) by each way in with a
// bare asynq Enqueue of the same event from as many goroutines.
type Ingest struct {
	HTTPSingle Pair `json:"http_single"`
	HTTPBatch  Pair `json:"http_batch"`
	Client     Pair `json:"client"`
}

// batchSize is how many events one HTTP batch carries.
const batchSize = 100

const benchToken = "bench-token"

func runIngest(ctx context.Context, st *stack) (*Ingest, error) {
	n := st.cfg.Events
	cl := client.NewFromRedis(st.rdb)
	srv := httptest.NewServer(api.New(api.Options{Tokens: []string{benchToken}, Intake: cl, Logger: quiet}))
	defer srv.Close()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: producers}, Timeout: time.Minute}
	q := asynq.NewClientFromRedisClient(st.rdb)

	ways := []struct {
		name string
		send func(rep int) error
	}{
		{"http single", func(rep int) error {
			return produce(n, producers, func(i int) error {
				body, err := json.Marshal(orderEvent(fmt.Sprintf("s%d-%d", rep, i), i))
				if err != nil {
					return err
				}
				return post(ctx, hc, srv.URL+"/v1/events", body, http.StatusAccepted)
			})
		}},
		{"http batch", func(rep int) error {
			batches := (n + batchSize - 1) / batchSize
			return produce(batches, 4, func(b int) error {
				var events []event.Event
				for i := b * batchSize; i < min(n, (b+1)*batchSize); i++ {
					events = append(events, orderEvent(fmt.Sprintf("b%d-%d", rep, i), i))
				}
				body, err := json.Marshal(map[string]any{"events": events})
				if err != nil {
					return err
				}
				return post(ctx, hc, srv.URL+"/v1/events/batch", body, http.StatusOK)
			})
		}},
		{"client", func(rep int) error {
			return produce(n, producers, func(i int) error {
				_, err := cl.Send(ctx, orderEvent(fmt.Sprintf("c%d-%d", rep, i), i))
				return err
			})
		}},
	}
	rates := make([][]float64, len(ways))
	var bare []float64
	timed := func(name string, f func() error) (float64, error) {
		start := time.Now()
		if err := f(); err != nil {
			return 0, err
		}
		r := float64(n) / time.Since(start).Seconds()
		st.logf("ingest   %-11s %8.0f events/s", name, r)
		return r, nil
	}
	rapport := func(rep int) error {
		for w, way := range ways {
			if err := st.flush(ctx); err != nil {
				return err
			}
			r, err := timed(way.name, func() error { return way.send(rep) })
			if err != nil {
				return fmt.Errorf("%s: %w", way.name, err)
			}
			rates[w] = append(rates[w], r)
		}
		return nil
	}
	enqueue := func(rep int) error {
		r, err := timed("bare", func() error {
			return produce(n, producers, func(i int) error {
				payload, err := event.Marshal(orderEvent(fmt.Sprintf("e%d-%d", rep, i), i))
				if err != nil {
					return err
				}
				_, err = q.EnqueueContext(ctx, asynq.NewTask(event.TaskType, payload))
				return err
			})
		})
		bare = append(bare, r)
		return err
	}
	if err := alternate(ctx, st, st.cfg.Reps, rapport, enqueue); err != nil {
		return nil, err
	}
	return &Ingest{HTTPSingle: pair(rates[0], bare), HTTPBatch: pair(rates[1], bare), Client: pair(rates[2], bare)}, nil
}

func post(ctx context.Context, hc *http.Client, url string, body []byte, want int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+benchToken)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("POST %s: %s: %s", url, resp.Status, msg)
	}
	return nil
}
