-- Foundation: users, API keys, workflows (nodes, edges) and the event outbox.
-- Kept in step with migrations/postgres/0001_foundation.sql (tests compare the schemas).
-- Timestamps are UTC milliseconds since the epoch; JSON is TEXT here, JSONB on PostgreSQL.

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'normal',
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    mfa_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    expires_at BIGINT,
    is_active BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE INDEX api_keys_user_idx ON api_keys(user_id);

CREATE TABLE workflows (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id BIGINT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    is_public BOOLEAN NOT NULL DEFAULT FALSE,
    is_default BOOLEAN NOT NULL DEFAULT FALSE,
    is_callable BOOLEAN NOT NULL DEFAULT TRUE,
    tags TEXT,
    error_handler_workflow_id BIGINT REFERENCES workflows(id) ON DELETE SET NULL,
    forked_from_id BIGINT REFERENCES workflows(id) ON DELETE SET NULL,
    max_execution_seconds BIGINT NOT NULL DEFAULT 600,
    input_schema TEXT,
    output_schema TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX workflows_owner_idx ON workflows(owner_id, created_at);
CREATE INDEX workflows_error_handler_idx ON workflows(error_handler_workflow_id);
CREATE INDEX workflows_forked_from_idx ON workflows(forked_from_id);

CREATE TABLE nodes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow_id BIGINT NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    node_id TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    component_type TEXT NOT NULL,
    is_entry_point BOOLEAN NOT NULL DEFAULT FALSE,
    interrupt_before BOOLEAN NOT NULL DEFAULT FALSE,
    interrupt_after BOOLEAN NOT NULL DEFAULT FALSE,
    position_x BIGINT NOT NULL DEFAULT 0,
    position_y BIGINT NOT NULL DEFAULT 0,
    config TEXT NOT NULL,
    subworkflow_id BIGINT REFERENCES workflows(id) ON DELETE SET NULL,
    code_block_id BIGINT,
    updated_at BIGINT NOT NULL,
    UNIQUE (workflow_id, node_id)
);
CREATE INDEX nodes_subworkflow_idx ON nodes(subworkflow_id);

CREATE TABLE edges (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow_id BIGINT NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    source_node_id TEXT NOT NULL,
    target_node_id TEXT NOT NULL DEFAULT '',
    edge_type TEXT NOT NULL DEFAULT 'direct',
    edge_label TEXT NOT NULL DEFAULT '',
    condition_mapping TEXT,
    condition_value TEXT NOT NULL DEFAULT '',
    priority BIGINT NOT NULL DEFAULT 0,
    UNIQUE (workflow_id, source_node_id, target_node_id, edge_type, edge_label, condition_value)
);

CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    execution_id TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX events_channel_idx ON events(channel, id);
CREATE INDEX events_created_idx ON events(created_at);
