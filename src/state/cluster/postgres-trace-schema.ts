/**
 * Schema of the cluster backbone on PostgreSQL (migration 2 of
 * `POSTGRES_MIGRATIONS`): the tables of `PostgresTraceStore` and the
 * PL/pgSQL functions that make each store operation one statement, so one
 * round trip and one transaction.
 *
 * Tables (all `penguiflow_trace_*` but the replicas):
 * - `runs`: one row per (tenant, trace id): the `TraceRow` plus the
 *   counters a claim and the fencing need without scanning (messages of the
 *   run, updates stored by the run, last update and event seqs, the tail
 *   position of the trace's last event, the queue position while QUEUED).
 * - `inputs`: the accepted messages of the current run, numbered 1, 2, …
 * - `updates`: the UNREAD updates only; a take deletes the row it returns
 *   and a write stored as consumed is never inserted (its seq only moves the
 *   counters), so a take reads the head of a short index range.
 * - `events`: per-trace events plus their cluster-wide tail position.
 * - `keys`: idempotency keys (tenant, flow, key) → trace id.
 * - `penguiflow_replicas`: registrations and heartbeats (the leases).
 * Timestamps are epoch ms of the DATABASE clock (`penguiflow_now_ms()`),
 * so leases never depend on the replicas' clocks.
 *
 * Locking (no deadlock between any two operations): a commit first locks
 * everything it may change in one global order, then never waits again:
 * idempotency keys (sorted), then trace rows (sorted by tenant, trace id),
 * then transaction-scoped advisory locks of the tenants and flows whose
 * quota it checks (sorted). Keys and traces that do not exist yet are
 * locked by inserting a placeholder in the same sorted statement
 * (`INSERT … ON CONFLICT DO UPDATE … WHERE false` locks the existing rows
 * and inserts the missing ones); placeholders the batch did not turn into
 * real rows are deleted before it commits, so no other transaction ever
 * sees one. Every other operation locks at most one trace row and waits
 * on nothing but unread-update rows afterwards (cancel), locks only the one
 * update row it deletes (take), locks trace rows sorted (release), or never
 * waits on a lock a commit could hold (claim and prune use `SKIP LOCKED`).
 *
 * A commit that accepts messages takes one of two paths: when no accept of
 * the batch can depend on another or be refused (distinct trace ids and
 * keys, no key held, no live trace joined, quotas not reached even counting
 * the whole batch) they are applied set-based in a few statements; otherwise
 * one by one, in order, exactly as the reference store does.
 *
 * Quotas are exact counts, not counters: a commit that checks a tenant's
 * in-flight quota (or a flow's queue limit) holds that tenant's (flow's)
 * advisory lock, counts the live traces through a partial index once (up
 * to the largest limit asked: beyond it every accept is refused anyway),
 * and tallies its own accepts, so two replicas never both take the last
 * slot. Transactions that only lower a count (ends, cancellations) need no
 * lock, so ends never contend on a per-tenant row. (Exact among accepts
 * that carry the limit: replicas must share the quota setting.)
 *
 * The event tail: see `penguiflow_trace_commit` and the header of
 * postgres-trace-store.ts.
 */

/** Channel of the wake-up notifications. */
export const NOTICE_CHANNEL = 'penguiflow';

