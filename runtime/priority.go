package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// consumerMode says how the instances of an event handler share its
// consumer: by default they all pull from it alike; a priority policy of
// the server (Overflow, Pinned, Prioritized) tells it whom to prefer; Bind
// leaves the consumer to the operator.
type consumerMode struct {
	policy    jetstream.PriorityPolicy
	pinnedTTL time.Duration
	bind      bool
	// policies counts the policy options given, to refuse two.
	policies int
}

// priorityGroup is the one priority group of the consumers the runtime
// creates with a policy (nats-server knows one group per consumer today).
const priorityGroup = "natsfn"

// Overflow makes the handler's consumer an overflow priority group
// (nats-server 2.11 or later). Instances started with NATSFN_MIN_PENDING=N
// (Config.MinPending) pull its events only while at least N wait; the
// others pull as usual. A standby instance with a high N helps only when the
// backlog grows, e.g. a payments instance on another gateway account.
func Overflow() EventOption {
	return eventOnly(func(o *eventOptions) {
		o.mode.policy = jetstream.PriorityPolicyOverflow
		o.mode.policies++
	})
}

// Pinned makes one instance at a time receive the handler's events
// (nats-server 2.11 or later): the server pins the first instance that
// pulls and delivers to it alone. When the pinned instance stops pulling (a
// crash), the pin moves to another one after ttl; an instance that stops
// gracefully hands it over at once. ttl is at least 2s: the pinned
// instance renews its pull at least every ttl/2.
func Pinned(ttl time.Duration) EventOption {
	return eventOnly(func(o *eventOptions) {
		o.mode.policy, o.mode.pinnedTTL = jetstream.PriorityPolicyPinned, ttl
		o.mode.policies++
	})
}

// Prioritized makes the server deliver the handler's events to the
// instance with the lowest NATSFN_PRIORITY (Config.Priority, 0 to 9) that
// has a pull waiting (nats-server 2.12 or later): instances with a higher
// value get events only while those with a lower one are full or gone.
func Prioritized() EventOption {
	return eventOnly(func(o *eventOptions) {
		o.mode.policy = jetstream.PriorityPolicyPrioritized
		o.mode.policies++
	})
}

// Bind uses the handler's durable consumer "<service>-<handler>" as the
// operator made it (with the nats CLI, NACK or Terraform) instead of
// creating or updating it: Start fails, naming the consumer, when it does
// not exist or does not deliver exactly the handler's subject with
// explicit acks. The consumer's AckWait, MaxDeliver and BackOff then
// apply, not the handler's options or NATSFN_ACK_WAIT, and so does its
// priority policy, with this instance's NATSFN_MIN_PENDING or
// NATSFN_PRIORITY. A consumer deleted while the instance runs is waited
// for, never made again.
func Bind() EventOption {
	return eventOnly(func(o *eventOptions) { o.mode.bind = true })
}

// policyName is the server's name of a policy, "" for none.
func policyName(p jetstream.PriorityPolicy) string {
	switch p {
	case jetstream.PriorityPolicyOverflow:
		return "overflow"
	case jetstream.PriorityPolicyPinned:
		return "pinned"
	case jetstream.PriorityPolicyPrioritized:
		return "prioritized"
	}
	return ""
}

// validate checks the options together, for a handler's declaration.
func (m consumerMode) validate() error {
	switch {
	case m.policies > 1:
		return errors.New("more than one of Overflow, Pinned and Prioritized")
	case m.bind && m.policies > 0:
		return errors.New("Bind takes the consumer's own priority policy: drop Overflow, Pinned or Prioritized")
	case m.policy == jetstream.PriorityPolicyPinned && m.pinnedTTL < 2*time.Second:
		return fmt.Errorf("Pinned(%s): the TTL is at least 2s", m.pinnedTTL)
	}
	return nil
}

// configure puts the policy into the config of a consumer the runtime
// creates.
func (m consumerMode) configure(cfg jetstream.ConsumerConfig) jetstream.ConsumerConfig {
	if m.policy != jetstream.PriorityPolicyNone {
		cfg.PriorityPolicy, cfg.PriorityGroups, cfg.PinnedTTL = m.policy, []string{priorityGroup}, m.pinnedTTL
	}
	return cfg
}

// checkRoles refuses an instance role nothing would use:
// NATSFN_MIN_PENDING without an Overflow (or bound) handler, or
// NATSFN_PRIORITY without a Prioritized (or bound) one.
func checkRoles(cfg Config, services []*Service) error {
	var overflow, prioritized bool
	for _, s := range services {
		for _, h := range s.events {
			m := h.opts.mode
			overflow = overflow || m.bind || m.policy == jetstream.PriorityPolicyOverflow
			prioritized = prioritized || m.bind || m.policy == jetstream.PriorityPolicyPrioritized
		}
	}
	if cfg.MinPending > 0 && !overflow {
		return fmt.Errorf("%w: NATSFN_MIN_PENDING: %d is set, but no event handler is declared runtime.Overflow()",
			ErrConfigValidation, cfg.MinPending)
	}
	if cfg.Priority > 0 && !prioritized {
		return fmt.Errorf("%w: NATSFN_PRIORITY: %d is set, but no event handler is declared runtime.Prioritized()",
			ErrConfigValidation, cfg.Priority)
	}
	return nil
}

