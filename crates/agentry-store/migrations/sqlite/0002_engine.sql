-- Engine: executions (with their graph snapshot and durable context), node runs (logs), the
-- job queue, wait records and pending confirmations.
-- Kept in step with migrations/postgres/0002_engine.sql (tests compare the schemas).

CREATE TABLE executions (
    id TEXT PRIMARY KEY,
    workflow_id BIGINT NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    workflow_slug TEXT NOT NULL,
    user_profile_id BIGINT REFERENCES users(id),
    status TEXT NOT NULL,
    trigger_node_id TEXT,
    trigger_payload TEXT NOT NULL,
    snapshot TEXT NOT NULL,
    state TEXT NOT NULL,
    book TEXT NOT NULL,
    final_output TEXT,
    error_message TEXT NOT NULL DEFAULT '',
    parent_execution_id TEXT,
    parent_node_id TEXT NOT NULL DEFAULT '',
    root_execution_id TEXT NOT NULL,
    spawn_key TEXT UNIQUE,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    completed_at BIGINT,
    total_input_tokens BIGINT NOT NULL DEFAULT 0,
    total_output_tokens BIGINT NOT NULL DEFAULT 0,
    total_tokens BIGINT NOT NULL DEFAULT 0,
    total_cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
    llm_calls BIGINT NOT NULL DEFAULT 0,
    tool_invocations BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX executions_workflow_idx ON executions(workflow_id, created_at);
CREATE INDEX executions_user_idx ON executions(user_profile_id, created_at);
CREATE INDEX executions_parent_idx ON executions(parent_execution_id);
CREATE INDEX executions_status_idx ON executions(status);

CREATE TABLE node_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id TEXT NOT NULL REFERENCES executions(id) ON DELETE CASCADE,
    node_id TEXT NOT NULL,
    status TEXT NOT NULL,
    input TEXT,
    output TEXT,
    error TEXT NOT NULL DEFAULT '',
    error_code TEXT NOT NULL DEFAULT '',
    metadata TEXT NOT NULL,
    duration_ms BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX node_runs_execution_idx ON node_runs(execution_id, id);

CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    execution_id TEXT REFERENCES executions(id) ON DELETE CASCADE,
    node_id TEXT NOT NULL DEFAULT '',
    payload TEXT NOT NULL,
    run_at BIGINT NOT NULL,
    lease_until BIGINT,
    lease_owner TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX jobs_due_idx ON jobs(run_at, id);
CREATE INDEX jobs_execution_idx ON jobs(execution_id);

CREATE TABLE waits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id TEXT NOT NULL REFERENCES executions(id) ON DELETE CASCADE,
    node_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    deadline BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX waits_execution_idx ON waits(execution_id, node_id);

CREATE TABLE confirmations (
    id TEXT PRIMARY KEY,
    execution_id TEXT NOT NULL REFERENCES executions(id) ON DELETE CASCADE,
    node_id TEXT NOT NULL,
    phase TEXT NOT NULL,
    prompt TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX confirmations_execution_idx ON confirmations(execution_id);
