// Package kv is natsfn's typed key-value engine over JetStream KV buckets:
// conditional writes, a bounded compare-and-swap loop, and transactions
// over several keys of one bucket that land all or nothing, every write
// retried through leader elections and traced.
//
//	stock, err := kv.Open[Stock](ctx, js, kv.Config{Bucket: "stock", Replicas: 3, Tracer: tr})
//	s, rev, err := stock.Get(ctx, "sku-1")
//	_, err = stock.Update(ctx, "sku-1", s, rev) // errors.Is(err, kv.ErrConflict): read again
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
// an election, a connection being re-established, an attempt that got no
// answer within 2 s), until its context ends, for 30 s without a deadline,
// and never past its bucket's duplicate window. Each logical write keeps
// one Nats-Msg-Id across its attempts, so a retry of an attempt that
// landed but whose answer was lost is recognised, and neither applied
// twice nor reported as a lost race. How depends on the order of the
// server's checks (nats-server v2.15.2 and v2.15.3, TestServerChecksOrder): a
// replicated stream checks the duplicate window before the expected
// revision, a single-replica stream after it, an atomic batch before it on
// both; so a retry after an unknown outcome is sent as a one-message
// atomic batch (write.go). A write that fails because its context ended
// may still have landed: its error says nothing either way.
//
// # Reads
//
// Get reads through a direct get, which any replica of a replicated bucket
// answers once it is 90% caught up (nats-server's monitorStream), so it
// may return a value older than a write already acknowledged, or
// ErrNotFound for a key just created. On an in-process 3-node cluster
// (TestReadsOnAReplicatedBucket), direct gets made right after an
// acknowledged write saw the revision before it in none of 300 reads per
// node when the machine was idle, and in 5 to 10% of them when it was
// busy (the race detector on). A stale read cannot make a write wrong,
// since the leader checks every write against the revision read; it costs
// a conflict and a retry. But a decision taken on a read alone can be
// wrong: GetLatest reads from the stream leader, which answers once it has
// applied every write it acknowledged. Use it before acting on
// ErrNotFound (telling a caller an order does not exist) or to read what
// another step just wrote. With one replica, both read the only copy.
//
// Modify reads as Get does, and from the leader after a lost race or
// before it keeps a decision not to write. Tx.Load reads several keys in
// one direct multi-get, one consistent state of the bucket, possibly a
// moment old; Transact confirms with the leader a decision taken without
// writing. No read ever sees part of a transaction: the server applies an
// atomic batch and answers direct gets under one lock, on every replica.
//
// # Transactions
//
// A Tx reads keys (remembering each revision), stages Puts and Deletes,
// and Commit sends them as one JetStream atomic batch (server 2.12 or
// later; Open sets the stream's AllowAtomicPublish), each message
// conditioned on the revision the transaction read, a tombstone's
// included, or on the key having no message at all. The server checks
// every condition at the commit and stores all the messages or none; a
// batch whose commit never came is dropped, and one the server crashed
// while storing is finished when it restarts. A batch holds at most 1,000
// messages of one stream, so a transaction spans one bucket.
//
// What a commit costs depends on the bucket (BenchmarkTransaction3). On a
// replicated bucket, or in memory, the server stages the batch in memory,
// and a 3-key transaction runs 1.05 to 1.9 times as fast as three
// compare-and-swaps in a row. On a single-replica file bucket the server
// stages every batch in a file store of its own, which it creates, fsyncs
// and removes: 7 to 11 ms a commit on this project's VM when it is idle,
// 20 ms and more when it is busy (1.2 ms with the store on tmpfs), about
// 100 commits a second against some 2,300 sets of three compare-and-swaps.
// A transaction that writes one key is a plain conditional write.
// On a single-replica file bucket the transactions of a process that
// wait are committed together, one batch for all (groups); elsewhere,
// those that write keys in common queue on a lock (keyLocks), so that a
// hot key costs one losing commit per other process rather than one per
// goroutine; one that waited reads no state older than the write it
// waited for (Tx.Load). On three replicas, 16 transactions on one key went
// from 0.21 of the best one-at-a-time compare-and-swap loop to 0.58
// (BenchmarkHotKey; TestHotKeyTakesTurns: 68-85 lost races among 80
// transactions before, none after).
//
// A bucket reads several keys through one subscription of its own, on an
// inbox of its connection, made on first use and kept as long as the
// connection.
package kv