// pullOptions are the Consume options for the consumer as it is: its
// priority group, and this instance's place in it.
func (c *consumerLoop) pullOptions(cc jetstream.ConsumerConfig) []jetstream.PullConsumeOpt {
	expiry := pullExpiry(cc.AckWait)
	opts := []jetstream.PullConsumeOpt{jetstream.PullMaxMessages(max(c.batch, 1)), jetstream.ConsumeErrHandler(c.consumeError)}
	if len(cc.PriorityGroups) > 0 {
		opts = append(opts, jetstream.PullPriorityGroup(cc.PriorityGroups[0]))
		switch cc.PriorityPolicy {
		case jetstream.PriorityPolicyOverflow:
			if n := c.run.cfg.MinPending; n > 0 {
				opts = append(opts, jetstream.PullMinPending(n))
			}
		case jetstream.PriorityPolicyPrioritized:
			opts = append(opts, jetstream.PullPrioritized(uint8(c.run.cfg.Priority)))
		case jetstream.PriorityPolicyPinned:
			// The server keeps the pin while the pinned instance sends a
			// pull within every TTL; a Consume pulls again when its pull
			// expires at the latest.
			expiry = max(min(expiry, cc.PinnedTTL/2), time.Second)
		}
	}
	return append(opts, jetstream.PullExpiry(expiry), jetstream.PullHeartbeat(pullHeartbeat(expiry)))
}

// lookup finds the consumer a bound handler uses and checks that it suits
// the handler.
func (c *consumerLoop) lookup(ctx context.Context) (jetstream.Consumer, error) {
	name, stream := c.cfg.Durable, c.stream
	cons, err := c.run.js.Consumer(ctx, stream, name)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		return nil, fmt.Errorf("%w: runtime.Bind: consumer %s does not exist on stream %s: create it first "+
			"(nats consumer add, NACK, Terraform), filtered on %s: %w", ErrConfigValidation, name, stream, c.cfg.FilterSubject, err)
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return nil, fmt.Errorf("%w: runtime.Bind: consumer %s: stream %s does not exist: %w", ErrConfigValidation, name, stream, err)
	case errors.Is(err, jetstream.ErrNotPullConsumer):
		return nil, fmt.Errorf("%w: runtime.Bind: consumer %s on stream %s is a push consumer; the runtime pulls: %w",
			ErrConfigValidation, name, stream, err)
	case err != nil:
		return nil, fmt.Errorf("consumer %s on stream %s: %w", name, stream, err)
	}
	cc := cons.CachedInfo().Config
	if err := suits(cc, c.cfg.FilterSubject); err != nil {
		return nil, fmt.Errorf("%w: runtime.Bind: consumer %s on stream %s %w", ErrConfigValidation, name, stream, err)
	}
	return cons, nil
}

// suits says why an existing consumer cannot serve a handler of subject.
func suits(cc jetstream.ConsumerConfig, subject string) error {
	filters := append([]string{}, cc.FilterSubjects...)
	if cc.FilterSubject != "" {
		filters = append(filters, cc.FilterSubject)
	}
	switch {
	case len(filters) == 0:
		return fmt.Errorf("has no filter subject, so it delivers every subject of the stream; the handler takes %s only", subject)
	case len(filters) != 1 || filters[0] != subject:
		return fmt.Errorf("filters %s; the handler takes %s only", strings.Join(filters, ", "), subject)
	case cc.AckPolicy != jetstream.AckExplicitPolicy:
		return fmt.Errorf("has ack policy %s; the runtime acks each message (explicit)", cc.AckPolicy)
	}
	return nil
}

// adopt makes a bound consumer's delivery settings the handler's, before
// its first delivery: keep-alives at half its AckWait, dead letters after
// its MaxDeliver, and redeliveries after its BackOff.
func (e *eventRun) adopt(cc jetstream.ConsumerConfig) {
	e.opts.ackWait = cc.AckWait
	e.opts.maxDeliver = cc.MaxDeliver
	if len(cc.BackOff) > 0 {
		e.opts.backOff = append([]time.Duration(nil), cc.BackOff...)
	}
}

// pinHolder remembers the pin id of the deliveries of a pinned consumer,
// so that a graceful stop can hand the pin over.
type pinHolder struct{ id atomic.Pointer[string] }

// note records the delivery's pin id when it changed.
func (p *pinHolder) note(msg jetstream.Msg) {
	id := msg.Headers().Get("Nats-Pin-Id")
	if cur := p.id.Load(); id != "" && (cur == nil || *cur != id) {
		p.id.Store(&id)
	}
}

// releasePin unpins the consumer if this instance holds its pin, so that
// another instance takes over now rather than after the pinned TTL.
func (c *consumerLoop) releasePin() {
	pin := c.pin.id.Load()
	cons := c.consumer.Load()
	if pin == nil || cons == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.run.base), 2*time.Second)
	defer cancel()
	err := func() error {
		info, err := (*cons).Info(ctx)
		if err != nil {
			return err
		}
		for _, g := range info.PriorityGroups {
			if g.PinnedClientID != *pin {
				continue
			}
			st, err := c.run.js.Stream(ctx, c.stream)
			if err != nil {
				return err
			}
			return st.UnpinConsumer(ctx, c.cfg.Durable, g.Group)
		}
		return nil
	}()
	if err != nil {
		c.run.logger.Warn("could not hand the pin over; another instance takes it after the pinned TTL",
			"handler", c.label, "error", err)
	}
}