/** Migration 2: the backbone's tables, indexes and functions. */
export const TRACE_SCHEMA_SQL = String.raw`
CREATE FUNCTION penguiflow_now_ms() RETURNS bigint LANGUAGE sql VOLATILE AS $$
  SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint
$$;

CREATE TABLE penguiflow_trace_runs (
  tenant text NOT NULL,
  trace_id text NOT NULL,
  flow text NOT NULL,
  state text NOT NULL,
  run integer NOT NULL,
  attempt integer NOT NULL,
  epoch bigint NOT NULL,
  owner text,
  cancel_requested boolean NOT NULL DEFAULT false,
  deadline bigint,
  traceparent text,
  error text,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  ended_at bigint,
  inputs integer NOT NULL DEFAULT 0,
  stored_updates integer NOT NULL DEFAULT 0,
  last_update_seq bigint NOT NULL DEFAULT 0,
  last_event_seq bigint NOT NULL DEFAULT 0,
  last_event_pos xid8,
  queued_seq bigint,
  PRIMARY KEY (tenant, trace_id)
) WITH (fillfactor = 80);
-- claim: a flow's queue in order
CREATE INDEX penguiflow_trace_runs_queued ON penguiflow_trace_runs (flow, queued_seq) WHERE state = 'QUEUED';
-- owned, release, and the owners a claim checks for lapsed leases
CREATE INDEX penguiflow_trace_runs_owner ON penguiflow_trace_runs (owner) WHERE state = 'RUNNING';
-- the tenant quota
CREATE INDEX penguiflow_trace_runs_live ON penguiflow_trace_runs (tenant) WHERE state IN ('QUEUED', 'RUNNING');
-- prune
CREATE INDEX penguiflow_trace_runs_ended ON penguiflow_trace_runs (ended_at) WHERE ended_at IS NOT NULL;
CREATE SEQUENCE penguiflow_trace_queue_seq;

CREATE TABLE penguiflow_trace_inputs (
  tenant text NOT NULL,
  trace_id text NOT NULL,
  run integer NOT NULL,
  n integer NOT NULL,
  value text,
  PRIMARY KEY (tenant, trace_id, run, n)
);

CREATE TABLE penguiflow_trace_updates (
  tenant text NOT NULL,
  trace_id text NOT NULL,
  seq bigint NOT NULL,
  run integer NOT NULL,
  kind text NOT NULL,
  value text,
  PRIMARY KEY (tenant, trace_id, seq)
);

CREATE TABLE penguiflow_trace_events (
  tenant text NOT NULL,
  trace_id text NOT NULL,
  seq bigint NOT NULL,
  flow text NOT NULL,
  ts bigint NOT NULL,
  kind text NOT NULL,
  node_name text,
  node_id text,
  payload text NOT NULL,
  pos xid8 NOT NULL,
  id bigint GENERATED ALWAYS AS IDENTITY,
  writer xid8 NOT NULL,
  PRIMARY KEY (tenant, trace_id, seq)
);
CREATE INDEX penguiflow_trace_events_tail ON penguiflow_trace_events (pos, id);

CREATE TABLE penguiflow_trace_keys (
  tenant text NOT NULL,
  flow text NOT NULL,
  key text NOT NULL,
  trace_id text NOT NULL,
  created_at bigint NOT NULL,
  PRIMARY KEY (tenant, flow, key)
);
CREATE INDEX penguiflow_trace_keys_created ON penguiflow_trace_keys (created_at);

CREATE TABLE penguiflow_replicas (
  id text PRIMARY KEY,
  hostname text NOT NULL,
  pid integer NOT NULL,
  started_at bigint NOT NULL,
  heartbeat_at bigint NOT NULL,
  draining boolean NOT NULL
);

-- Wake-up hints on the notice channel: one or more JSON payloads
-- {"t": trace keys for readers, "r": trace keys for runners, "f": flows, "n": tenants, "e": events?, "s": sent at},
-- each under NOTIFY's 8000-byte limit (an item that alone exceeds it is
-- dropped: hints are optional, every waiter also polls).
CREATE FUNCTION penguiflow_trace_notify(p_traces text[], p_runners text[], p_flows text[], p_tenants text[], p_events boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  budget constant integer := 7000;
  sent bigint := penguiflow_now_ms();
  cur_t text[] := '{}';
  cur_r text[] := '{}';
  cur_f text[] := '{}';
  cur_n text[] := '{}';
  used integer := 0;
  len integer;
  item text;
  which integer;
BEGIN
  FOR which IN 1..4 LOOP
    FOR item IN SELECT DISTINCT x FROM unnest(CASE which WHEN 1 THEN p_traces WHEN 2 THEN p_runners WHEN 3 THEN p_flows ELSE p_tenants END) x WHERE x IS NOT NULL LOOP
      len := octet_length(to_json(item)::text) + 1;
      CONTINUE WHEN len > budget;
      IF used + len > budget THEN
        PERFORM pg_notify('${NOTICE_CHANNEL}', json_build_object('t', cur_t, 'r', cur_r, 'f', cur_f, 'n', cur_n, 'e', p_events, 's', sent)::text);
        cur_t := '{}'; cur_r := '{}'; cur_f := '{}'; cur_n := '{}'; used := 0;
      END IF;
      used := used + len;
      IF which = 1 THEN cur_t := cur_t || item; ELSIF which = 2 THEN cur_r := cur_r || item; ELSIF which = 3 THEN cur_f := cur_f || item; ELSE cur_n := cur_n || item; END IF;
    END LOOP;
  END LOOP;
  IF used > 0 OR p_events THEN
    PERFORM pg_notify('${NOTICE_CHANNEL}', json_build_object('t', cur_t, 'r', cur_r, 'f', cur_f, 'n', cur_n, 'e', p_events, 's', sent)::text);
  END IF;
END
$$;

-- The items of one part of a batch, numbered from 1. Not inlined (VOLATILE), so the planner sees
-- its ROWS estimate: a batch is a handful of rows, joined to the tables through their indexes
-- whatever the tables' size (the default estimate of 100 made it prefer scanning small tables).
CREATE FUNCTION penguiflow_batch(b jsonb, part text) RETURNS TABLE (e jsonb, o bigint)
LANGUAGE sql VOLATILE ROWS 4 AS $$
  SELECT x.e, x.o FROM jsonb_array_elements(b->part) WITH ORDINALITY x(e, o)
$$;

-- One batch of writes (see CommitBatch), as jsonb:
--   a: accepts   {tn, id, fl, m, dl, tp, k, r, mi, mq}
--   o: outputs   {tn, id, ep, sq, rn, kd, v, c}
--   p: put-backs {tn, id, sq, rn, kd, v}
--   e: events    {tn, id, ep, sq, fl, ts, kd, nn, ni, pj}
--   d: ends      {tn, id, ep, st, er}
-- Returns {a: one result per accept, f: fenced trace keys}.
CREATE FUNCTION penguiflow_trace_commit(b jsonb, p_retention_ms bigint) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  now_ms bigint := penguiflow_now_ms();
  a jsonb;
  t penguiflow_trace_runs;
  kr penguiflow_trace_keys;
  holder penguiflow_trace_runs;
  results jsonb[] := '{}';
  fenced text[] := '{}';
  n_traces text[] := '{}';
  n_runners text[] := '{}';
  n_flows text[] := '{}';
  n_tenants text[] := '{}';
  n_events boolean := false;
  live jsonb := '{}';
  queued jsonb := '{}';
  cnt bigint;
  joined boolean;
  queue boolean;
  placeholders bigint := 0;
  key_placeholders bigint := 0;
  converted bigint := 0;
  fast boolean := false;
BEGIN
  -- 1. Lock everything the batch may change, in the global order (see the schema header).
  IF jsonb_array_length(b->'a') > 0 THEN
    INSERT INTO penguiflow_trace_keys AS x (tenant, flow, key, trace_id, created_at)
      SELECT DISTINCT e->>'tn', e->>'fl', e->>'k', '', 0 FROM penguiflow_batch(b, 'a') bx(e, o)
      WHERE e->>'k' IS NOT NULL ORDER BY 1, 2, 3
      ON CONFLICT (tenant, flow, key) DO UPDATE SET trace_id = x.trace_id WHERE false;
    GET DIAGNOSTICS key_placeholders = ROW_COUNT;
  END IF;
  INSERT INTO penguiflow_trace_runs AS x (tenant, trace_id, flow, state, run, attempt, epoch, created_at, updated_at)
    SELECT tn, id, '', 'NEW', 0, 0, 0, now_ms, now_ms FROM (
      SELECT e->>'tn' tn, e->>'id' id FROM penguiflow_batch(b, 'a') bx(e, o)
      UNION SELECT e->>'tn', e->>'id' FROM penguiflow_batch(b, 'o') bx(e, o)
      UNION SELECT e->>'tn', e->>'id' FROM penguiflow_batch(b, 'p') bx(e, o)
      UNION SELECT e->>'tn', e->>'id' FROM penguiflow_batch(b, 'e') bx(e, o)
      UNION SELECT e->>'tn', e->>'id' FROM penguiflow_batch(b, 'd') bx(e, o)
    ) s ORDER BY tn, id
    ON CONFLICT (tenant, trace_id) DO UPDATE SET state = x.state WHERE false;
  GET DIAGNOSTICS placeholders = ROW_COUNT;
  PERFORM pg_advisory_xact_lock(h) FROM (
    SELECT hashtextextended('penguiflow/tenant/' || (e->>'tn'), 0) h FROM penguiflow_batch(b, 'a') bx(e, o)
      WHERE (e->>'mi')::integer > 0
    UNION SELECT hashtextextended('penguiflow/flow/' || (e->>'fl'), 0) FROM penguiflow_batch(b, 'a') bx(e, o)
      WHERE (e->>'mq')::integer > 0 AND e->>'r' IS NULL
  ) s ORDER BY h;

  -- 2. Accepts. When no accept of the batch can depend on another or be refused (distinct trace
  -- ids and keys, no key held, no live trace joined, quotas and queue limits not reached even
  -- counting the whole batch), they are all new runs, applied set-based; otherwise one by one.
  IF jsonb_array_length(b->'a') > 0 THEN
    WITH w AS (
      SELECT e->>'tn' tn, e->>'id' id, e->>'fl' fl, e->>'k' k, e->>'r' r, (e->>'mi')::integer mi, (e->>'mq')::integer mq, o
      FROM penguiflow_batch(b, 'a') bx(e, o)
    ), j AS (
      SELECT w.*, r.state,
             count(*) OVER (PARTITION BY w.tn ORDER BY w.o) - 1 AS tenant_before,
             count(*) FILTER (WHERE w.r IS NULL) OVER (PARTITION BY w.fl ORDER BY w.o) - 1 AS flow_before
      FROM w JOIN penguiflow_trace_runs r ON r.tenant = w.tn AND r.trace_id = w.id
    ), lc AS MATERIALIZED (
      -- live traces per tenant, counted up to the largest quota asked (beyond it every accept is refused anyway)
      SELECT tn, (SELECT count(*) FROM (SELECT 1 FROM penguiflow_trace_runs r WHERE r.tenant = d.tn AND r.state IN ('QUEUED', 'RUNNING') LIMIT d.cap) z) c
      FROM (SELECT tn, max(mi) cap FROM w WHERE mi > 0 GROUP BY tn) d
    ), qc AS MATERIALIZED (
      SELECT fl, (SELECT count(*) FROM (SELECT 1 FROM penguiflow_trace_runs r WHERE r.flow = d.fl AND r.state = 'QUEUED' LIMIT d.cap) z) c
      FROM (SELECT fl, max(mq) cap FROM w WHERE mq > 0 AND r IS NULL GROUP BY fl) d
    )
    SELECT (SELECT count(DISTINCT (tn, id)) = count(*) FROM w)
       AND (SELECT count(DISTINCT (tn, fl, k)) = count(*) FROM w WHERE k IS NOT NULL)
       AND NOT EXISTS (SELECT 1 FROM j WHERE state IN ('QUEUED', 'RUNNING'))
       AND NOT EXISTS (SELECT 1 FROM w JOIN penguiflow_trace_keys x ON x.tenant = w.tn AND x.flow = w.fl AND x.key = w.k
                       WHERE x.trace_id <> '' AND now_ms - x.created_at < p_retention_ms)
       AND NOT EXISTS (SELECT 1 FROM j JOIN lc ON lc.tn = j.tn WHERE j.mi > 0 AND lc.c + j.tenant_before >= j.mi)
       AND NOT EXISTS (SELECT 1 FROM j JOIN qc ON qc.fl = j.fl WHERE j.r IS NULL AND j.mq > 0 AND qc.c + j.flow_before >= j.mq),
           (SELECT count(*) FROM j WHERE state = 'NEW')
      INTO fast, converted;
  END IF;
  IF fast THEN
    DELETE FROM penguiflow_trace_inputs i USING penguiflow_batch(b, 'a') bx(e, o), penguiflow_trace_runs r
      WHERE r.tenant = e->>'tn' AND r.trace_id = e->>'id' AND r.state <> 'NEW' AND i.tenant = r.tenant AND i.trace_id = r.trace_id;
    WITH w AS MATERIALIZED (
      -- nextval in the projection of the ordered rows: the batch is queued in its order
      SELECT z.*, CASE WHEN z.r IS NULL THEN nextval('penguiflow_trace_queue_seq') END qs FROM (
        SELECT e->>'tn' tn, e->>'id' id, e->>'fl' fl, e->>'k' k, e->>'r' r, e->>'m' m, (e->>'dl')::bigint dl, e->>'tp' tp, o
        FROM penguiflow_batch(b, 'a') bx(e, o) ORDER BY o
      ) z
    ), u AS (
      UPDATE penguiflow_trace_runs tr SET
          flow = w.fl,
          state = CASE WHEN w.r IS NULL THEN 'QUEUED' ELSE 'RUNNING' END,
          run = CASE WHEN tr.state = 'NEW' THEN 1 ELSE tr.run + 1 END,
          attempt = CASE WHEN w.r IS NULL THEN 0 ELSE 1 END,
          epoch = CASE WHEN tr.state = 'NEW' THEN 1 ELSE tr.epoch + 1 END,
          owner = w.r,
          cancel_requested = false,
          deadline = w.dl,
          traceparent = w.tp,
          error = NULL,
          created_at = CASE WHEN tr.state = 'NEW' THEN now_ms ELSE tr.created_at END,
          updated_at = now_ms,
          ended_at = NULL,
          inputs = 1,
          stored_updates = 0,
          queued_seq = w.qs
        FROM w WHERE tr.tenant = w.tn AND tr.trace_id = w.id
        RETURNING tr.*, w.o, w.k, w.m
    ), ins AS (
      INSERT INTO penguiflow_trace_inputs (tenant, trace_id, run, n, value) SELECT tenant, trace_id, run, 1, m FROM u
    ), keys AS (
      UPDATE penguiflow_trace_keys x SET trace_id = u.trace_id, created_at = now_ms
        FROM u WHERE u.k IS NOT NULL AND x.tenant = u.tenant AND x.flow = u.flow AND x.key = u.k
    )
    SELECT array_agg(jsonb_build_object('kind', 'accepted', 'row', to_jsonb(u) - 'o' - 'k' - 'm', 'input', 1, 'joined', false) ORDER BY o),
           coalesce(array_agg(DISTINCT flow) FILTER (WHERE state = 'QUEUED'), '{}')
      INTO results, n_flows FROM u;
    key_placeholders := 0;
  ELSE
    converted := 0;
    -- 2b. Accepts one by one, in order (the general case).
    FOR a IN SELECT e FROM penguiflow_batch(b, 'a') bx(e, o) ORDER BY o LOOP
      IF a->>'k' IS NOT NULL THEN
        SELECT * INTO kr FROM penguiflow_trace_keys WHERE tenant = a->>'tn' AND flow = a->>'fl' AND key = a->>'k';
        IF kr.trace_id <> '' AND now_ms - kr.created_at < p_retention_ms THEN
          SELECT * INTO holder FROM penguiflow_trace_runs WHERE tenant = a->>'tn' AND trace_id = kr.trace_id AND state <> 'NEW';
          results := results || jsonb_build_object('kind', 'duplicate', 'traceId', kr.trace_id, 'row', CASE WHEN FOUND THEN to_jsonb(holder) END);
          CONTINUE;
        END IF;
      END IF;
      SELECT * INTO t FROM penguiflow_trace_runs WHERE tenant = a->>'tn' AND trace_id = a->>'id';
      joined := t.state IN ('QUEUED', 'RUNNING');
      IF joined THEN
        IF t.flow <> a->>'fl' THEN
          results := results || jsonb_build_object('kind', 'other_flow', 'row', to_jsonb(t));
          CONTINUE;
        END IF;
        IF t.cancel_requested THEN
          results := results || jsonb_build_object('kind', 'cancelling', 'row', to_jsonb(t));
          CONTINUE;
        END IF;
        UPDATE penguiflow_trace_runs SET inputs = inputs + 1, updated_at = now_ms
          WHERE tenant = t.tenant AND trace_id = t.trace_id RETURNING * INTO t;
        n_runners := n_runners || (t.tenant || chr(31) || t.trace_id);
      ELSE
        IF (a->>'mi')::integer > 0 THEN
          cnt := (live->>(a->>'tn'))::bigint;
          IF cnt IS NULL THEN
            -- counted up to the largest quota of the tenant in the batch: beyond it every accept is refused
            SELECT count(*) INTO cnt FROM (
              SELECT 1 FROM penguiflow_trace_runs WHERE tenant = a->>'tn' AND state IN ('QUEUED', 'RUNNING')
              LIMIT (SELECT max((e->>'mi')::integer) FROM penguiflow_batch(b, 'a') bx(e, o) WHERE e->>'tn' = a->>'tn')
            ) z;
            live := live || jsonb_build_object(a->>'tn', cnt);
          END IF;
          IF cnt >= (a->>'mi')::integer THEN
            results := results || '{"kind": "over_quota"}'::jsonb;
            CONTINUE;
          END IF;
        END IF;
        queue := a->>'r' IS NULL;
        IF queue AND (a->>'mq')::integer > 0 THEN
          cnt := (queued->>(a->>'fl'))::bigint;
          IF cnt IS NULL THEN
            SELECT count(*) INTO cnt FROM (
              SELECT 1 FROM penguiflow_trace_runs WHERE flow = a->>'fl' AND state = 'QUEUED'
              LIMIT (SELECT max((e->>'mq')::integer) FROM penguiflow_batch(b, 'a') bx(e, o) WHERE e->>'fl' = a->>'fl' AND e->>'r' IS NULL)
            ) z;
            queued := queued || jsonb_build_object(a->>'fl', cnt);
          END IF;
          IF cnt >= (a->>'mq')::integer THEN
            results := results || '{"kind": "queue_full"}'::jsonb;
            CONTINUE;
          END IF;
        END IF;
        IF t.state <> 'NEW' THEN
          DELETE FROM penguiflow_trace_inputs WHERE tenant = t.tenant AND trace_id = t.trace_id;
        ELSE
          converted := converted + 1;
        END IF;
        UPDATE penguiflow_trace_runs SET
            flow = a->>'fl',
            state = CASE WHEN queue THEN 'QUEUED' ELSE 'RUNNING' END,
            run = CASE WHEN t.state = 'NEW' THEN 1 ELSE run + 1 END,
            attempt = CASE WHEN queue THEN 0 ELSE 1 END,
            epoch = CASE WHEN t.state = 'NEW' THEN 1 ELSE epoch + 1 END,
            owner = a->>'r',
            cancel_requested = false,
            deadline = (a->>'dl')::bigint,
            traceparent = a->>'tp',
            error = NULL,
            created_at = CASE WHEN t.state = 'NEW' THEN now_ms ELSE created_at END,
            updated_at = now_ms,
            ended_at = NULL,
            inputs = 1,
            stored_updates = 0,
            queued_seq = CASE WHEN queue THEN nextval('penguiflow_trace_queue_seq') END
          WHERE tenant = t.tenant AND trace_id = t.trace_id RETURNING * INTO t;
        IF live ? t.tenant THEN
          live := live || jsonb_build_object(t.tenant, (live->>t.tenant)::bigint + 1);
        END IF;
        IF queue THEN
          IF queued ? t.flow THEN
            queued := queued || jsonb_build_object(t.flow, (queued->>t.flow)::bigint + 1);
          END IF;
          n_flows := n_flows || t.flow;
        END IF;
      END IF;
      INSERT INTO penguiflow_trace_inputs (tenant, trace_id, run, n, value) VALUES (t.tenant, t.trace_id, t.run, t.inputs, a->>'m');
      IF a->>'k' IS NOT NULL THEN
        UPDATE penguiflow_trace_keys SET trace_id = t.trace_id, created_at = now_ms
          WHERE tenant = t.tenant AND flow = a->>'fl' AND key = a->>'k';
      END IF;
      results := results || jsonb_build_object('kind', 'accepted', 'row', to_jsonb(t), 'input', t.inputs, 'joined', joined);
    END LOOP;
  END IF;

  -- 3. Outputs: fenced by epoch; a seq at or below the trace's last is kept once (dropped).
  IF jsonb_array_length(b->'o') > 0 THEN
    WITH w AS (
      SELECT e->>'tn' tn, e->>'id' id, (e->>'ep')::bigint ep, (e->>'sq')::bigint sq, (e->>'rn')::integer rn,
             e->>'kd' kd, e->>'v' v, (e->>'c')::boolean c, o
      FROM penguiflow_batch(b, 'o') bx(e, o)
    ), j AS (
      SELECT w.*, r.state <> 'NEW' AND r.epoch = w.ep AS ok, r.last_update_seq AS last, r.run AS cur
      FROM w JOIN penguiflow_trace_runs r ON r.tenant = w.tn AND r.trace_id = w.id
    ), kept AS (
      SELECT * FROM (
        SELECT j.*, sq > greatest(last, coalesce(max(sq) OVER (PARTITION BY tn, id ORDER BY o ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)) AS keep
        FROM j WHERE ok
      ) z WHERE keep
    ), ins AS (
      INSERT INTO penguiflow_trace_updates (tenant, trace_id, seq, run, kind, value)
        SELECT tn, id, sq, rn, kd, v FROM kept WHERE NOT c ORDER BY tn, id, sq
        ON CONFLICT DO NOTHING
        RETURNING tenant, trace_id
    ), upd AS (
      UPDATE penguiflow_trace_runs r SET last_update_seq = m.mx, stored_updates = r.stored_updates + m.cur
        FROM (SELECT tn, id, max(sq) mx, count(*) FILTER (WHERE rn = cur) cur FROM kept GROUP BY tn, id) m
        WHERE r.tenant = m.tn AND r.trace_id = m.id
    )
    SELECT fenced || coalesce((SELECT array_agg(DISTINCT tn || chr(31) || id) FROM j WHERE NOT ok), '{}'),
           n_traces || coalesce((SELECT array_agg(DISTINCT tenant || chr(31) || trace_id) FROM ins), '{}')
      INTO fenced, n_traces;
  END IF;

  -- 4. Put-backs: not fenced; never into a cancelled trace; a seq already unread is kept once.
  IF jsonb_array_length(b->'p') > 0 THEN
    WITH ins AS (
      INSERT INTO penguiflow_trace_updates (tenant, trace_id, seq, run, kind, value)
        SELECT e->>'tn', e->>'id', (e->>'sq')::bigint, (e->>'rn')::integer, e->>'kd', e->>'v'
        FROM penguiflow_batch(b, 'p') bx(e, o)
        JOIN penguiflow_trace_runs r ON r.tenant = e->>'tn' AND r.trace_id = e->>'id'
        WHERE r.state NOT IN ('NEW', 'CANCELLED')
        ORDER BY 1, 2, 3
        ON CONFLICT DO NOTHING
        RETURNING tenant, trace_id
    )
    SELECT n_traces || coalesce((SELECT array_agg(DISTINCT tenant || chr(31) || trace_id) FROM ins), '{}') INTO n_traces;
  END IF;

  -- 5. Events: fenced; a seq at or below the trace's last is dropped. The tail position is the
  -- writer's xid, raised to the trace's previous event position, so a trace's events stay in
  -- seq order in the tail even when this transaction got its xid before the previous writer.
  IF jsonb_array_length(b->'e') > 0 THEN
    WITH w AS (
      SELECT e->>'tn' tn, e->>'id' id, (e->>'ep')::bigint ep, (e->>'sq')::bigint sq, e->>'fl' fl, (e->>'ts')::bigint ts,
             e->>'kd' kd, e->>'nn' nn, e->>'ni' ni, e->>'pj' pj, o
      FROM penguiflow_batch(b, 'e') bx(e, o)
    ), j AS (
      SELECT w.*, r.state <> 'NEW' AND r.epoch = w.ep AS ok, r.last_event_seq AS last,
             greatest(pg_current_xact_id(), r.last_event_pos) AS pos
      FROM w JOIN penguiflow_trace_runs r ON r.tenant = w.tn AND r.trace_id = w.id
    ), kept AS (
      SELECT * FROM (
        SELECT j.*, sq > greatest(last, coalesce(max(sq) OVER (PARTITION BY tn, id ORDER BY o ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)) AS keep
        FROM j WHERE ok
      ) z WHERE keep
    ), ins AS (
      INSERT INTO penguiflow_trace_events (tenant, trace_id, seq, flow, ts, kind, node_name, node_id, payload, pos, writer)
        SELECT tn, id, sq, fl, ts, kd, nn, ni, pj, pos, pg_current_xact_id() FROM kept ORDER BY o
        ON CONFLICT DO NOTHING
        RETURNING 1
    ), upd AS (
      UPDATE penguiflow_trace_runs r SET last_event_seq = m.mx, last_event_pos = m.pos
        FROM (SELECT tn, id, max(sq) mx, max(pos) pos FROM kept GROUP BY tn, id) m
        WHERE r.tenant = m.tn AND r.trace_id = m.id
    )
    SELECT fenced || coalesce((SELECT array_agg(DISTINCT tn || chr(31) || id) FROM j WHERE NOT ok), '{}'),
           EXISTS (SELECT 1 FROM ins)
      INTO fenced, n_events;
  END IF;

  -- 6. Ends: fenced; the first valid end of a live trace ends it; a cancelled run drops its unread updates.
  IF jsonb_array_length(b->'d') > 0 THEN
    WITH w AS (
      SELECT e->>'tn' tn, e->>'id' id, (e->>'ep')::bigint ep, e->>'st' st, e->>'er' er, o
      FROM penguiflow_batch(b, 'd') bx(e, o)
    ), j AS (
      SELECT w.*, r.state <> 'NEW' AND r.epoch = w.ep AS ok, r.state AS cur
      FROM w JOIN penguiflow_trace_runs r ON r.tenant = w.tn AND r.trace_id = w.id
    ), pick AS (
      SELECT DISTINCT ON (tn, id) * FROM j WHERE ok AND cur IN ('QUEUED', 'RUNNING') ORDER BY tn, id, o
    ), upd AS (
      UPDATE penguiflow_trace_runs r SET state = p.st, owner = NULL, cancel_requested = false, error = p.er,
          ended_at = now_ms, updated_at = now_ms, queued_seq = NULL
        FROM pick p WHERE r.tenant = p.tn AND r.trace_id = p.id
        RETURNING r.tenant, r.trace_id, r.state
    ), del AS (
      DELETE FROM penguiflow_trace_updates u USING upd
        WHERE upd.state = 'CANCELLED' AND u.tenant = upd.tenant AND u.trace_id = upd.trace_id
    )
    SELECT fenced || coalesce((SELECT array_agg(DISTINCT tn || chr(31) || id) FROM j WHERE NOT ok), '{}'),
           n_traces || coalesce((SELECT array_agg(tenant || chr(31) || trace_id) FROM upd), '{}'),
           coalesce((SELECT array_agg(DISTINCT tenant) FROM upd), '{}')
      INTO fenced, n_traces, n_tenants;
  END IF;

  -- 7. Drop the placeholders the batch did not use (refused accepts, writes for unknown traces).
  IF placeholders > converted THEN
    DELETE FROM penguiflow_trace_runs r USING (
      SELECT e->>'tn' tn, e->>'id' id FROM penguiflow_batch(b, 'a') bx(e, o)
      UNION SELECT e->>'tn', e->>'id' FROM penguiflow_batch(b, 'o') bx(e, o)
      UNION SELECT e->>'tn', e->>'id' FROM penguiflow_batch(b, 'p') bx(e, o)
      UNION SELECT e->>'tn', e->>'id' FROM penguiflow_batch(b, 'e') bx(e, o)
      UNION SELECT e->>'tn', e->>'id' FROM penguiflow_batch(b, 'd') bx(e, o)
    ) s WHERE r.tenant = s.tn AND r.trace_id = s.id AND r.state = 'NEW';
  END IF;
  IF key_placeholders > 0 THEN
    DELETE FROM penguiflow_trace_keys x USING penguiflow_batch(b, 'a') bx(e, o)
      WHERE e->>'k' IS NOT NULL AND x.tenant = e->>'tn' AND x.flow = e->>'fl' AND x.key = e->>'k' AND x.trace_id = '';
  END IF;

  PERFORM penguiflow_trace_notify(n_traces, n_runners, n_flows, n_tenants, n_events);
  RETURN jsonb_build_object('a', to_jsonb(results), 'f', to_jsonb(fenced));
END
$$;

-- The oldest unread update of a trace, taken exactly once across all takers: one DELETE of the
-- lowest seq, guarded in the same statement (one snapshot) by the trace not being cancelled. A
-- taker that finds its row deleted by a concurrent one (the DELETE waits for it, then skips the
-- row) retries with a fresh snapshot, so it never answers "empty" while an unread update is left.
-- No trace-row lock: takers never block the runner's commits, and a take with nothing to take
-- writes nothing (no transaction id, no WAL flush).
CREATE FUNCTION penguiflow_trace_take(p_tenant text, p_trace text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_row jsonb;
  v_update jsonb;
  v_stopped boolean;
  v_live boolean;
  v_pending boolean;
BEGIN
  LOOP
    WITH r AS (
      SELECT * FROM penguiflow_trace_runs WHERE tenant = p_tenant AND trace_id = p_trace
    ), d AS (
      DELETE FROM penguiflow_trace_updates x
        WHERE x.tenant = p_tenant AND x.trace_id = p_trace
          AND x.seq = (SELECT min(y.seq) FROM penguiflow_trace_updates y WHERE y.tenant = p_tenant AND y.trace_id = p_trace)
          AND EXISTS (SELECT 1 FROM r WHERE NOT r.cancel_requested AND r.state <> 'CANCELLED')
        RETURNING x.seq, x.run, x.kind, x.value
    )
    SELECT (SELECT to_jsonb(r) FROM r),
           (SELECT jsonb_build_object('seq', d.seq, 'run', d.run, 'kind', d.kind, 'value', d.value) FROM d),
           (SELECT r.cancel_requested OR r.state = 'CANCELLED' FROM r),
           (SELECT r.state IN ('QUEUED', 'RUNNING') FROM r),
           EXISTS (SELECT 1 FROM penguiflow_trace_updates y WHERE y.tenant = p_tenant AND y.trace_id = p_trace)
      INTO v_row, v_update, v_stopped, v_live, v_pending;
    IF v_row IS NULL THEN
      RETURN '{"kind": "missing"}'::jsonb;
    END IF;
    IF v_update IS NOT NULL THEN
      RETURN jsonb_build_object('kind', 'update', 'row', v_row, 'update', v_update);
    END IF;
    IF v_stopped OR NOT v_pending THEN
      RETURN jsonb_build_object('kind', CASE WHEN v_live THEN 'empty' ELSE 'end' END, 'row', v_row);
    END IF;
    -- A concurrent taker won the lowest row: try again on a fresh snapshot.
  END LOOP;
END
$$;

CREATE FUNCTION penguiflow_trace_cancel(p_tenant text, p_trace text, p_lease_ms bigint) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  now_ms bigint := penguiflow_now_ms();
  t penguiflow_trace_runs;
BEGIN
  SELECT * INTO t FROM penguiflow_trace_runs WHERE tenant = p_tenant AND trace_id = p_trace FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    RETURN '{"kind": "missing"}'::jsonb;
  END IF;
  IF t.state NOT IN ('QUEUED', 'RUNNING') THEN
    RETURN jsonb_build_object('kind', 'ended', 'row', to_jsonb(t));
  END IF;
  IF t.state = 'QUEUED' OR NOT EXISTS (
    SELECT 1 FROM penguiflow_replicas WHERE id = t.owner AND now_ms - heartbeat_at <= p_lease_ms
  ) THEN
    UPDATE penguiflow_trace_runs SET state = 'CANCELLED', epoch = epoch + 1, owner = NULL, cancel_requested = false,
        error = NULL, ended_at = now_ms, updated_at = now_ms, queued_seq = NULL
      WHERE tenant = p_tenant AND trace_id = p_trace RETURNING * INTO t;
    DELETE FROM penguiflow_trace_updates WHERE tenant = p_tenant AND trace_id = p_trace;
    PERFORM penguiflow_trace_notify(ARRAY[p_tenant || chr(31) || p_trace], '{}', '{}', ARRAY[p_tenant], false);
    RETURN jsonb_build_object('kind', 'cancelled', 'row', to_jsonb(t), 'lastEventSeq', t.last_event_seq);
  END IF;
  IF NOT t.cancel_requested THEN
    UPDATE penguiflow_trace_runs SET cancel_requested = true, updated_at = now_ms
      WHERE tenant = p_tenant AND trace_id = p_trace RETURNING * INTO t;
    PERFORM penguiflow_trace_notify('{}', ARRAY[p_tenant || chr(31) || p_trace], '{}', '{}', false);
  END IF;
  RETURN jsonb_build_object('kind', 'requested', 'row', to_jsonb(t));
END
$$;

-- Takes over up to p_limit traces of a flow: first RUNNING ones whose owner's lease lapsed (or whose
-- owner is not registered), oldest first, then QUEUED ones in queue order; SKIP LOCKED, so concurrent
-- claimers never wait for or get the same trace.
CREATE FUNCTION penguiflow_trace_claim(p_replica text, p_flow text, p_limit integer, p_lease_ms bigint) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  now_ms bigint := penguiflow_now_ms();
  dead text[];
  out jsonb[] := '{}';
  r penguiflow_trace_runs;
  t penguiflow_trace_runs;
  hb bigint;
BEGIN
  IF p_limit <= 0 THEN
    RETURN '[]'::jsonb;
  END IF;
  -- The distinct owners of running traces (a loose index scan: one probe per owner), minus the live ones.
  WITH RECURSIVE o AS (
    (SELECT owner FROM penguiflow_trace_runs WHERE state = 'RUNNING' ORDER BY owner LIMIT 1)
    UNION ALL
    SELECT (SELECT x.owner FROM penguiflow_trace_runs x WHERE x.state = 'RUNNING' AND x.owner > o.owner ORDER BY x.owner LIMIT 1)
      FROM o WHERE o.owner IS NOT NULL
  )
  -- Never the claimant's own: a replica whose lease lapsed may still be running them.
  SELECT array_agg(owner) INTO dead FROM o WHERE owner IS NOT NULL AND owner <> p_replica AND NOT EXISTS (
    SELECT 1 FROM penguiflow_replicas p WHERE p.id = o.owner AND now_ms - p.heartbeat_at <= p_lease_ms
  );
  IF dead IS NOT NULL THEN
    FOR r IN SELECT * FROM penguiflow_trace_runs WHERE state = 'RUNNING' AND owner = ANY (dead) AND flow = p_flow
        ORDER BY created_at LIMIT p_limit FOR NO KEY UPDATE SKIP LOCKED LOOP
      SELECT heartbeat_at INTO hb FROM penguiflow_replicas WHERE id = r.owner;
      UPDATE penguiflow_trace_runs SET owner = p_replica, epoch = epoch + 1, attempt = attempt + 1, updated_at = now_ms
        WHERE tenant = r.tenant AND trace_id = r.trace_id RETURNING * INTO t;
      out := out || jsonb_build_object('row', to_jsonb(t), 'previousOwner', r.owner, 'previousHeartbeat', hb);
    END LOOP;
  END IF;
  IF cardinality(out) < p_limit THEN
    FOR r IN SELECT * FROM penguiflow_trace_runs WHERE state = 'QUEUED' AND flow = p_flow
        ORDER BY queued_seq LIMIT p_limit - cardinality(out) FOR NO KEY UPDATE SKIP LOCKED LOOP
      UPDATE penguiflow_trace_runs SET state = 'RUNNING', owner = p_replica, epoch = epoch + 1, attempt = attempt + 1,
          updated_at = now_ms, queued_seq = NULL
        WHERE tenant = r.tenant AND trace_id = r.trace_id RETURNING * INTO t;
      out := out || jsonb_build_object('row', to_jsonb(t), 'previousOwner', r.owner);
    END LOOP;
  END IF;
  RETURN (
    SELECT coalesce(jsonb_agg(c || jsonb_build_object('inputs', (
      SELECT coalesce(jsonb_agg(i.value ORDER BY i.n), '[]') FROM penguiflow_trace_inputs i
      WHERE i.tenant = c->'row'->>'tenant' AND i.trace_id = c->'row'->>'trace_id' AND i.run = (c->'row'->>'run')::integer
    )) ORDER BY n), '[]')
    FROM unnest(out) WITH ORDINALITY u(c, n)
  );
END
$$;

CREATE FUNCTION penguiflow_trace_release(p_replica text, p_tenants text[], p_traces text[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  now_ms bigint := penguiflow_now_ms();
  flows text[];
  released integer;
BEGIN
  WITH l AS (
    SELECT tenant, trace_id FROM penguiflow_trace_runs
    WHERE owner = p_replica AND state = 'RUNNING'
      AND (p_tenants IS NULL OR (tenant, trace_id) IN (SELECT * FROM unnest(p_tenants, p_traces)))
    ORDER BY tenant, trace_id FOR NO KEY UPDATE
  ), u AS (
    UPDATE penguiflow_trace_runs r SET state = 'QUEUED', owner = NULL, epoch = epoch + 1, updated_at = now_ms,
        queued_seq = nextval('penguiflow_trace_queue_seq')
      FROM l WHERE r.tenant = l.tenant AND r.trace_id = l.trace_id
      RETURNING r.flow
  )
  SELECT count(*), array_agg(DISTINCT flow) INTO released, flows FROM u;
  IF released > 0 THEN
    PERFORM penguiflow_trace_notify('{}', '{}', flows, '{}', false);
  END IF;
  RETURN released;
END
$$;

CREATE FUNCTION penguiflow_trace_forget(p_replica text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  flows text[];
BEGIN
  DELETE FROM penguiflow_replicas WHERE id = p_replica;
  IF FOUND THEN
    SELECT array_agg(DISTINCT flow) INTO flows FROM penguiflow_trace_runs WHERE owner = p_replica AND state = 'RUNNING';
    PERFORM penguiflow_trace_notify('{}', '{}', flows, '{}', false);
  END IF;
END
$$;

-- Deletes at most p_batch rows of each kind (the caller repeats while a kind is full); rows some
-- transaction holds are skipped, never waited for.
CREATE FUNCTION penguiflow_trace_prune(p_traces_before bigint, p_updates_before bigint, p_keys_before bigint,
    p_replicas_before bigint, p_batch integer) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  n_updates bigint;
  n_traces bigint;
  n_keys bigint;
  n_replicas bigint;
BEGIN
  WITH l AS (
    SELECT u.tenant, u.trace_id, u.seq FROM penguiflow_trace_updates u
    JOIN penguiflow_trace_runs r ON r.tenant = u.tenant AND r.trace_id = u.trace_id
    WHERE r.ended_at < p_updates_before AND r.state NOT IN ('QUEUED', 'RUNNING', 'NEW')
    LIMIT p_batch FOR UPDATE OF u SKIP LOCKED
  ), d AS (
    DELETE FROM penguiflow_trace_updates u USING l WHERE u.tenant = l.tenant AND u.trace_id = l.trace_id AND u.seq = l.seq RETURNING 1
  )
  SELECT count(*) INTO n_updates FROM d;

  WITH l AS (
    SELECT tenant, trace_id FROM penguiflow_trace_runs
    WHERE ended_at < p_traces_before AND state NOT IN ('QUEUED', 'RUNNING', 'NEW')
    LIMIT p_batch FOR UPDATE SKIP LOCKED
  ), d AS (
    DELETE FROM penguiflow_trace_runs r USING l WHERE r.tenant = l.tenant AND r.trace_id = l.trace_id RETURNING r.tenant, r.trace_id
  ), di AS (
    DELETE FROM penguiflow_trace_inputs i USING d WHERE i.tenant = d.tenant AND i.trace_id = d.trace_id
  ), du AS (
    DELETE FROM penguiflow_trace_updates u USING d WHERE u.tenant = d.tenant AND u.trace_id = d.trace_id
  ), de AS (
    DELETE FROM penguiflow_trace_events e USING d WHERE e.tenant = d.tenant AND e.trace_id = d.trace_id
  )
  SELECT count(*) INTO n_traces FROM d;

  WITH l AS (
    SELECT tenant, flow, key FROM penguiflow_trace_keys WHERE created_at < p_keys_before
    LIMIT p_batch FOR UPDATE SKIP LOCKED
  ), d AS (
    DELETE FROM penguiflow_trace_keys k USING l WHERE k.tenant = l.tenant AND k.flow = l.flow AND k.key = l.key RETURNING 1
  )
  SELECT count(*) INTO n_keys FROM d;

  WITH d AS (
    DELETE FROM penguiflow_replicas p WHERE p.heartbeat_at < p_replicas_before AND NOT EXISTS (
      SELECT 1 FROM penguiflow_trace_runs r WHERE r.owner = p.id AND r.state = 'RUNNING'
    ) RETURNING 1
  )
  SELECT count(*) INTO n_replicas FROM d;

  RETURN jsonb_build_object('traces', n_traces, 'updates', n_updates, 'keys', n_keys, 'replicas', n_replicas);
END
$$;
`;
