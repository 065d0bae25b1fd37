-- Workflow discovery (discovery.md, "agentry additions"): the `query` input is ranked full text
-- over a workflow's name, description and tags. Kept in step with
-- migrations/postgres/0007_discovery.sql; as in 0005_registry, the search structures differ by
-- design (an FTS5 table here, a generated tsvector column there) and the schema test skips them.
-- Capabilities are not stored: they are derived from the nodes and edges when discovery runs
-- (see agentry-service's discovery module), so they can never be stale.

CREATE VIRTUAL TABLE workflows_fts USING fts5(
    name, description, tags,
    content='workflows', content_rowid='id', tokenize='porter unicode61'
);
INSERT INTO workflows_fts(rowid, name, description, tags)
    SELECT id, name, description, coalesce(tags, '') FROM workflows;
CREATE TRIGGER workflows_fts_insert AFTER INSERT ON workflows BEGIN
    INSERT INTO workflows_fts(rowid, name, description, tags)
    VALUES (new.id, new.name, new.description, coalesce(new.tags, ''));
END;
CREATE TRIGGER workflows_fts_delete AFTER DELETE ON workflows BEGIN
    INSERT INTO workflows_fts(workflows_fts, rowid, name, description, tags)
    VALUES ('delete', old.id, old.name, old.description, coalesce(old.tags, ''));
END;
CREATE TRIGGER workflows_fts_update AFTER UPDATE OF name, description, tags ON workflows BEGIN
    INSERT INTO workflows_fts(workflows_fts, rowid, name, description, tags)
    VALUES ('delete', old.id, old.name, old.description, coalesce(old.tags, ''));
    INSERT INTO workflows_fts(rowid, name, description, tags)
    VALUES (new.id, new.name, new.description, coalesce(new.tags, ''));
END;

-- Per-workflow execution metrics (§3) read executions by workflow and status.
CREATE INDEX executions_workflow_status_idx ON executions(workflow_id, status);
