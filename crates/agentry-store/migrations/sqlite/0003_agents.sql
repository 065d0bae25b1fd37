-- Agents: LLM credentials (secrets encrypted by the service before they get here), agent
-- checkpoints (one row per conversation thread) and per-user memories.
-- Kept in step with migrations/postgres/0003_agents.sql (tests compare the schemas).

CREATE TABLE credentials (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id BIGINT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    credential_type TEXT NOT NULL,
    detail TEXT NOT NULL,
    secret TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX credentials_owner_idx ON credentials(owner_id, id);

CREATE TABLE checkpoints (
    thread_id TEXT PRIMARY KEY,
    execution_id TEXT REFERENCES executions(id) ON DELETE CASCADE,
    node_id TEXT NOT NULL DEFAULT '',
    data TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX checkpoints_execution_idx ON checkpoints(execution_id);

CREATE TABLE memories (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id BIGINT NOT NULL REFERENCES users(id),
    content TEXT NOT NULL,
    tags TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX memories_owner_idx ON memories(owner_id, id);
