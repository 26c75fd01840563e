// Package kv is natsfn's typed key-value engine over JetStream KV buckets:
// conditional writes, a bounded compare-and-swap loop, and transactions
// over several keys of one bucket that land all or nothing, every write
// retried through leader elections and traced.
//
//	stock, err := kv.Open[Stock](ctx, js, kv.Config{Bucket: "stock", Replicas: 3, Tracer: tr})
//	s, rev, err := stock.Get(ctx, "sku-1")
//	_, err = stock.Update(ctx, "sku-1", s, rev)            // errors.Is(err, kv.ErrConflict): read again
//	_, _, err = stock.Modify(ctx, "sku-1", func(s *Stock, exists bool) error { s.Quantity--; return nil })
//	err = stock.Transact(ctx, func(tx *kv.Tx[Stock]) error {
//		if err := tx.Load(ctx, "sku-1", "sku-2"); err != nil {
//			return err
//		}
//		a, _, _ := tx.Get(ctx, "sku-1")
//		b, _, _ := tx.Get(ctx, "sku-2")
//		a.Quantity, b.Quantity = a.Quantity-1, b.Quantity+1
//		return errors.Join(tx.Put("sku-1", a), tx.Put("sku-2", b))
//	})
//
// # Writes
//
// Every write is conditioned on a revision, the sequence of the key's last
// message in the bucket's stream (Nats-Expected-Last-Subject-Sequence): a
// write made on a value another writer has replaced fails with
// ErrConflict, the one sentinel for "another writer came first" (Create
// on a key that holds a value, Update or Delete at a stale revision, a
// transaction that lost on any key). Nothing is written then.
//
// A write is retried with jittered exponential backoff (package retry)
// while it fails for a reason that passes (a stream with no leader during
// an election, a connection being re-established, a time-out), until its
// context ends, or for 30 s without a deadline, and never past its
// bucket's duplicate window. Each logical write has one Nats-Msg-Id for all
// its attempts, so a retry of an attempt that landed but whose answer was
// lost is recognised and neither applied twice nor reported as a lost
// race. How depends on the server's order of checks (measured on
// nats-server v2.15.2; see write in write.go): a replicated stream checks
// the duplicate window before the expected revision, a single-replica
// stream after it, and an atomic batch before it on both; so a retry
// after an unknown outcome goes as a one-message atomic batch.
//
// # Reads
//
// Get reads through a direct get, which any replica of a replicated bucket
// answers once it is 90% caught up (nats-server's monitorStream), so it
// may return a value older than a write already acknowledged, or
// ErrNotFound for a key just created. On an in-process 3-node cluster, 0
// to 20% of direct gets made right after a write, on another connection
// or the same one, still saw the previous revision. A stale read can
// never make a write wrong, since every write is checked by the leader
// against the revision read: it costs a conflict and a retry. But a
// decision taken on a read alone can be wrong; GetLatest reads from the
// stream leader, which sees every acknowledged write, at the price of a
// JSON request the leader alone serves. Use it before acting on
// ErrNotFound, or to read what another step just wrote. With one replica
// both read the only copy.
//
// Reads never see part of a transaction: the server applies an atomic
// batch and answers direct gets under one lock, on every replica. Modify
// reads as GetLatest does. Tx.Load reads several keys in one direct
// multi-get, one consistent state of the bucket, possibly a moment old;
// Transact confirms with the leader a decision taken without writing.
//
// # Transactions
//
// A Tx reads keys (remembering each revision), stages Puts and Deletes,
// and Commit sends them as one JetStream atomic batch (server ≥ 2.12;
// Open sets the stream's AllowAtomicPublish), each message conditioned on
// the revision the transaction read, a tombstone's included, or on the key
// having no message at all. The server checks every condition at the
// commit and stores all the messages or none; a crash of the server during
// the commit is finished or undone when it restarts. A batch holds at most
// 1,000 messages and one stream, so a transaction spans one bucket.
//
// A commit costs more than a plain write on a single-replica file bucket:
// the server stages the batch in a store of its own that it fsyncs, about
// 20 ms on this project's VM, one commit at a time per stream. On a
// replicated bucket the batch is staged in memory and a 3-key commit is
// faster than three compare-and-swaps (see the benchmarks). A transaction
// that writes one key is a plain conditional write.
package kv
