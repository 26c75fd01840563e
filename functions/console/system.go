package console

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// snapshot is what runs: the functions, their figures, the topology drawn
// from their metadata, and their dead letters.
type snapshot struct {
	Functions   []function       `json:"functions"`
	Topology    topology         `json:"topology"`
	DeadLetters []deadLetterList `json:"dead_letters"`
	// Problems are what the console could not read; the rest is shown.
	Problems []string  `json:"problems,omitempty"`
	At       time.Time `json:"at"`
}

// system discovers the functions, then lists the dead letters of those
// that have a dead-letter endpoint, all at once.
func (c *Console) system(ctx context.Context) (snapshot, error) {
	if err := c.connected(); err != nil {
		return snapshot{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	fns, answered, problems, err := discover(ctx, c.nc, int(c.instances.Load()))
	if err != nil {
		return snapshot{}, errorf(http.StatusBadGateway, "%v", err)
	}
	c.instances.Store(int64(answered))
	s := snapshot{
		Functions: fns,
		Topology:  buildTopology(fns, c.hub.observedEmitters()),
		Problems:  problems,
		At:        time.Now(),
	}
	for _, fn := range fns {
		if list, _ := fn.dlqSubjects(); list != "" {
			s.DeadLetters = append(s.DeadLetters, deadLetterList{Function: fn.Name})
		}
	}
	var wg sync.WaitGroup
	for i := range s.DeadLetters {
		wg.Go(func() {
			d, err := c.deadLetters(ctx, s.DeadLetters[i].Function)
			if err != nil {
				d.Problem = err.Error()
			}
			s.DeadLetters[i] = d
		})
	}
	wg.Wait()
	for _, d := range s.DeadLetters {
		if d.Problem != "" {
			s.Problems = append(s.Problems, "dead letters of "+d.Function+": "+d.Problem)
		}
	}
	return s, nil
}
