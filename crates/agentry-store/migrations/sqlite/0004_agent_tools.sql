-- Agent tools. Memory (tools.md §6 `recall` / `remember`, registry.md §9): facts keyed per owner
-- (fact types such as world_knowledge, user_preference, procedure) and episodes (one summary
-- per finished agent run that had memory tools). Replaces 0003's unused free-text table.
-- Kept in step with migrations/postgres/0004_agent_tools.sql (tests compare the schemas).

DROP TABLE memories;

CREATE TABLE memories (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    fact_type TEXT NOT NULL,
    confidence DOUBLE PRECISION NOT NULL DEFAULT 1.0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX memories_owner_key_idx ON memories(owner_id, kind, key);
CREATE INDEX memories_owner_recent_idx ON memories(owner_id, kind, updated_at);

-- platform_api keys live as long as their execution and are deleted by name when it ends.
CREATE INDEX api_keys_name_idx ON api_keys(name);
