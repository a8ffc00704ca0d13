/**
 * Schema version 1 of the PostgreSQL store: the ledger (keys, calls, holds), budgets and their history, the spend
 * log, the daily rollups with per-type views, and the functions that run each ledger operation as one statement.
 *
 * Admission is a conditional `UPDATE ... WHERE spent + reserved + amount <= limit` per key, inside the function's
 * transaction, with the key rows locked in one order (`COLLATE "C"`) by every function, so concurrent calls never
 * deadlock on keys and never admit past a limit. Times are epoch milliseconds in `double precision` (what the
 * manager sends); amounts are `bigint` integers below 2^53.
 *
 * @internal
 * @packageDocumentation
 */

/** The SQL of migration 1. Runs in one transaction. */
export const SCHEMA_V1 = String.raw`
CREATE TABLE llm_budget_keys (
  key text PRIMARY KEY,
  spent bigint NOT NULL DEFAULT 0,
  reserved bigint NOT NULL DEFAULT 0,
  expires_at double precision
);
CREATE INDEX llm_budget_keys_expires ON llm_budget_keys (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE llm_budget_calls (
  call_id text PRIMARY KEY,
  state "char" NOT NULL CHECK (state IN ('h', 'c', 'r')),
  until double precision NOT NULL
);
CREATE INDEX llm_budget_calls_until ON llm_budget_calls (until);

CREATE TABLE llm_budget_holds (
  call_id text NOT NULL,
  key text NOT NULL,
  amount bigint NOT NULL,
  expires_at double precision NOT NULL,
  PRIMARY KEY (call_id, key)
);
CREATE INDEX llm_budget_holds_key ON llm_budget_holds (key, expires_at);
CREATE INDEX llm_budget_holds_expires ON llm_budget_holds (expires_at);

CREATE TABLE llm_budget_budgets (
  scope text PRIMARY KEY,
  definition json,
  revision integer NOT NULL,
  created_at double precision NOT NULL,
  updated_at double precision NOT NULL
);

CREATE TABLE llm_budget_history (
  id bigserial PRIMARY KEY,
  scope text NOT NULL,
  at double precision NOT NULL,
  entry json NOT NULL
);
CREATE INDEX llm_budget_history_scope ON llm_budget_history (scope, id);

CREATE TABLE llm_budget_spend_logs (
  request_id text PRIMARY KEY,
  start_time timestamptz NOT NULL,
  end_time timestamptz NOT NULL,
  ended_at_ms double precision NOT NULL,
  model text,
  model_served text,
  provider text,
  prompt_tokens bigint NOT NULL DEFAULT 0,
  completion_tokens bigint NOT NULL DEFAULT 0,
  total_tokens bigint NOT NULL DEFAULT 0,
  cache_read_tokens bigint NOT NULL DEFAULT 0,
  cache_write_tokens bigint NOT NULL DEFAULT 0,
  spend numeric(30, 9) NOT NULL DEFAULT 0,
  spend_nano_usd bigint NOT NULL DEFAULT 0,
  saved_nano_usd bigint NOT NULL DEFAULT 0,
  "user" text,
  team_id text,
  organization_id text,
  api_key text,
  end_user text,
  deployment text,
  request_tags text[] NOT NULL DEFAULT '{}',
  metadata jsonb NOT NULL DEFAULT '{}',
  status text,
  estimated boolean NOT NULL DEFAULT false,
  project text,
  record json NOT NULL
);
CREATE INDEX llm_budget_spend_logs_ended ON llm_budget_spend_logs (ended_at_ms);
CREATE INDEX llm_budget_spend_logs_end_time ON llm_budget_spend_logs (end_time);
CREATE INDEX llm_budget_spend_logs_user ON llm_budget_spend_logs ("user", end_time) WHERE "user" IS NOT NULL;
CREATE INDEX llm_budget_spend_logs_team ON llm_budget_spend_logs (team_id, end_time) WHERE team_id IS NOT NULL;

CREATE TABLE llm_budget_daily_spend (
  day date NOT NULL,
  scope text NOT NULL,
  model text NOT NULL,
  model_served text NOT NULL,
  calls bigint NOT NULL CHECK (calls <= 9007199254740991),
  input_tokens bigint NOT NULL CHECK (input_tokens <= 9007199254740991),
  output_tokens bigint NOT NULL CHECK (output_tokens <= 9007199254740991),
  spend_nano_usd bigint NOT NULL CHECK (spend_nano_usd <= 9007199254740991),
  saved_nano_usd bigint NOT NULL CHECK (saved_nano_usd <= 9007199254740991),
  estimated_calls bigint NOT NULL CHECK (estimated_calls <= 9007199254740991),
  PRIMARY KEY (day, scope, model, model_served)
);
CREATE INDEX llm_budget_daily_spend_scope ON llm_budget_daily_spend (scope text_pattern_ops, day);

CREATE VIEW llm_budget_daily_user_spend AS
  SELECT day, substr(scope, 6) AS "user", model, model_served, calls, input_tokens, output_tokens,
         spend_nano_usd / 1e9 AS spend, saved_nano_usd / 1e9 AS saved, estimated_calls
  FROM llm_budget_daily_spend WHERE scope LIKE 'user:%';
CREATE VIEW llm_budget_daily_team_spend AS
  SELECT day, substr(scope, 6) AS team_id, model, model_served, calls, input_tokens, output_tokens,
         spend_nano_usd / 1e9 AS spend, saved_nano_usd / 1e9 AS saved, estimated_calls
  FROM llm_budget_daily_spend WHERE scope LIKE 'team:%';
CREATE VIEW llm_budget_daily_tag_spend AS
  SELECT day, substr(scope, 5) AS tag, model, model_served, calls, input_tokens, output_tokens,
         spend_nano_usd / 1e9 AS spend, saved_nano_usd / 1e9 AS saved, estimated_calls
  FROM llm_budget_daily_spend WHERE scope LIKE 'tag:%';

CREATE TABLE llm_budget_meta (
  name text PRIMARY KEY,
  value double precision NOT NULL
);

-- Balances of keys at p_now, in the order of p_keys: [[spent, reserved], ...]. Holds past their expiry do not count;
-- a key past its expiry with no live hold reads as zero.
CREATE FUNCTION llm_budget_balances(p_keys text[], p_now double precision) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT coalesce(jsonb_agg(jsonb_build_array(
    CASE WHEN k.key IS NULL OR (k.expires_at IS NOT NULL AND k.expires_at <= p_now AND coalesce(x.live, 0) = 0) THEN 0 ELSE k.spent END,
    CASE WHEN k.key IS NULL THEN 0 ELSE k.reserved - coalesce(x.expired, 0) END
  ) ORDER BY u.ord), '[]'::jsonb)
  FROM unnest(p_keys) WITH ORDINALITY AS u(key, ord)
  LEFT JOIN llm_budget_keys k ON k.key = u.key
  LEFT JOIN LATERAL (
    SELECT sum(h.amount) FILTER (WHERE h.expires_at <= p_now) AS expired, count(*) FILTER (WHERE h.expires_at > p_now) AS live
    FROM llm_budget_holds h WHERE h.key = u.key
  ) x ON true
$$;

-- Creates missing key rows and locks the keys in one order; drops the expired holds on them; a key past its expiry
-- with no live hold starts from zero (spent 0, the incoming expiry).
CREATE FUNCTION llm_budget_lock_keys(p_keys text[], p_expires double precision[], p_now double precision) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  -- One pass in key order creates the missing rows and locks the existing ones (an upsert locks the row it meets).
  INSERT INTO llm_budget_keys AS k (key, expires_at)
    SELECT u.key, u.expires_at FROM unnest(p_keys, p_expires) AS u(key, expires_at) ORDER BY u.key COLLATE "C"
    ON CONFLICT (key) DO UPDATE SET expires_at = k.expires_at;
  WITH gone AS (DELETE FROM llm_budget_holds WHERE key = ANY(p_keys) AND expires_at <= p_now RETURNING key, amount)
  UPDATE llm_budget_keys k SET reserved = k.reserved - g.total
    FROM (SELECT key, sum(amount) AS total FROM gone GROUP BY key) g WHERE k.key = g.key;
  UPDATE llm_budget_keys k SET spent = 0, expires_at = u.expires_at
    FROM unnest(p_keys, p_expires) AS u(key, expires_at)
    WHERE k.key = u.key AND k.expires_at IS NOT NULL AND k.expires_at <= p_now
      AND NOT EXISTS (SELECT 1 FROM llm_budget_holds h WHERE h.key = k.key);
END
$$;

-- Removes a call's holds from their keys (locked in the same order as everywhere).
CREATE FUNCTION llm_budget_drop_holds(p_call text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM llm_budget_keys WHERE key IN (SELECT key FROM llm_budget_holds WHERE call_id = p_call) ORDER BY key COLLATE "C" FOR UPDATE;
  WITH gone AS (DELETE FROM llm_budget_holds WHERE call_id = p_call RETURNING key, amount)
  UPDATE llm_budget_keys k SET reserved = k.reserved - g.total
    FROM (SELECT key, sum(amount) AS total FROM gone GROUP BY key) g WHERE k.key = g.key;
END
$$;

-- All-or-nothing reservation. Returns {"ok", "duplicate", "refused", "balances"}; refused is the 0-based index.
CREATE FUNCTION llm_budget_reserve(p_call text, p_now double precision, p_hold_until double precision, p_keys text[], p_amounts bigint[], p_limits bigint[], p_expires double precision[]) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_until double precision;
  v_refused integer := -1;
  v_total bigint;
  v_balances jsonb := '[]'::jsonb;
  v_spent bigint;
  v_reserved bigint;
BEGIN
  BEGIN
    INSERT INTO llm_budget_calls (call_id, state, until) VALUES (p_call, 'h', p_hold_until) ON CONFLICT (call_id) DO NOTHING;
    IF NOT FOUND THEN
      SELECT until INTO v_until FROM llm_budget_calls WHERE call_id = p_call FOR UPDATE;
      IF v_until > p_now THEN
        RETURN jsonb_build_object('ok', true, 'duplicate', true, 'balances', llm_budget_balances(p_keys, p_now));
      END IF;
      -- The id's hold, commit or release is over and forgotten: a new reservation.
      PERFORM llm_budget_drop_holds(p_call);
      UPDATE llm_budget_calls SET state = 'h', until = p_hold_until WHERE call_id = p_call;
    END IF;
    PERFORM llm_budget_lock_keys(p_keys, p_expires, p_now);
    FOR i IN 1 .. array_length(p_keys, 1) LOOP
      SELECT spent + reserved + p_amounts[i] INTO v_total FROM llm_budget_keys WHERE key = p_keys[i];
      IF v_total > 9007199254740991 THEN
        RAISE EXCEPTION 'reserving % on % would exceed the largest exact amount (9007199254740991)', p_amounts[i], p_keys[i]
          USING ERRCODE = 'LB002', DETAIL = 'entries[' || (i - 1) || '].amount';
      END IF;
      UPDATE llm_budget_keys SET reserved = reserved + p_amounts[i],
          expires_at = CASE WHEN expires_at IS NULL OR p_expires[i] IS NULL THEN NULL ELSE greatest(expires_at, p_expires[i]) END
        WHERE key = p_keys[i] AND (p_limits[i] IS NULL OR spent + reserved + p_amounts[i] <= p_limits[i])
        RETURNING spent, reserved INTO v_spent, v_reserved;
      IF NOT FOUND THEN
        v_refused := i - 1;
        RAISE EXCEPTION 'refused' USING ERRCODE = 'LB001';
      END IF;
      -- The key's expired holds were just dropped: reserved is the sum of its live holds.
      v_balances := v_balances || jsonb_build_array(jsonb_build_array(v_spent, v_reserved));
    END LOOP;
    INSERT INTO llm_budget_holds (call_id, key, amount, expires_at)
      SELECT p_call, u.key, u.amount, p_hold_until FROM unnest(p_keys, p_amounts) AS u(key, amount);
    RETURN jsonb_build_object('ok', true, 'duplicate', false, 'balances', v_balances);
  EXCEPTION WHEN SQLSTATE 'LB001' THEN
    -- Everything above is rolled back; the balances are as they were.
    RETURN jsonb_build_object('ok', false, 'refused', v_refused, 'balances', llm_budget_balances(p_keys, p_now));
  END;
END
$$;

-- Removes the call's holds, adds the amounts, stores the spend log row and adds to the daily rollups, once per call id.
CREATE FUNCTION llm_budget_commit(p_call text, p_now double precision, p_dedupe double precision, p_keys text[], p_amounts bigint[], p_expires double precision[], p_log jsonb, p_record json, p_rollups jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_state "char";
  v_until double precision;
  v_after bigint;
  v_reserved bigint;
  v_balances jsonb := '[]'::jsonb;
  v_log llm_budget_spend_logs%ROWTYPE;
BEGIN
  INSERT INTO llm_budget_calls (call_id, state, until) VALUES (p_call, 'c', greatest(p_dedupe, p_now)) ON CONFLICT (call_id) DO NOTHING;
  IF NOT FOUND THEN
    SELECT state, until INTO v_state, v_until FROM llm_budget_calls WHERE call_id = p_call FOR UPDATE;
    IF v_state = 'c' AND v_until > p_now THEN
      SELECT coalesce(jsonb_agg(jsonb_build_array(b->0, b->0, b->1) ORDER BY n), '[]'::jsonb) INTO v_balances
        FROM jsonb_array_elements(llm_budget_balances(p_keys, p_now)) WITH ORDINALITY AS e(b, n);
      RETURN jsonb_build_object('duplicate', true, 'balances', v_balances);
    END IF;
    UPDATE llm_budget_calls SET state = 'c', until = greatest(p_dedupe, p_now) WHERE call_id = p_call;
  END IF;
  -- Lock every key the call touches (its holds' and the entries') in one order, then drop its holds.
  INSERT INTO llm_budget_keys AS k (key, expires_at)
    SELECT a.key, a.expires_at FROM (
      SELECT u.key, u.expires_at FROM unnest(p_keys, p_expires) AS u(key, expires_at)
      UNION ALL
      SELECT h.key, NULL FROM llm_budget_holds h WHERE h.call_id = p_call AND NOT (h.key = ANY(p_keys))
    ) a ORDER BY a.key COLLATE "C"
    ON CONFLICT (key) DO UPDATE SET expires_at = k.expires_at;
  WITH gone AS (DELETE FROM llm_budget_holds WHERE call_id = p_call OR (key = ANY(p_keys) AND expires_at <= p_now) RETURNING key, amount)
  UPDATE llm_budget_keys k SET reserved = k.reserved - g.total
    FROM (SELECT key, sum(amount) AS total FROM gone GROUP BY key) g WHERE k.key = g.key;
  FOR i IN 1 .. coalesce(array_length(p_keys, 1), 0) LOOP
    UPDATE llm_budget_keys k SET
        spent = CASE WHEN k.expires_at IS NOT NULL AND k.expires_at <= p_now
                       AND NOT EXISTS (SELECT 1 FROM llm_budget_holds h WHERE h.key = k.key AND h.expires_at > p_now)
                     THEN 0 ELSE k.spent END + p_amounts[i],
        expires_at = CASE WHEN k.expires_at IS NOT NULL AND k.expires_at <= p_now
                            AND NOT EXISTS (SELECT 1 FROM llm_budget_holds h WHERE h.key = k.key AND h.expires_at > p_now) THEN p_expires[i]
                          WHEN k.expires_at IS NULL OR p_expires[i] IS NULL THEN NULL
                          ELSE greatest(k.expires_at, p_expires[i]) END
      WHERE k.key = p_keys[i]
      RETURNING spent, reserved INTO v_after, v_reserved;
    IF v_after > 9007199254740991 THEN
      RAISE EXCEPTION 'adding % to % would exceed the largest exact amount (9007199254740991)', p_amounts[i], p_keys[i]
        USING ERRCODE = 'LB002', DETAIL = 'entries[' || (i - 1) || '].amount';
    END IF;
    -- Expired holds on the key were dropped above: reserved is the sum of its live holds.
    v_balances := v_balances || jsonb_build_array(jsonb_build_array(v_after - p_amounts[i], v_after, v_reserved));
  END LOOP;
  IF p_log IS NOT NULL THEN
    v_log := jsonb_populate_record(NULL::llm_budget_spend_logs, p_log);
    -- The stored record keeps the caller's JSON text (key order included).
    v_log.record := p_record;
    INSERT INTO llm_budget_spend_logs SELECT v_log.* ON CONFLICT (request_id) DO NOTHING;
  END IF;
  IF p_rollups IS NOT NULL THEN
    INSERT INTO llm_budget_daily_spend AS d (day, scope, model, model_served, calls, input_tokens, output_tokens, spend_nano_usd, saved_nano_usd, estimated_calls)
      SELECT r.day, r.scope, r.model, r."modelServed", r.calls, r."inputTokens", r."outputTokens", r."costNanoUsd", r."savedNanoUsd", r."estimatedCalls"
      FROM jsonb_to_recordset(p_rollups) AS r(day date, scope text, model text, "modelServed" text, calls bigint, "inputTokens" bigint, "outputTokens" bigint, "costNanoUsd" bigint, "savedNanoUsd" bigint, "estimatedCalls" bigint)
      ORDER BY r.scope COLLATE "C", r.model, r."modelServed"
      ON CONFLICT (day, scope, model, model_served) DO UPDATE SET
        calls = d.calls + excluded.calls,
        input_tokens = d.input_tokens + excluded.input_tokens,
        output_tokens = d.output_tokens + excluded.output_tokens,
        spend_nano_usd = d.spend_nano_usd + excluded.spend_nano_usd,
        saved_nano_usd = d.saved_nano_usd + excluded.saved_nano_usd,
        estimated_calls = d.estimated_calls + excluded.estimated_calls;
  END IF;
  RETURN jsonb_build_object('duplicate', false, 'balances', v_balances);
END
$$;

-- Drops a call's holds. An unknown (or forgotten) call id leaves a tombstone until p_tombstone_until.
CREATE FUNCTION llm_budget_release(p_call text, p_now double precision, p_tombstone_until double precision) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  v_state "char";
  v_until double precision;
BEGIN
  INSERT INTO llm_budget_calls (call_id, state, until) VALUES (p_call, 'r', greatest(p_tombstone_until, p_now)) ON CONFLICT (call_id) DO NOTHING;
  IF FOUND THEN
    RETURN false;
  END IF;
  SELECT state, until INTO v_state, v_until FROM llm_budget_calls WHERE call_id = p_call FOR UPDATE;
  IF v_until <= p_now THEN
    PERFORM llm_budget_drop_holds(p_call);
    UPDATE llm_budget_calls SET state = 'r', until = greatest(p_tombstone_until, p_now) WHERE call_id = p_call;
    RETURN false;
  END IF;
  IF v_state <> 'h' THEN
    RETURN false;
  END IF;
  PERFORM llm_budget_drop_holds(p_call);
  UPDATE llm_budget_calls SET state = 'r', until = greatest(v_until, p_now) WHERE call_id = p_call;
  RETURN true;
END
$$;

-- Sets keys' spend to zero, keeping holds.
CREATE FUNCTION llm_budget_reset(p_keys text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM llm_budget_keys WHERE key = ANY(p_keys) ORDER BY key COLLATE "C" FOR UPDATE;
  UPDATE llm_budget_keys SET spent = 0 WHERE key = ANY(p_keys);
END
$$;

-- Writes or deletes a budget definition (optimistic revision check) and appends its history entry.
-- A deleted budget keeps a row with a NULL definition and revision 0, so every writer locks a row.
CREATE FUNCTION llm_budget_put_budget(p_scope text, p_definition json, p_now double precision, p_if_revision integer, p_history json) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
  v_row llm_budget_budgets%ROWTYPE;
  v_current json;
BEGIN
  INSERT INTO llm_budget_budgets (scope, definition, revision, created_at, updated_at) VALUES (p_scope, NULL, 0, p_now, p_now)
    ON CONFLICT (scope) DO NOTHING;
  SELECT * INTO v_row FROM llm_budget_budgets WHERE scope = p_scope FOR UPDATE;
  IF v_row.definition IS NOT NULL THEN
    v_current := json_build_object('scope', v_row.scope, 'definition', v_row.definition, 'revision', v_row.revision, 'createdAt', v_row.created_at, 'updatedAt', v_row.updated_at);
  END IF;
  IF p_if_revision IS NOT NULL AND v_row.revision <> p_if_revision THEN
    RETURN json_build_object('ok', false, 'current', v_current);
  END IF;
  INSERT INTO llm_budget_history (scope, at, entry) VALUES (p_scope, p_now, p_history);
  IF p_definition IS NULL THEN
    UPDATE llm_budget_budgets SET definition = NULL, revision = 0, updated_at = p_now WHERE scope = p_scope;
    RETURN json_build_object('ok', true, 'budget', NULL);
  END IF;
  UPDATE llm_budget_budgets SET definition = p_definition, revision = v_row.revision + 1,
      created_at = CASE WHEN v_row.definition IS NULL THEN p_now ELSE v_row.created_at END, updated_at = p_now
    WHERE scope = p_scope RETURNING * INTO v_row;
  RETURN json_build_object('ok', true, 'budget', json_build_object('scope', v_row.scope, 'definition', v_row.definition, 'revision', v_row.revision, 'createdAt', v_row.created_at, 'updatedAt', v_row.updated_at));
END
$$;

-- Housekeeping, at most once a minute per store: forgets finished call ids and expired holds and keys, and applies
-- the retention of spend logs (by count and by age) and of daily rollups, moving the coverage marks.
CREATE FUNCTION llm_budget_prune(p_now double precision, p_max_records bigint, p_record_cutoff double precision, p_rollup_cutoff date) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_latest double precision;
  v_day date;
BEGIN
  DELETE FROM llm_budget_calls WHERE until <= p_now AND state <> 'h';
  PERFORM 1 FROM llm_budget_keys WHERE key IN (SELECT key FROM llm_budget_holds WHERE expires_at <= p_now) ORDER BY key COLLATE "C" FOR UPDATE;
  WITH gone AS (DELETE FROM llm_budget_holds WHERE expires_at <= p_now RETURNING key, amount)
  UPDATE llm_budget_keys k SET reserved = k.reserved - g.total
    FROM (SELECT key, sum(amount) AS total FROM gone GROUP BY key) g WHERE k.key = g.key;
  DELETE FROM llm_budget_calls c WHERE c.state = 'h' AND c.until <= p_now AND NOT EXISTS (SELECT 1 FROM llm_budget_holds h WHERE h.call_id = c.call_id);
  DELETE FROM llm_budget_keys k WHERE k.expires_at <= p_now AND NOT EXISTS (SELECT 1 FROM llm_budget_holds h WHERE h.key = k.key);
  IF p_record_cutoff IS NOT NULL THEN
    WITH gone AS (DELETE FROM llm_budget_spend_logs WHERE ended_at_ms < p_record_cutoff RETURNING ended_at_ms)
    SELECT max(ended_at_ms) INTO v_latest FROM gone;
    IF v_latest IS NOT NULL THEN
      INSERT INTO llm_budget_meta AS m VALUES ('records_from', v_latest + 1) ON CONFLICT (name) DO UPDATE SET value = greatest(m.value, excluded.value);
    END IF;
  END IF;
  IF p_max_records IS NOT NULL THEN
    WITH gone AS (
      DELETE FROM llm_budget_spend_logs WHERE request_id IN (
        SELECT request_id FROM llm_budget_spend_logs ORDER BY ended_at_ms DESC, request_id DESC OFFSET p_max_records)
      RETURNING ended_at_ms)
    SELECT max(ended_at_ms) INTO v_latest FROM gone;
    IF v_latest IS NOT NULL THEN
      INSERT INTO llm_budget_meta AS m VALUES ('records_from', v_latest + 1) ON CONFLICT (name) DO UPDATE SET value = greatest(m.value, excluded.value);
    END IF;
  END IF;
  IF p_rollup_cutoff IS NOT NULL THEN
    WITH gone AS (DELETE FROM llm_budget_daily_spend WHERE day < p_rollup_cutoff RETURNING day)
    SELECT max(day) INTO v_day FROM gone;
    IF v_day IS NOT NULL THEN
      INSERT INTO llm_budget_meta AS m VALUES ('rollups_from', extract(epoch FROM (v_day + 1)::timestamp AT TIME ZONE 'UTC') * 1000)
        ON CONFLICT (name) DO UPDATE SET value = greatest(m.value, excluded.value);
    END IF;
  END IF;
END
$$;
`
