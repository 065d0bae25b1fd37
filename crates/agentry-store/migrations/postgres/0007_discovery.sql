-- Workflow discovery (discovery.md, "agentry additions"): the `query` input is ranked full text
-- over a workflow's name, description and tags. Kept in step with
-- migrations/sqlite/0007_discovery.sql; as in 0005_registry, the search structures differ by
-- design (a generated tsvector column here, an FTS5 table there) and the schema test skips them.
-- Capabilities are not stored: they are derived from the nodes and edges when discovery runs
-- (see agentry-service's discovery module), so they can never be stale.

ALTER TABLE workflows ADD COLUMN search_tsv tsvector GENERATED ALWAYS AS (
    to_tsvector('english', name || ' ' || description || ' ' || coalesce(tags::text, ''))
) STORED;
CREATE INDEX workflows_search_idx ON workflows USING GIN (search_tsv);

-- Per-workflow execution metrics (§3) read executions by workflow and status.
CREATE INDEX executions_workflow_status_idx ON executions(workflow_id, status);
