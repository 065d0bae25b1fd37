-- Task registry (registry.md §1-2): epics and their tasks, with full-text search.
-- Kept in step with migrations/postgres/0005_registry.sql (tests compare the schemas; the
-- search structures differ by design: an FTS5 table here, a tsvector column there).
--
-- `seq` is the rowid alias: the FTS5 tables are external-content tables keyed by it (a table
-- without an INTEGER PRIMARY KEY may have its rowids renumbered by VACUUM), and it breaks ties
-- between rows created in the same millisecond. `id` is the public `ep-`/`tk-` ULID.
-- Money is DOUBLE PRECISION: every spend is recomputed from the task rows and rounded to 6
-- decimals on write, so float error never accumulates, and the API serializes floats anyway.
-- `prior_*`: what earlier attempts of a retried task cost (registry.md §7), so engine sync can
-- set actual = prior + this execution's usage however often it runs.
-- `memory_text`: the epic's procedural memory (§9) as text, searchable with the epic.

CREATE TABLE epics (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',
    created_by_node_id TEXT,
    workflow_id BIGINT REFERENCES workflows(id) ON DELETE SET NULL,
    user_profile_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    status TEXT NOT NULL DEFAULT 'planning',
    priority BIGINT NOT NULL DEFAULT 2,
    budget_tokens BIGINT,
    budget_usd DOUBLE PRECISION,
    spent_tokens BIGINT NOT NULL DEFAULT 0,
    spent_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
    agent_overhead_tokens BIGINT NOT NULL DEFAULT 0,
    agent_overhead_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
    total_tasks BIGINT NOT NULL DEFAULT 0,
    completed_tasks BIGINT NOT NULL DEFAULT 0,
    failed_tasks BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    completed_at BIGINT,
    result_summary TEXT,
    memory_text TEXT NOT NULL DEFAULT ''
);
CREATE INDEX epics_owner_idx ON epics(user_profile_id, created_at);
CREATE INDEX epics_created_idx ON epics(created_at);
CREATE INDEX epics_workflow_idx ON epics(workflow_id);

CREATE TABLE tasks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    epic_id TEXT NOT NULL REFERENCES epics(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',
    created_by_node_id TEXT,
    status TEXT NOT NULL DEFAULT 'pending',
    priority BIGINT NOT NULL DEFAULT 2,
    workflow_id BIGINT REFERENCES workflows(id) ON DELETE SET NULL,
    workflow_slug TEXT,
    execution_id TEXT,
    workflow_source TEXT NOT NULL DEFAULT 'inline',
    depends_on TEXT NOT NULL DEFAULT '[]',
    requirements TEXT,
    estimated_tokens BIGINT,
    actual_tokens BIGINT NOT NULL DEFAULT 0,
    actual_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
    llm_calls BIGINT NOT NULL DEFAULT 0,
    tool_invocations BIGINT NOT NULL DEFAULT 0,
    duration_ms BIGINT NOT NULL DEFAULT 0,
    prior_tokens BIGINT NOT NULL DEFAULT 0,
    prior_usd DOUBLE PRECISION NOT NULL DEFAULT 0,
    prior_llm_calls BIGINT NOT NULL DEFAULT 0,
    prior_tool_invocations BIGINT NOT NULL DEFAULT 0,
    prior_duration_ms BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    started_at BIGINT,
    completed_at BIGINT,
    result_summary TEXT,
    error_message TEXT,
    retry_count BIGINT NOT NULL DEFAULT 0,
    max_retries BIGINT NOT NULL DEFAULT 2,
    notes TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX tasks_epic_idx ON tasks(epic_id, created_at);
CREATE INDEX tasks_status_idx ON tasks(status, created_at);
CREATE INDEX tasks_execution_idx ON tasks(execution_id);
CREATE INDEX tasks_workflow_idx ON tasks(workflow_id);

-- Full-text search: external-content FTS5 tables over the searchable columns, kept in sync by
-- triggers. Updates only touch the index when a searchable column is written (roll-ups that
-- rewrite counters do not).
CREATE VIRTUAL TABLE epics_fts USING fts5(
    title, description, tags, result_summary, memory_text,
    content='epics', content_rowid='seq', tokenize='porter unicode61'
);
CREATE TRIGGER epics_fts_insert AFTER INSERT ON epics BEGIN
    INSERT INTO epics_fts(rowid, title, description, tags, result_summary, memory_text)
    VALUES (new.seq, new.title, new.description, new.tags, new.result_summary, new.memory_text);
END;
CREATE TRIGGER epics_fts_delete AFTER DELETE ON epics BEGIN
    INSERT INTO epics_fts(epics_fts, rowid, title, description, tags, result_summary, memory_text)
    VALUES ('delete', old.seq, old.title, old.description, old.tags, old.result_summary, old.memory_text);
END;
CREATE TRIGGER epics_fts_update AFTER UPDATE OF title, description, tags, result_summary, memory_text ON epics BEGIN
    INSERT INTO epics_fts(epics_fts, rowid, title, description, tags, result_summary, memory_text)
    VALUES ('delete', old.seq, old.title, old.description, old.tags, old.result_summary, old.memory_text);
    INSERT INTO epics_fts(rowid, title, description, tags, result_summary, memory_text)
    VALUES (new.seq, new.title, new.description, new.tags, new.result_summary, new.memory_text);
END;

CREATE VIRTUAL TABLE tasks_fts USING fts5(
    title, description, tags, result_summary, notes,
    content='tasks', content_rowid='seq', tokenize='porter unicode61'
);
CREATE TRIGGER tasks_fts_insert AFTER INSERT ON tasks BEGIN
    INSERT INTO tasks_fts(rowid, title, description, tags, result_summary, notes)
    VALUES (new.seq, new.title, new.description, new.tags, new.result_summary, new.notes);
END;
CREATE TRIGGER tasks_fts_delete AFTER DELETE ON tasks BEGIN
    INSERT INTO tasks_fts(tasks_fts, rowid, title, description, tags, result_summary, notes)
    VALUES ('delete', old.seq, old.title, old.description, old.tags, old.result_summary, old.notes);
END;
CREATE TRIGGER tasks_fts_update AFTER UPDATE OF title, description, tags, result_summary, notes ON tasks BEGIN
    INSERT INTO tasks_fts(tasks_fts, rowid, title, description, tags, result_summary, notes)
    VALUES ('delete', old.seq, old.title, old.description, old.tags, old.result_summary, old.notes);
    INSERT INTO tasks_fts(rowid, title, description, tags, result_summary, notes)
    VALUES (new.seq, new.title, new.description, new.tags, new.result_summary, new.notes);
END;
